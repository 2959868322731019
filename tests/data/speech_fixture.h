// A tiny speech pair set for the tests, in the layout of scripts/speech_data.py: "speech" made
// of two gliding tones under a syllable-like envelope, and the same plus white noise at 5 dB.
#pragma once
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/audio.h"

namespace duel::test {

inline void write_speech_fixture(const std::filesystem::path& dir, int train = 4, int test = 2, int64_t length = 4000) {
  std::filesystem::create_directories(dir / "train");
  std::filesystem::create_directories(dir / "test");
  std::ofstream manifest(dir / "manifest.tsv");
  manifest << "# duel speech pairs (test fixture)\n";
  uint32_t state = 777;
  auto uniform = [&] {
    state = state * 1664525u + 1013904223u;
    return (state >> 8) * (1.0 / 16777216.0);
  };
  for (int k = 0; k < train + test; ++k) {
    const bool is_test = k >= train;
    const std::string split = is_test ? "test" : "train", id = "000" + std::to_string(k);
    std::vector<float> clean(length), noisy(length);
    double power = 0;
    for (int64_t t = 0; t < length; ++t) {
      const double s = t / 16000.0, env = std::pow(std::sin(M_PI * 6.0 * s), 2.0);
      clean[t] = (float)(0.3 * env * (std::sin(2 * M_PI * (200 + 40 * k + 300 * s) * s) + 0.5 * std::sin(2 * M_PI * 900 * s)));
      power += (double)clean[t] * clean[t];
    }
    const double sigma = std::sqrt(power / length / std::pow(10.0, 0.5));  // 5 dB
    for (int64_t t = 0; t < length; ++t) noisy[t] = clean[t] + (float)(sigma * std::sqrt(3.0) * (2 * uniform() - 1));
    write_wav((dir / split / (id + "_clean.wav")).string(), clean, kSpeechRate);
    write_wav((dir / split / (id + "_noisy.wav")).string(), noisy, kSpeechRate);
    manifest << split << "\t" << id << "\tfixture\t160\t50\twhite\t5\tgliding tones " << k << "\n";
  }
}

}  // namespace duel::test
