// WAV files, the speech pair sets of scripts/speech_data.py and the enhancement measures
// (data/audio.h), against hand-derived values.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>

#include "data/audio.h"
#include "tensor/error.h"
#include "tensor/ops/reduction.h"
#include "tests/data/speech_fixture.h"
#include "tests/train/run_files.h"
#include "tests/error_of.h"

using namespace duel;
using test::error_of;

TEST_CASE("audio: WAV files round-trip, and bad ones are refused with the reason", "[data][audio]") {
  test::TempDir tmp("duel_audio_wav");
  const std::string path = (tmp.dir / "a.wav").string();
  std::vector<float> x = {0.0f, 0.5f, -0.5f, 0.999f, -1.0f, 0.25f, 1.5f};  // 1.5 is clipped
  write_wav(path, x, 16000);
  CHECK(std::filesystem::file_size(path) == 44 + 2 * x.size());
  Wav w = read_wav(path);
  CHECK(w.rate == 16000);
  REQUIRE(w.samples.size() == x.size());
  for (size_t i = 0; i + 1 < x.size(); ++i) CHECK(std::abs(w.samples[i] - x[i]) <= 1.0f / 32768);
  CHECK(w.samples.back() == Approx(32767.0 / 32768));

  std::ofstream(path, std::ios::binary) << "RIFX....WAVE";
  CHECK_THAT(error_of([&] { read_wav(path); }), Catch::Contains("not a RIFF/WAVE"));
  // a stereo header: byte 22 is the channel count
  write_wav(path, x, 16000);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(22);
    f.put(2);
  }
  CHECK_THAT(error_of([&] { read_wav(path); }), Catch::Contains("one channel") && Catch::Contains("2 channels"));
  // a data chunk that announces more than the file holds
  write_wav(path, x, 16000);
  std::filesystem::resize_file(path, 44 + 4);
  CHECK_THAT(error_of([&] { read_wav(path); }), Catch::Contains("truncated"));
  CHECK_THAT(error_of([&] { read_wav((tmp.dir / "none.wav").string()); }), Catch::Contains("cannot open"));
}

TEST_CASE("audio: segmental SNR, pre-emphasis and the spectrogram against hand-derived values", "[data][audio]") {
  std::vector<float> c(16000), half(16000), zero(16000, 0.0f);
  for (int t = 0; t < 16000; ++t) c[t] = (float)std::sin(2 * M_PI * 440 * t / 16000.0), half[t] = 0.5f * c[t];
  CHECK(segmental_snr(c, c) == Approx(35.0));               // clipped at 35 dB
  CHECK(segmental_snr(c, zero) == Approx(0.0).margin(1e-6));  // error = signal: 0 dB
  CHECK(segmental_snr(c, half) == Approx(20 * std::log10(2.0)).epsilon(1e-6));  // error = signal / 2: 6.02 dB
  std::vector<float> loud(16000);
  for (int t = 0; t < 16000; ++t) loud[t] = c[t] * 1000.0f;
  CHECK(segmental_snr(c, loud) == Approx(-10.0));  // clipped at -10 dB
  CHECK_THAT(error_of([&] { segmental_snr(c, std::vector<float>(10)); }), Catch::Contains("differ in length"));

  std::vector<float> y = pre_emphasis(c, 0.95);
  CHECK(y[1] == Approx(c[1] - 0.95 * c[0]));
  std::vector<float> back = de_emphasis(y, 0.95);
  for (int t = 0; t < 16000; t += 997) CHECK(back[t] == Approx(c[t]).margin(1e-5));
  // a bias of 0.001 in the pre-emphasised domain comes back as 0.001 / (1 - 0.95) = 0.02 of DC
  std::vector<float> biased = y;
  for (float& v : biased) v += 0.001f;
  std::vector<float> drift = de_emphasis(biased, 0.95);
  CHECK(drift[15999] - c[15999] == Approx(0.02).epsilon(1e-3));
  CHECK(remove_dc({1.0f, 2.0f, 6.0f}) == std::vector<float>{-2.0f, -1.0f, 3.0f});
  CHECK(remove_dc({}).empty());

  // a tone at bin 20 (20 * 16000 / 512 = 625 Hz) peaks in row 20 of every frame
  std::vector<float> tone(4096);
  for (int t = 0; t < 4096; ++t) tone[t] = (float)std::sin(2 * M_PI * 20 * t / 512.0);
  Tensor s = log_spectrogram(tone);
  REQUIRE(s.sizes() == Shape{257, 1 + (4096 - 512) / 128});
  Tensor peak = argmax(s, 0);
  for (int64_t k : peak.to_vector<int64_t>()) CHECK(k == 20);
}

TEST_CASE("audio: a speech pair set is read and checked", "[data][audio]") {
  test::TempDir tmp("duel_audio_set");
  test::write_speech_fixture(tmp.dir);
  SpeechSet set = load_speech_set(tmp.dir.string());
  CHECK(set.train.size() == 4);
  REQUIRE(set.test.size() == 2);
  CHECK(set.test[0].noise == "white");
  CHECK(set.test[0].snr_db == 5.0);
  CHECK(segmental_snr(set.test[0].clean, set.test[0].noisy) < 10.0);
  // a noisy file of another length
  write_wav((tmp.dir / "test" / "0004_noisy.wav").string(), std::vector<float>(100, 0.0f), kSpeechRate);
  CHECK_THAT(error_of([&] { load_speech_set(tmp.dir.string()); }), Catch::Contains("the same, non-zero length"));
  CHECK_THAT(error_of([&] { load_speech_set((tmp.dir / "nowhere").string()); }),
             Catch::Contains("scripts/speech_data.py") && Catch::Contains("espeak-ng"));
}

TEST_CASE("audio: apply_in_windows joins windows side by side or by Hann-weighted overlap-add", "[data][audio]") {
  const int64_t W = 8;
  auto identity = [&](const float* in, int64_t b, float* out) { std::copy(in, in + b * W, out); };
  for (int64_t n : {1, 5, 8, 13, 16, 37}) {
    std::vector<float> x((size_t)n);
    for (int64_t t = 0; t < n; ++t) x[t] = (float)std::sin(0.7 * (double)t) + 0.1f * (float)t;
    for (int64_t hop : {W, W / 2}) {
      std::vector<float> y = apply_in_windows(x, W, hop, 3, identity);
      REQUIRE(y.size() == x.size());
      for (int64_t t = 0; t < n; ++t) CHECK(y[t] == Approx(x[t]).margin(1e-6));
    }
  }
  // Each window's output is its own index k. Side by side, sample t comes from window t / W.
  // With hop W/2 (x padded by W/2 in front) window k covers padded samples [4k, 4k + 8): its Hann
  // weight peaks (1) at x index 4k, where window k + 1's weight is 0, so y[4k] = k exactly;
  // halfway between two peaks the two weights are equal: y[4k + 2] = k + 1/2.
  int64_t calls = 0, first = 0;
  auto index = [&](const float*, int64_t b, float* out) {
    ++calls;
    CHECK(b <= 2);
    for (int64_t i = 0; i < b; ++i) std::fill(out + i * W, out + (i + 1) * W, (float)(first + i));
    first += b;
  };
  std::vector<float> x(20, 0.f);
  std::vector<float> side = apply_in_windows(x, W, W, 2, index);
  CHECK(calls == 2);  // 3 windows in batches of at most 2
  for (int64_t t = 0; t < 20; ++t) CHECK(side[t] == (float)(t / W));
  calls = 0, first = 0;
  std::vector<float> ola = apply_in_windows(x, W, W / 2, 2, index);
  CHECK(calls == 3);  // (4 + 20) / 4 = 6 windows
  for (int64_t k = 0; k < 5; ++k) {
    CHECK(ola[4 * k] == Approx((double)k).margin(1e-6));
    CHECK(ola[4 * k + 2] == Approx((double)k + 0.5).margin(1e-6));
  }
  CHECK_THROWS_WITH(apply_in_windows(x, W, 3, 2, identity), Catch::Contains("apply_in_windows: hop 3"));
}
