// WAV files, speech pair sets and enhancement measures (data/audio.h).
#include "data/audio.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tensor/error.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/linalg.h"
#include "tensor/ops/reduction.h"
#include "tensor/serialize.h"

namespace duel {
namespace {

uint32_t u32(const unsigned char* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t)p[3] << 24); }
uint16_t u16(const unsigned char* p) { return (uint16_t)(p[0] | (p[1] << 8)); }
void put32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back((char)((v >> (8 * i)) & 0xff));
}
void put16(std::string& s, uint16_t v) {
  s.push_back((char)(v & 0xff));
  s.push_back((char)(v >> 8));
}

}  // namespace

Wav read_wav(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  DUEL_CHECK(in.good(), "wav: cannot open '", path, "'");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  DUEL_CHECK(bytes.size() >= 12 && std::memcmp(b, "RIFF", 4) == 0 && std::memcmp(b + 8, "WAVE", 4) == 0, "wav '", path,
             "': not a RIFF/WAVE file");
  Wav w;
  bool fmt = false;
  for (size_t off = 12; off + 8 <= bytes.size();) {
    const uint32_t size = u32(b + off + 4);
    const size_t body = off + 8;
    if (std::memcmp(b + off, "fmt ", 4) == 0) {
      DUEL_CHECK(size >= 16 && body + 16 <= bytes.size(), "wav '", path, "': truncated fmt chunk");
      const uint16_t format = u16(b + body), channels = u16(b + body + 2), bits = u16(b + body + 14);
      DUEL_CHECK(format == 1 && channels == 1 && bits == 16, "wav '", path,
                 "': expected 16-bit PCM with one channel, got format ", format, ", ", channels, " channels, ", bits,
                 " bits");
      w.rate = u32(b + body + 4);
      fmt = true;
    } else if (std::memcmp(b + off, "data", 4) == 0) {
      DUEL_CHECK(fmt, "wav '", path, "': the data chunk comes before the fmt chunk");
      DUEL_CHECK(body + size <= bytes.size() && size % 2 == 0, "wav '", path, "': the data chunk is truncated (",
                 size, " bytes announced, ", bytes.size() - body, " present)");
      w.samples.resize(size / 2);
      for (size_t i = 0; i < w.samples.size(); ++i) w.samples[i] = (float)(int16_t)u16(b + body + 2 * i) / 32768.0f;
      return w;
    }
    off = body + size + (size & 1);
  }
  DUEL_FAIL("wav '", path, "': ", fmt ? "no data chunk" : "no fmt chunk");
}

void write_wav(const std::string& path, const std::vector<float>& samples, int64_t rate) {
  std::string s = "RIFF";
  const uint32_t data = (uint32_t)(samples.size() * 2);
  put32(s, 36 + data);
  s += "WAVEfmt ";
  put32(s, 16);
  put16(s, 1);
  put16(s, 1);
  put32(s, (uint32_t)rate);
  put32(s, (uint32_t)rate * 2);
  put16(s, 2);
  put16(s, 16);
  s += "data";
  put32(s, data);
  for (float x : samples) {
    const float c = std::clamp(x, -1.0f, 1.0f);
    put16(s, (uint16_t)(int16_t)std::lrint(std::min(c * 32768.0f, 32767.0f)));
  }
  write_file_atomic(path, s.data(), s.size(), "write_wav");
}

const std::vector<SpeechUtterance>& SpeechSet::split(const std::string& which) const {
  DUEL_CHECK(which == "train" || which == "test", "speech set: unknown split '", which, "' (expected train or test)");
  return which == "train" ? train : test;
}

SpeechSet load_speech_set(const std::string& given) {
  SpeechSet set;
  set.dir = given;
  if (const char* env = std::getenv(kSpeechDirEnv); env && *env && given == kDefaultSpeechDir) set.dir = env;
  const std::string manifest = set.dir + "/manifest.tsv";
  DUEL_CHECK(std::filesystem::exists(manifest), "speech set '", set.dir,
             "': no manifest.tsv; write the pairs with /usr/bin/python3 scripts/speech_data.py --out ", set.dir,
             " (needs bible-kjv, espeak-ng and sox)");
  std::ifstream in(manifest);
  int64_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::istringstream ls(line);
    for (std::string x; std::getline(ls, x, '\t');) f.push_back(x);
    DUEL_CHECK(f.size() == 8, "speech set '", manifest, "', line ", line_no,
               ": expected 8 tab-separated fields (split, id, voice, rate, pitch, noise, snr_db, text), got ", f.size());
    DUEL_CHECK(f[0] == "train" || f[0] == "test", "speech set '", manifest, "', line ", line_no,
               ": split must be train or test, got '", f[0], "'");
    SpeechUtterance u;
    u.id = f[1], u.voice = f[2], u.noise = f[5], u.text = f[7];
    u.snr_db = std::atof(f[6].c_str());
    const std::string base = set.dir + "/" + f[0] + "/" + f[1];
    Wav clean = read_wav(base + "_clean.wav"), noisy = read_wav(base + "_noisy.wav");
    DUEL_CHECK(clean.rate == kSpeechRate && noisy.rate == kSpeechRate, "speech set: ", base, "_*.wav: expected ",
               kSpeechRate, " Hz, got ", clean.rate, " and ", noisy.rate);
    DUEL_CHECK(clean.samples.size() == noisy.samples.size() && !clean.samples.empty(), "speech set: ", base,
               "_clean.wav and _noisy.wav must have the same, non-zero length (", clean.samples.size(), " and ",
               noisy.samples.size(), " samples)");
    u.clean = std::move(clean.samples);
    u.noisy = std::move(noisy.samples);
    (f[0] == "train" ? set.train : set.test).push_back(std::move(u));
  }
  DUEL_CHECK(!set.train.empty() || !set.test.empty(), "speech set '", set.dir, "': the manifest lists no utterance");
  return set;
}

double segmental_snr(const std::vector<float>& clean, const std::vector<float>& estimate, int64_t rate) {
  DUEL_CHECK(clean.size() == estimate.size(), "segmental_snr: the signals differ in length (", clean.size(), " and ",
             estimate.size(), ")");
  const int64_t frame = rate * 30 / 1000, hop = frame / 4, n = (int64_t)clean.size();
  double total = 0;
  int64_t frames = 0;
  for (int64_t s = 0; s + frame <= n; s += hop, ++frames) {
    double sig = 0, err = 0;
    for (int64_t i = s; i < s + frame; ++i) {
      sig += (double)clean[i] * clean[i];
      const double e = (double)clean[i] - estimate[i];
      err += e * e;
    }
    const double snr = 10.0 * std::log10(sig / (err + 1e-10) + 1e-10);
    total += std::clamp(snr, -10.0, 35.0);
  }
  DUEL_CHECK(frames > 0, "segmental_snr: a signal of ", n, " samples is shorter than one frame (", frame, ")");
  return total / (double)frames;
}

Tensor log_spectrogram(const std::vector<float>& x) {
  const int64_t N = 512, hop = 128, F = N / 2 + 1;
  const int64_t frames = x.size() >= (size_t)N ? 1 + ((int64_t)x.size() - N) / hop : 0;
  DUEL_CHECK(frames > 0, "log_spectrogram: a signal of ", x.size(), " samples is shorter than one window (512)");
  std::vector<float> framed(frames * N), cosm(N * F), sinm(N * F);
  for (int64_t t = 0; t < frames; ++t)
    for (int64_t i = 0; i < N; ++i)
      framed[t * N + i] = x[t * hop + i] * (float)(0.5 - 0.5 * std::cos(2 * M_PI * i / N));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t k = 0; k < F; ++k) {
      cosm[i * F + k] = (float)std::cos(2 * M_PI * i * k / N);
      sinm[i * F + k] = (float)std::sin(2 * M_PI * i * k / N);
    }
  Tensor fr = from_vector(framed, {frames, N});
  Tensor re = matmul(fr, from_vector(cosm, {N, F})), im = matmul(fr, from_vector(sinm, {N, F}));
  Tensor db = log(re * re + im * im + 1e-12) * (10.0 / std::log(10.0));  // [frames, F]
  const double top = max(db).item();
  return clamp(db, top - 80.0, top).t().contiguous();
}

std::vector<float> pre_emphasis(const std::vector<float>& x, double a) {
  std::vector<float> y(x.size());
  for (size_t t = 0; t < x.size(); ++t) y[t] = x[t] - (float)a * (t ? x[t - 1] : 0.0f);
  return y;
}

std::vector<float> de_emphasis(const std::vector<float>& y, double a) {
  std::vector<float> x(y.size());
  float prev = 0.0f;
  for (size_t t = 0; t < y.size(); ++t) prev = x[t] = y[t] + (float)a * prev;
  return x;
}

std::vector<float> remove_dc(std::vector<float> x) {
  if (x.empty()) return x;
  double sum = 0;
  for (float v : x) sum += v;
  const float mean = (float)(sum / (double)x.size());
  for (float& v : x) v -= mean;
  return x;
}

std::vector<float> apply_in_windows(const std::vector<float>& x, int64_t W, int64_t hop, int64_t batch,
                                    const std::function<void(const float*, int64_t, float*)>& f) {
  DUEL_CHECK(W > 0 && batch > 0, "apply_in_windows: window ", W, " and batch ", batch, " must be positive");
  DUEL_CHECK(hop == W || (hop * 2 == W), "apply_in_windows: hop ", hop, " must be the window (", W,
             ") or half of it");
  const bool overlap = hop != W;
  const int64_t n = (int64_t)x.size(), front = overlap ? hop : 0;
  if (n == 0) return {};
  const int64_t windows = (front + n + hop - 1) / hop;
  std::vector<float> padded((size_t)((windows - 1) * hop + W), 0.f);
  std::copy(x.begin(), x.end(), padded.begin() + front);
  std::vector<double> weight((size_t)W, 1.0);
  if (overlap)
    for (int64_t t = 0; t < W; ++t) weight[t] = 0.5 - 0.5 * std::cos(2.0 * M_PI * (double)t / (double)W);
  std::vector<double> sum(padded.size(), 0.0), wsum(padded.size(), 0.0);
  std::vector<float> in, out;
  for (int64_t k = 0; k < windows; k += batch) {
    const int64_t b = std::min(batch, windows - k);
    in.resize((size_t)(b * W));
    out.assign((size_t)(b * W), 0.f);
    for (int64_t i = 0; i < b; ++i) std::copy_n(padded.begin() + (k + i) * hop, W, in.begin() + i * W);
    f(in.data(), b, out.data());
    for (int64_t i = 0; i < b; ++i)
      for (int64_t t = 0; t < W; ++t) {
        sum[(k + i) * hop + t] += weight[t] * out[i * W + t];
        wsum[(k + i) * hop + t] += weight[t];
      }
  }
  std::vector<float> y((size_t)n);
  for (int64_t t = 0; t < n; ++t) y[t] = wsum[front + t] > 1e-6 ? (float)(sum[front + t] / wsum[front + t]) : 0.f;
  return y;
}

}  // namespace duel
