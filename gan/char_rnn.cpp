// Generating Sequences With Recurrent Neural Networks (Graves 2013), survey section 2.2:
// character-level text prediction (the paper's section 3) on a real corpus (data/text.h: the
// King James Bible from Debian's bible-kjv by default).
//
// The network (the paper's equations 1-5, Figure 1): N recurrent layers with skip connections.
// The input x_t (a one-hot character) feeds every layer, every layer feeds the next, and all
// layers feed the output:
//
//   h^1_t = H(W_{i h^1} x_t + W_{h^1 h^1} h^1_{t-1} + b^1)
//   h^n_t = H(W_{i h^n} x_t + W_{h^{n-1} h^n} h^{n-1}_t + W_{h^n h^n} h^n_{t-1} + b^n)
//   y_t   = b_y + sum_n W_{h^n y} h^n_t,        Pr(x_{t+1} | y_t) = softmax(y_t)
//   L(x)  = - sum_t log Pr(x_{t+1} | y_t)       (reported per character in bits: bpc)
//
// with H an LSTM cell (the paper's equations 7-11, without the peephole weights) or, with
// --cell gru, a GRU cell. Training is truncated backpropagation through time: each iteration
// takes the next T characters of B parallel streams of the training text (data/text.h
// TextStream), starts from the state the previous iteration ended in (detached: gradients stop
// at the segment's start) and takes one gradient step.
//
//   repeat
//     (x_{1..T}, x_{2..T+1}) <- next segment of every stream; at an epoch's start h_0 <- 0
//     run the network from h_0 over x_{1..T}; loss <- L / (T B)
//     g <- grad loss, clipped to norm --clip
//     theta <- Adam(theta, g);  h_0 <- h_T (detached)
//
// Differences from the paper, for a one-core CPU budget: 2 layers of 128 units instead of 7 of
// 700; Adam instead of RMSprop with momentum; gradient-norm clipping of the whole gradient
// instead of clipping the LSTM's pre-activation derivatives to [-1, 1]; no weight noise.
// `duel eval` reports bits per character on the whole validation and test splits (the paper:
// 1.67 bpc on Wikipedia) and samples at several temperatures.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "data/text.h"
#include "dist/dist.h"
#include "gan/models.h"
#include "gan/nets.h"
#include "nn/nn.h"
#include "tensor/ops/loss.h"
#include "tensor/serialize.h"

namespace duel::gan {
namespace {

using train::Checkpointable;
using train::Metrics;
using train::Options;
using train::Run;

class CharRnn : public train::Model {
 public:
  explicit CharRnn(const Options& o)
      : device(o.text("device")),
        seed((uint64_t)o.integer("seed")),
        corpus(load_text_corpus(o.text("data"))),
        T(o.integer("bptt")),
        B(o.integer("batch")),
        clip(o.real("clip")),
        val_chars(o.integer("val-chars")),
        stream(corpus.split("train"), o.integer("batch"), o.integer("bptt"), "char-rnn training text") {
    manual_seed(seed);
    net = std::make_shared<SkipRnn>(corpus.vocab_size(), o.integer("hidden"), o.integer("layers"),
                                    o.text("cell") == "lstm");
    net->to(device);
    opt = std::make_unique<optim::Adam>(net->parameters(), optim::AdamOptions{.lr = o.real("lr")});
  }

  void state(Checkpointable& s) override {
    s.add("rnn", *net);
    s.add("opt", *opt);
    s.add("data_position", stream.position, 0, stream.batches_per_epoch());
    s.add("data_epoch", stream.epoch, 0, INT64_MAX);
    // the state carried between segments: part of the run, so that a resumed run continues
    // exactly (none at the start of an epoch). Saved for all the streams of the global batch,
    // [batch * ranks, hidden] per tensor (data-parallel: gathered by before_checkpoint()), so
    // that a run resumed with the same global number of streams, on any number of ranks, gives
    // every rank the rows of its own streams.
    s.add_tensors(
        "carry",
        [this] {
          const RnnState& all = dist::is_distributed() ? carry_all : carry;
          std::map<std::string, Tensor> m;
          for (size_t n = 0; n < all.h.size(); ++n) m["h" + std::to_string(n)] = all.h[n];
          for (size_t n = 0; n < all.c.size(); ++n) m["c" + std::to_string(n)] = all.c[n];
          return m;
        },
        [this](const std::map<std::string, Tensor>& m) {
          carry = {};
          const int64_t streams = B * dist::world_size();
          for (auto& [k, t] : m)
            if (t.dim() != 2 || t.size(0) != streams) {
              if (dist::is_root())
                std::printf("char-rnn: the checkpoint carries the state of %lld streams, this run has %lld (--batch "
                            "%lld x %d ranks); the carried state restarts from zero\n",
                            (long long)(t.dim() ? t.size(0) : 0), (long long)streams, (long long)B,
                            dist::world_size());
              return;
            }
          auto mine = [&](const Tensor& t) { return t.narrow(0, B * dist::rank(), B).contiguous().to(device); };
          for (size_t n = 0; m.count("h" + std::to_string(n)); ++n) carry.h.push_back(mine(m.at("h" + std::to_string(n))));
          for (size_t n = 0; m.count("c" + std::to_string(n)); ++n) carry.c.push_back(mine(m.at("c" + std::to_string(n))));
        });
  }

  // Every rank's carried state into carry_all, [batch * ranks, hidden] per tensor, rows in the
  // order of the streams (rank r's are rows r * batch ..).
  void before_checkpoint() override {
    carry_all = {};
    for (const Tensor& h : carry.h) carry_all.h.push_back(dist::all_gather_rows(h));
    for (const Tensor& c : carry.c) carry_all.c.push_back(dist::all_gather_rows(c));
  }

  void step(int64_t) override {
    auto [x, y] = stream.next();
    if (stream.new_epoch()) carry = {};  // h_0 <- 0 at the start of the text
    RnnState s = carry;
    Tensor logits = net->run(x.to(device), s);
    loss = cross_entropy(logits.reshape({T * B, corpus.vocab_size()}), y.to(device).reshape({T * B}));
    opt->zero_grad();
    loss.backward();
    opt->sync_gradients();  // data-parallel: clip the averaged gradient, as one process would
    grad_norm = clip > 0 ? nn::clip_grad_norm_(net->parameters(), clip) : 0.0;
    opt->step();
    carry = s.detached();  // h_0 of the next segment; gradients stop here (truncation)
  }

  Metrics values() override {
    return {{"bpc", loss.item() / std::log(2.0)}, {"grad_norm", grad_norm}, {"epoch", (double)stream.epoch}};
  }
  std::vector<std::string> plotted() const override { return {"bpc", "val_bpc"}; }

  Metrics snapshot(Run& run, int64_t step) override {
    const double v = bits_per_char(corpus.split("val"), val_chars);
    Generator gen(seed + 777);  // the same draws at every snapshot
    const std::string text = generate(prompt("\n"), 300, 1.0, gen);
    for (const std::string& f : {"samples_" + pad(step) + ".txt", std::string("samples_latest.txt")}) {
      write_file_atomic(run.path(f), text.data(), text.size(), "char-rnn snapshot");
    }
    return {{"val_bpc", v}};
  }

  // n samples of 200 characters at temperature 1, each from a newline (a verse's start).
  Tensor sample(int64_t n, Generator& gen) override {
    std::vector<int64_t> all;
    for (int64_t i = 0; i < n; ++i) {
      Tensor ids = corpus.encode(generate(prompt("\n"), 200, 1.0, gen));
      for (int64_t id : ids.to_vector<int64_t>()) all.push_back(id);
    }
    return from_vector(all, {n, 200}, TensorOptions(kInt64));
  }

  // `duel sample`: n samples of 200 characters, one paragraph each.
  void write_samples(int64_t n, Generator& gen, const std::string& path) override {
    std::string text;
    for (int64_t i = 0; i < n; ++i) text += generate(prompt("\n"), 200, 1.0, gen) + "\n\n";
    write_file_atomic(path, text.data(), text.size(), "duel sample");
  }
  std::string sample_file_extension() const override { return ".txt"; }

  void evaluate(Run& run, const train::EvalRequest&) override {
    auto meta = read_checkpoint_meta(run.path("checkpoint.duel"));
    std::printf("run %s (model char-rnn, step %s, %s CPU seconds of training)\n", run.dir().c_str(),
                meta["step"].c_str(), meta.count("cpu_seconds") ? meta["cpu_seconds"].c_str() : "?");
    std::printf("%s, %lld layers of %lld; corpus %s: %lld characters, %lld symbols, FNV-1a %016llx\n",
                net->lstm ? "LSTM" : "GRU", (long long)net->cells.size(), (long long)net->H, corpus.name.c_str(),
                (long long)corpus.size(), (long long)corpus.vocab_size(), (unsigned long long)corpus.hash);
    const int64_t nv = corpus.val_end - corpus.train_end, nt = corpus.size() - corpus.val_end;
    std::printf("%-22s %8.4f bpc   (%lld characters)\n", "validation", bits_per_char(corpus.split("val"), nv),
                (long long)nv);
    std::printf("%-22s %8.4f bpc   (%lld characters)\n", "test", bits_per_char(corpus.split("test"), nt),
                (long long)nt);
    Generator gen(seed + 4242);
    const std::string start = prompt("And ");
    for (double tau : {0.5, 0.8, 1.0}) {
      std::printf("\nsample at temperature %.1f, after \"%s\":\n%s%s\n", tau, start.c_str(), start.c_str(),
                  generate(start, 400, tau, gen).c_str());
    }
  }

 private:
  static std::string pad(int64_t step) {
    char b[32];
    std::snprintf(b, sizeof b, "%07lld", (long long)step);
    return b;
  }

  // Bits per character of the model on the first `limit` characters of `ids`, read as up to 10
  // streams of at least 10000 characters each (one for shorter text), in segments of T with
  // the state carried from the stream's start (the characters of a stream's last partial
  // segment are left out: fewer than 10 T in all).
  double bits_per_char(const Tensor& ids, int64_t limit) {
    NoGradGuard ng;
    net->eval();
    Tensor part = ids.narrow(0, 0, std::min(limit, ids.size(0)));
    const int64_t streams = std::clamp<int64_t>(part.size(0) / 10000, 1, 10);
    TextStream eval_stream(part, streams, std::min(T, (part.size(0) - 1) / streams), "char-rnn evaluation text");
    double nats = 0;
    int64_t chars = 0;
    RnnState s;
    for (int64_t k = 0; k < eval_stream.batches_per_epoch(); ++k) {
      auto [x, y] = eval_stream.next();
      Tensor logits = net->run(x.to(device), s);
      nats +=
          cross_entropy(logits.reshape({-1, corpus.vocab_size()}), y.to(device).reshape({-1}), Reduction::Sum).item();
      chars += y.numel();
    }
    net->train();
    return nats / chars / std::log(2.0);
  }

  // `preferred` if the corpus has all its characters, else the corpus's first character.
  std::string prompt(const std::string& preferred) const {
    for (unsigned char ch : preferred)
      if (corpus.ids[ch] < 0) return corpus.text.substr(0, 1);
    return preferred;
  }

  // `length` characters drawn after `prompt` from Pr(x_{t+1} | y_t) ^ (1 / tau) (renormalised).
  std::string generate(const std::string& prompt, int64_t length, double tau, Generator& gen) {
    NoGradGuard ng;
    net->eval();
    RnnState s;
    Tensor logits = net->run(corpus.encode(prompt).to(device).reshape({(int64_t)prompt.size(), 1}), s);
    Tensor last = logits.select(0, logits.size(0) - 1);  // [1, V]
    std::vector<int64_t> out;
    for (int64_t i = 0; i < length; ++i) {
      std::vector<double> p = softmax(last * (1.0 / tau), 1).to(kCPU).to(kFloat64).to_vector<double>();
      const double u = rand({1}, TensorOptions(kFloat64), &gen).item();
      double acc = 0;
      int64_t k = 0;
      for (; k < (int64_t)p.size() - 1; ++k) {
        acc += p[k];
        if (u < acc) break;
      }
      out.push_back(k);
      last = net->run(from_vector(std::vector<int64_t>{k}, {1, 1}, TensorOptions(kInt64)).to(device), s).select(0, 0);
    }
    net->train();
    return corpus.decode(from_vector(out, {(int64_t)out.size()}, TensorOptions(kInt64)));
  }

  Device device;
  uint64_t seed;
  TextCorpus corpus;
  int64_t T, B;
  double clip;
  int64_t val_chars;
  TextStream stream;
  std::shared_ptr<SkipRnn> net;
  std::unique_ptr<optim::Adam> opt;
  RnnState carry;
  RnnState carry_all;  // data-parallel: every rank's carry, gathered for the checkpoint
  Tensor loss;
  double grad_norm = 0;
};

}  // namespace

train::ModelInfo char_rnn_model() {
  train::ModelInfo info;
  info.name = "char-rnn";
  info.section = "2.2";
  info.paper = "Graves 2013, Generating Sequences With Recurrent Neural Networks";
  info.summary = "character-level LSTM (or GRU) with skip connections, truncated BPTT; bits per character";
  info.defaults = {.steps = 5000, .log_every = 50, .sample_every = 500, .checkpoint_every = 250};
  info.options = {
      train::Option::text("data", "", "kjv", "text corpus: kjv (Debian's bible-kjv) or the path of a text file"),
      train::Option::choice("cell", "H", "lstm", {"lstm", "gru"}, "the recurrent cell"),
      train::Option::integer("layers", "N", 2, 1, 16, "recurrent layers (with skip connections)"),
      train::Option::integer("hidden", "", 128, 1, 8192, "units per layer"),
      train::Option::integer("bptt", "T", 100, 1, 10000, "characters per truncated-BPTT segment"),
      train::Option::integer("batch", "B", 32, 1, 4096, "parallel streams of the training text"),
      train::Option::real("lr", "alpha", 2e-3, 0, 1, "Adam learning rate", /*open_low=*/true),
      train::Option::real("clip", "", 1.0, 0, 1e6, "gradient-norm clipping threshold (0: off)"),
      train::Option::integer("val-chars", "", 50000, 1, INT64_MAX, "validation characters scored at each snapshot"),
  };
  info.test_options = {{"hidden", "8"}, {"bptt", "5"}, {"batch", "2"}, {"val-chars", "40"}};
  info.make = [](const Options& o) { return std::make_unique<CharRnn>(o); };
  return info;
}

}  // namespace duel::gan
