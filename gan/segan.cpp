// SEGAN: Speech Enhancement Generative Adversarial Network (Pascual, Bonafonte and Serra 2017),
// survey section 5.7.
//
// G maps a window of noisy speech x~ (and a latent z) to an estimate of the clean speech x. It
// is a fully convolutional encoder-decoder on the waveform: strided 1-D convolutions (width 31,
// stride 2, PReLU) halve the length layer by layer, z ~ N(0, I) is concatenated to the
// bottleneck, and transposed convolutions double it back, each decoder layer receiving the
// mirror encoder layer's output through a skip connection (concatenated), the last one ending
// in tanh. D sees pairs (x, x~) or (G(z, x~), x~) as two channels, through the same kind of
// encoder (LeakyReLU 0.3), then a 1x1 convolution to one channel and a linear layer to a score.
// Least-squares GAN losses (Mao et al.) and an L1 term:
//
//   repeat
//     (x, x~) <- a batch of windows of clean and noisy speech (pre-emphasised, 0.95)
//     z ~ N(0, I)
//     D: minimise 1/2 E[(D(x, x~) - 1)^2] + 1/2 E[D(G(z, x~), x~)^2]
//     G: minimise 1/2 E[(D(G(z, x~), x~) - 1)^2] + lambda ||G(z, x~) - x||_1       (lambda = 100)
//
// --mode l1 trains G on the L1 term alone (no D): the same network as plain regression, to
// measure what the adversarial term adds. At evaluation each test utterance is cut into
// windows (no overlap, the paper's; the last one zero-padded), enhanced window by window with a
// fresh z, joined, de-emphasised and its DC removed (de-emphasis turns a small bias of G's
// output into a large offset: data/audio.h, remove_dc; the paper does not say it removes DC).
// `duel eval` reports segmental SNR of the noisy input and of the enhanced speech, writes the
// enhanced WAVs (run/enhanced/) for scripts/speech_eval.py (PESQ, STOI, and the Wiener-filter
// baseline) and spectrograms of an example, and does the same for a second version whose
// windows start every W/2 and are joined by Hann-weighted overlap-add (run/enhanced-ola/).
//
// Scaled to a CPU budget (the paper's values in brackets): windows of 8192 samples at 16 kHz
// [16384], 8 encoder layers with 8-128 channels [11 with 16-1024], batch 16 [400], no virtual
// batch norm in D [VBN]; RMSprop 2e-4, lambda 100, pre-emphasis 0.95 and the LSGAN targets are
// the paper's.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "data/audio.h"
#include "data/image.h"
#include "dist/dist.h"
#include "gan/losses.h"
#include "gan/models.h"
#include "nn/nn.h"
#include "tensor/ops/loss.h"
#include "tensor/serialize.h"

namespace duel::gan {
namespace {

using train::Checkpointable;
using train::Metrics;
using train::Options;
using train::Run;

constexpr double kPreEmphasis = 0.95;

// The paper's channel progression (16, 32, 32, 64, 64, 128, 128, 256, 256, 512, 1024) scaled by
// base / 16, first `layers` of it.
std::vector<int64_t> encoder_channels(int64_t base, int64_t layers) {
  const int64_t mult[11] = {1, 2, 2, 4, 4, 8, 8, 16, 16, 32, 64};
  std::vector<int64_t> c;
  for (int64_t i = 0; i < layers; ++i) c.push_back(base * mult[i]);
  return c;
}

class SeganGenerator : public nn::Module {
 public:
  SeganGenerator(const std::vector<int64_t>& ch) : ch_(ch) {
    int64_t in = 1;
    for (size_t i = 0; i < ch.size(); ++i) {
      enc.push_back(register_module("enc" + std::to_string(i), std::make_shared<nn::Conv1d>(in, ch[i], 31, 2, 15)));
      enc_act.push_back(register_module("enc_act" + std::to_string(i), std::make_shared<nn::PReLU>(ch[i])));
      in = ch[i];
    }
    // decoder layer i maps (its input ++ skip) to the channels of encoder layer i - 1 (1 for i = 0)
    for (int64_t i = (int64_t)ch.size() - 1; i >= 0; --i) {
      const int64_t out = i == 0 ? 1 : ch[i - 1];
      dec.push_back(register_module("dec" + std::to_string(i),
                                    std::make_shared<nn::ConvTranspose1d>(2 * ch[i], out, 31, 2, 15, 1)));
      if (i > 0) dec_act.push_back(register_module("dec_act" + std::to_string(i), std::make_shared<nn::PReLU>(out)));
    }
  }
  // noisy [B, 1, W] (W a multiple of 2^layers), z [B, C_last, W / 2^layers] -> [B, 1, W]
  Tensor enhance(const Tensor& noisy, const Tensor& z) {
    std::vector<Tensor> skips;
    Tensor h = noisy;
    for (size_t i = 0; i < enc.size(); ++i) {
      h = (*enc_act[i])((*enc[i])(h));
      skips.push_back(h);
    }
    h = cat({h, z}, 1);
    for (size_t j = 0; j < dec.size(); ++j) {
      h = (*dec[j])(h);
      const size_t i = enc.size() - 1 - j;  // this decoder layer's output mirrors encoder layer i - 1
      if (i == 0) return tanh(h);
      h = cat({(*dec_act[j])(h), skips[i - 1]}, 1);
    }
    return h;
  }
  Tensor forward(const Tensor& noisy) override { return enhance(noisy, zeros(z_shape(noisy.size(0), noisy.size(2)))); }
  Shape z_shape(int64_t batch, int64_t window) const {
    return {batch, ch_.back(), window >> (int64_t)ch_.size()};
  }

 private:
  std::vector<int64_t> ch_;
  std::vector<std::shared_ptr<nn::Conv1d>> enc;
  std::vector<std::shared_ptr<nn::ConvTranspose1d>> dec;
  std::vector<std::shared_ptr<nn::PReLU>> enc_act, dec_act;
};

class SeganDiscriminator : public nn::Module {
 public:
  SeganDiscriminator(const std::vector<int64_t>& ch, int64_t window) {
    int64_t in = 2;
    for (size_t i = 0; i < ch.size(); ++i) {
      convs.push_back(register_module("conv" + std::to_string(i), std::make_shared<nn::Conv1d>(in, ch[i], 31, 2, 15)));
      in = ch[i];
    }
    squeeze = register_module("squeeze", std::make_shared<nn::Conv1d>(in, 1, 1));
    out = register_module("out", std::make_shared<nn::Linear>(window >> (int64_t)ch.size(), 1));
  }
  // [B, 2, W] (speech, noisy) -> score [B]
  Tensor forward(const Tensor& pair) override {
    Tensor h = pair;
    for (auto& c : convs) h = leaky_relu((*c)(h), 0.3);
    h = leaky_relu((*squeeze)(h), 0.3);
    return (*out)(h.reshape({h.size(0), -1})).squeeze(1);
  }

 private:
  std::vector<std::shared_ptr<nn::Conv1d>> convs;
  std::shared_ptr<nn::Conv1d> squeeze;
  std::shared_ptr<nn::Linear> out;
};

class Segan : public train::Model {
 public:
  explicit Segan(const Options& o)
      : device(o.text("device")),
        seed((uint64_t)o.integer("seed")),
        data_dir(o.text("data")),
        gan_mode(o.text("mode") == "gan"),
        B(o.integer("batch")),
        W(o.integer("window")),
        lambda(o.real("lambda")),
        eval_utterances(o.integer("eval-utterances")),
        crops(seed + 1),
        noise(seed + 2) {
    const auto ch = encoder_channels(o.integer("base-channels"), o.integer("layers"));
    DUEL_CHECK(W % (int64_t(1) << ch.size()) == 0, "segan: --window ", W, " must be a multiple of 2^--layers = ",
               int64_t(1) << ch.size());
    manual_seed(seed);
    G = std::make_shared<SeganGenerator>(ch);
    G->to(device);
    opt_G = std::make_unique<optim::RMSprop>(G->parameters(), optim::RMSpropOptions{.lr = o.real("lr")});
    if (gan_mode) {
      D = std::make_shared<SeganDiscriminator>(ch, W);
      D->to(device);
      opt_D = std::make_unique<optim::RMSprop>(D->parameters(), optim::RMSpropOptions{.lr = o.real("lr")});
    }
  }

  void state(Checkpointable& s) override {
    s.add("G", *G);
    s.add("opt_G", *opt_G);
    if (gan_mode) {
      s.add("D", *D);
      s.add("opt_D", *opt_D);
    }
    s.add("crops", crops);
    s.add("noise", noise);
  }

  void step(int64_t) override {
    const SpeechSet& set = speech();
    DUEL_CHECK(!set.train.empty(), "segan: the speech set '", set.dir, "' has no training utterances");
    if (train_pre.empty())  // the training speech pre-emphasised once, clean and noisy
      for (const auto& u : set.train)
        train_pre.push_back({pre_emphasis(u.clean, kPreEmphasis), pre_emphasis(u.noisy, kPreEmphasis)});
    // a batch of random windows (pre-emphasised), zero-padded where an utterance is shorter
    std::vector<float> clean(B * W, 0.f), noisy(B * W, 0.f);
    // (with N data-parallel ranks every rank draws the global batch's N * B crops and noise and
    // takes its own B, so N ranks see what one process with the whole batch would)
    const int64_t ranks = dist::world_size(), rank = dist::rank();
    auto u = rand({2 * B * ranks}, TensorOptions(kFloat64), &crops).narrow(0, 2 * B * rank, 2 * B).to_vector<double>();
    for (int64_t b = 0; b < B; ++b) {
      const auto& [pc, pn] = train_pre[std::min<size_t>(train_pre.size() - 1, (size_t)(u[2 * b] * train_pre.size()))];
      const int64_t n = (int64_t)pc.size(), room = std::max<int64_t>(0, n - W);
      const int64_t start = std::min<int64_t>(room, (int64_t)(u[2 * b + 1] * (double)(room + 1)));
      const int64_t len = std::min(W, n - start);
      std::copy(pc.begin() + start, pc.begin() + start + len, clean.begin() + b * W);
      std::copy(pn.begin() + start, pn.begin() + start + len, noisy.begin() + b * W);
    }
    Tensor x = from_vector(clean, {B, 1, W}).to(device), xn = from_vector(noisy, {B, 1, W}).to(device);
    Tensor z = randn(G->z_shape(B * ranks, W), TensorOptions(kFloat32), &noise).narrow(0, B * rank, B).contiguous().to(device);
    Tensor enhanced = G->enhance(xn, z);
    loss_l1 = l1_loss(enhanced, x);
    Tensor loss = lambda * loss_l1;
    if (gan_mode) {
      Tensor d_loss = least_squares_d_loss((*D)(cat({x, xn}, 1)), (*D)(cat({enhanced.detach(), xn}, 1)));
      opt_D->zero_grad();
      d_loss.backward();
      opt_D->step();
      loss_D = d_loss.item();
      loss_adv = least_squares_g_loss((*D)(cat({enhanced, xn}, 1)));
      loss = loss + loss_adv;
    }
    opt_G->zero_grad();
    loss.backward();
    opt_G->step();  // (D's parameters also got the G loss's gradient: opt_D->zero_grad() clears it)
  }

  Metrics values() override {
    Metrics m = {{"l1", loss_l1.item()}};
    if (gan_mode) {
      m.push_back({"loss_D", loss_D});
      m.push_back({"loss_adv", loss_adv.item()});
    }
    return m;
  }
  std::vector<std::string> plotted() const override { return {"l1", "ssnr"}; }

  Metrics snapshot(Run& run, int64_t) override {
    const SpeechSet& set = speech();
    if (set.test.empty()) return {};
    double s = 0;
    const int64_t n = std::min<int64_t>(eval_utterances, (int64_t)set.test.size());
    std::vector<float> first;
    for (int64_t i = 0; i < n; ++i) {
      std::vector<float> e = remove_dc(enhance(set.test[i].noisy));
      s += segmental_snr(set.test[i].clean, e);
      if (i == 0) first = std::move(e);
    }
    write_spectrograms(run.path("samples_latest.png"), set.test[0], first);
    return {{"ssnr", s / (double)n}};
  }

  void evaluate(Run& run, const train::EvalRequest& r) override {
    const SpeechSet& set = speech();
    DUEL_CHECK(!set.test.empty(), "segan eval: the speech set '", set.dir, "' has no test utterances");
    auto meta = read_checkpoint_meta(run.path("checkpoint.duel"));
    const int64_t n = r.n > 0 ? std::min<int64_t>(r.n, (int64_t)set.test.size()) : (int64_t)set.test.size();
    std::printf("run %s (model segan, mode %s, step %s, %s CPU seconds of training)\n", run.dir().c_str(),
                gan_mode ? "gan" : "l1", meta["step"].c_str(),
                meta.count("cpu_seconds") ? meta["cpu_seconds"].c_str() : "?");
    std::filesystem::create_directories(run.path("enhanced"));
    std::filesystem::create_directories(run.path("enhanced-ola"));
    double noisy_ssnr = 0, raw_ssnr = 0, enhanced_ssnr = 0, ola_ssnr = 0;
    std::vector<float> first;
    for (int64_t i = 0; i < n; ++i) {
      const auto& u = set.test[i];
      std::vector<float> raw = enhance(u.noisy);
      std::vector<float> e = remove_dc(raw);
      std::vector<float> ola = remove_dc(enhance(u.noisy, /*overlap_add=*/true));
      noisy_ssnr += segmental_snr(u.clean, u.noisy);
      raw_ssnr += segmental_snr(u.clean, raw);
      enhanced_ssnr += segmental_snr(u.clean, e);
      ola_ssnr += segmental_snr(u.clean, ola);
      write_wav(run.path("enhanced/" + u.id + ".wav"), e, kSpeechRate);
      write_wav(run.path("enhanced-ola/" + u.id + ".wav"), ola, kSpeechRate);
      if (i == 0) first = std::move(e);
    }
    std::printf("test set %s: %lld utterances (unseen sentences, voices, noises and SNRs)\n", set.dir.c_str(),
                (long long)n);
    std::printf("%-34s %7.3f dB\n", "segmental SNR, noisy input", noisy_ssnr / (double)n);
    std::printf("%-34s %7.3f dB   (windows side by side, the paper's)\n", "segmental SNR, enhanced",
                enhanced_ssnr / (double)n);
    std::printf("%-34s %7.3f dB   (windows every W/2, Hann-weighted overlap-add)\n",
                "segmental SNR, overlap-add", ola_ssnr / (double)n);
    std::printf("%-34s %7.3f dB   (G's de-emphasised output before its DC is removed)\n",
                "segmental SNR, enhanced with DC", raw_ssnr / (double)n);
    write_spectrograms(run.path("spectrograms.png"), set.test[0], first);
    std::printf("enhanced speech: %s/*.wav (overlap-add: %s/*.wav); spectrograms (noisy, enhanced, clean): %s\n",
                run.path("enhanced").c_str(), run.path("enhanced-ola").c_str(), run.path("spectrograms.png").c_str());
  }

 private:
  const SpeechSet& speech() {
    if (!set_) set_ = std::make_unique<SpeechSet>(load_speech_set(data_dir));
    return *set_;
  }

  // A whole utterance through G, window by window (data/audio.h, apply_in_windows), with the
  // pre-emphasis undone: the enhanced waveform, as long as the input. overlap_add false: the
  // paper's test procedure, windows side by side; the joins show as a seam every W samples,
  // where G saw the least context. true: windows every W/2, joined by Hann-weighted overlap-add.
  std::vector<float> enhance(const std::vector<float>& noisy, bool overlap_add = false) {
    NoGradGuard ng;
    G->eval();
    Generator g(seed + 4242);
    std::vector<float> out = apply_in_windows(
        pre_emphasis(noisy, kPreEmphasis), W, overlap_add ? W / 2 : W, 16,
        [&](const float* windows, int64_t b, float* enhanced) {
          Tensor xn = from_vector(std::vector<float>(windows, windows + b * W), {b, 1, W});
          Tensor e = G->enhance(xn.to(device), randn(G->z_shape(b, W), TensorOptions(kFloat32), &g).to(device));
          auto v = e.to(kCPU).to_vector<float>();
          std::copy(v.begin(), v.end(), enhanced);
        });
    G->train();
    return de_emphasis(out, kPreEmphasis);
  }

  // Log spectrograms of the noisy, enhanced and clean versions of `u`, stacked top to bottom.
  static void write_spectrograms(const std::string& path, const SpeechUtterance& u, const std::vector<float>& enhanced) {
    std::vector<Tensor> rows;
    for (const auto* s : {&u.noisy, &enhanced, &u.clean}) {
      Tensor db = log_spectrogram(*s);
      const double hi = max(db).item(), lo = hi - 80.0;
      rows.push_back(flip(db, {0}) * (2.0 / (hi - lo)) - (2.0 * lo / (hi - lo) + 1.0));  // low frequencies at the bottom
    }
    save_png(path, cat(rows, 0).unsqueeze(0));
  }

  Device device;
  uint64_t seed;
  std::string data_dir;
  bool gan_mode;
  int64_t B, W;
  double lambda;
  int64_t eval_utterances;
  Generator crops, noise;
  std::unique_ptr<SpeechSet> set_;
  std::vector<std::pair<std::vector<float>, std::vector<float>>> train_pre;  // (clean, noisy), pre-emphasised
  std::shared_ptr<SeganGenerator> G;
  std::shared_ptr<SeganDiscriminator> D;
  std::unique_ptr<optim::RMSprop> opt_G, opt_D;
  Tensor loss_l1, loss_adv;
  double loss_D = 0;
};

}  // namespace

train::ModelInfo segan_model() {
  train::ModelInfo info;
  info.name = "segan";
  info.section = "5.7";
  info.paper = "Pascual et al. 2017, SEGAN: Speech Enhancement Generative Adversarial Network";
  info.summary = "1-D conv encoder-decoder with skips, LSGAN on (speech, noisy) pairs + 100 L1; segmental SNR";
  info.defaults = {.steps = 2000, .log_every = 20, .sample_every = 250, .checkpoint_every = 100};
  info.options = {
      train::Option::text("data", "", kDefaultSpeechDir,
                          "folder of noisy/clean pairs (scripts/speech_data.py; $DUEL_SPEECH_DIR)"),
      train::Option::choice("mode", "", "gan", {"gan", "l1"}, "gan: LSGAN + lambda L1; l1: the L1 regression alone"),
      train::Option::integer("batch", "", 16, 1, 4096, "windows per step"),
      train::Option::integer("window", "", 8192, 16, 1 << 20, "samples per window (16 kHz)"),
      train::Option::integer("layers", "", 8, 1, 11, "encoder layers (the paper: 11)"),
      train::Option::integer("base-channels", "", 8, 1, 1024, "first encoder layer's channels (the paper: 16)"),
      train::Option::real("lambda", "lambda", 100.0, 0, 1e6, "weight of the L1 term"),
      train::Option::real("lr", "", 2e-4, 0, 1, "RMSprop learning rate of G and D", /*open_low=*/true),
      train::Option::integer("eval-utterances", "", 16, 1, INT64_MAX, "test utterances scored at each snapshot"),
  };
  info.test_options = {{"batch", "2"}, {"window", "64"}, {"layers", "3"}, {"base-channels", "2"}, {"eval-utterances", "2"}};
  info.generator = false;  // it enhances given speech: `duel eval` writes the enhanced WAVs
  info.make = [](const Options& o) { return std::make_unique<Segan>(o); };
  return info;
}

}  // namespace duel::gan
