// Audio for the speech-enhancement model (SEGAN, gan/segan.cpp, survey section 5.7): WAV
// files (16-bit PCM, mono), the noisy/clean pairs written by scripts/speech_data.py, and the
// measures of enhancement.
//
// A pair set is a folder with manifest.tsv (split, id, voice, rate, pitch, noise, snr_db, text;
// '#' lines first) and <split>/<id>_clean.wav, <split>/<id>_noisy.wav of equal length at
// 16 kHz. $DUEL_SPEECH_DIR names the folder when --data is the default (data/speech).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace duel {

inline constexpr const char* kDefaultSpeechDir = "data/speech";
inline constexpr const char* kSpeechDirEnv = "DUEL_SPEECH_DIR";
inline constexpr int64_t kSpeechRate = 16000;

struct Wav {
  int64_t rate = 0;
  std::vector<float> samples;  // in [-1, 1)
};

// Reads a RIFF/WAVE file of 16-bit PCM, one channel. Throws duel::Error naming the file and
// what is wrong (not RIFF/WAVE, no fmt or data chunk, another format, channel count or sample
// size, a truncated data chunk).
Wav read_wav(const std::string& path);
// Writes 16-bit PCM mono (samples clipped to [-1, 1]), atomically (a temporary file renamed).
void write_wav(const std::string& path, const std::vector<float>& samples, int64_t rate);

struct SpeechUtterance {
  std::string id, voice, noise, text;
  double snr_db = 0;
  std::vector<float> clean, noisy;
};

struct SpeechSet {
  std::string dir;
  std::vector<SpeechUtterance> train, test;
  const std::vector<SpeechUtterance>& split(const std::string& which) const;
};

// Reads a pair set (see above). Every WAV is checked: 16 kHz, clean and noisy of one length.
// A missing folder is an error that names scripts/speech_data.py.
SpeechSet load_speech_set(const std::string& dir);

// Segmental SNR in dB of `estimate` against `clean` (as in Loizou's composite measures, which
// the SEGAN paper reports): frames of 30 ms with 75 % overlap, each frame's SNR clipped to
// [-10, 35] dB, the mean over frames.
double segmental_snr(const std::vector<float>& clean, const std::vector<float>& estimate, int64_t rate = kSpeechRate);

// The log-magnitude spectrogram of a signal (Hann window of 512, hop 128), float
// [257 frequencies, frames], in dB, clipped to 80 dB below its maximum: for pictures.
Tensor log_spectrogram(const std::vector<float>& x);

// y[t] = x[t] - a x[t - 1] (pre-emphasis, SEGAN's 0.95) and its inverse.
std::vector<float> pre_emphasis(const std::vector<float>& x, double a);
std::vector<float> de_emphasis(const std::vector<float>& y, double a);

// x minus its mean (DC removal). De-emphasis is an integrator with gain 1 / (1 - a) = 20 at
// 0 Hz, so a constant bias of b in a pre-emphasised estimate becomes an offset of 20 b in the
// waveform; speech has no DC, and removing it uses nothing but the estimate itself.
std::vector<float> remove_dc(std::vector<float> x);

// Runs a window-to-window function over a whole signal and joins its outputs, as long as x.
// `f(windows, count, out)` maps `count` windows of W samples (back to back) to as many outputs.
//   hop == W:     windows side by side, the tail zero-padded (SEGAN's test procedure).
//   hop == W / 2: windows every W/2 samples, x padded by W/2 zeros in front, each output weighted
//                 by a periodic Hann window (two such windows overlapping by half sum to 1) and
//                 the weights divided out, so each sample comes mostly from a window's middle.
// f sees at most `batch` windows per call. Other hops are an error.
std::vector<float> apply_in_windows(const std::vector<float>& x, int64_t W, int64_t hop, int64_t batch,
                                    const std::function<void(const float*, int64_t, float*)>& f);

}  // namespace duel
