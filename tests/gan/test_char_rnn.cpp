// The character-level RNN of Graves 2013 (gan/char_rnn.cpp): the network's shape (skip
// connections, gradients), that it learns, and that truncated BPTT carries the state between
// segments.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "autograd/gradcheck.h"
#include "gan/nets.h"
#include "tensor/serialize.h"
#include "tests/train/run_files.h"
#include "train/fit.h"
#include "train/registry.h"

using namespace duel;
namespace fs = std::filesystem;

namespace {

// The last value of `key` in a run's metrics.jsonl.
double last_metric(const fs::path& run, const std::string& key) {
  std::vector<double> v = test::metric_series(run, key);
  return v.empty() ? NAN : v.back();
}

Tensor tensor_ending(const Checkpoint& c, const std::string& suffix) {
  for (auto& [k, t] : c.tensors)
    if (k.size() >= suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0) return t;
  FAIL("no tensor named *" << suffix << " in the checkpoint");
  return {};
}

train::RunOptions char_run(const fs::path& corpus, const fs::path& out, int64_t steps,
                           std::map<std::string, std::string> extra) {
  train::RunOptions o;
  o.model = "char-rnn";
  o.out_dir = out.string();
  o.seed = 1;
  o.steps = steps;
  o.log_every = 10;
  o.sample_every = steps;
  o.checkpoint_every = steps;
  o.quiet = true;
  extra["data"] = corpus.string();
  o.extra = extra;
  return o;
}

}  // namespace

TEST_CASE("char-rnn: Graves's skip connections, and it learns a periodic text", "[train][char-rnn]") {
  test::TempDir tmp("duel_char_rnn");
  const fs::path corpus = tmp.dir / "cat.txt";
  {
    std::ofstream f(corpus);
    for (int i = 0; i < 400; ++i) f << "the cat sat on the mat. ";  // 11 symbols, 9600 bytes
  }
  const fs::path run = tmp.dir / "run";
  train::Run r(char_run(corpus, run, 200, {{"hidden", "24"}, {"bptt", "12"}, {"batch", "4"}, {"lr", "0.01"}}));
  REQUIRE(train::fit(r).completed);
  // every layer sees x_t (11 one-hot inputs) and, above the first, h^{n-1}_t; the output sees
  // all layers
  Checkpoint c = load_checkpoint((run / "checkpoint.duel").string());
  CHECK(tensor_ending(c, "layer0.weight_ih").sizes() == Shape{4 * 24, 11});
  CHECK(tensor_ending(c, "layer1.weight_ih").sizes() == Shape{4 * 24, 11 + 24});
  CHECK(tensor_ending(c, "output.weight").sizes() == Shape{11, 2 * 24});
  // the state carried into the next segment is part of the checkpoint (step 200 is inside an
  // epoch of 190 segments: not a fresh start), one h and c per layer
  for (const char* k : {"h0", "c0", "h1", "c1"}) {
    INFO(k);
    Tensor t = tensor_ending(c, k);
    CHECK(t.sizes() == Shape{4, 24});
    CHECK(max(abs(t)).item() > 0.01);
  }
  // the text is deterministic given 8 characters of context: far below the 3.46 bits of a
  // uniform guess, on the held-out tail as well (480 characters read from the zero state)
  CHECK(last_metric(run, "bpc") < 0.3);
  CHECK(last_metric(run, "val_bpc") < 0.2);
  std::ifstream s(run / "samples_latest.txt");
  std::string sample((std::istreambuf_iterator<char>(s)), std::istreambuf_iterator<char>());
  CHECK(sample.find("the cat sat on the mat.") != std::string::npos);
}

TEST_CASE("char-rnn: SkipRnn run in two segments with the carried state equals one run", "[train][char-rnn]") {
  // truncated BPTT's premise: splitting a sequence and carrying the state changes nothing in
  // the forward pass
  for (bool lstm : {true, false}) {
    INFO((lstm ? "LSTM" : "GRU"));
    manual_seed(5);
    gan::SkipRnn net(7, 6, 3, lstm);
    Tensor ids = randint(0, 7, {10, 3});
    gan::RnnState one, two;
    Tensor whole = net.run(ids, one);
    Tensor first = net.run(ids.narrow(0, 0, 4), two);
    gan::RnnState carried = two.detached();
    Tensor second = net.run(ids.narrow(0, 4, 6), carried);
    CHECK(whole.sizes() == Shape{10, 3, 7});
    CHECK(allclose(cat({first, second}, 0), whole, 0, 1e-6));
    for (size_t n = 0; n < one.h.size(); ++n) CHECK(allclose(one.h[n], carried.h[n], 0, 1e-6));
    // a fresh state gives other outputs after the first step: the state is used
    gan::RnnState fresh;
    CHECK_FALSE(allclose(net.run(ids.narrow(0, 4, 6), fresh), second, 0, 1e-3));
  }
}

TEST_CASE("char-rnn: SkipRnn gradients match finite differences (float64)", "[train][char-rnn][gradcheck]") {
  for (bool lstm : {true, false}) {
    INFO((lstm ? "LSTM" : "GRU"));
    manual_seed(6);
    gan::SkipRnn net(4, 3, 2, lstm);
    net.to(kFloat64);
    Tensor ids = randint(0, 4, {3, 2});
    std::vector<Tensor> params = net.parameters();
    TensorList inputs(params.begin(), params.end());
    CHECK(gradcheck(
        [&](const TensorList&) {
          gan::RnnState s;
          return net.run(ids, s);
        },
        inputs));
  }
}

TEST_CASE("char-rnn: SkipRnn's LSTM layers over the whole segment equal Graves's equations step by step", "[char-rnn]") {
  // SkipRnn runs each LSTM layer as one lstm_sequence over the segment; the reference here is
  // the network's definition, step by step with the same cells: layer n at step t reads
  // [x_t | h^{n-1}_t], the output reads [h^1_t | ... | h^N_t]. Outputs, final states and every
  // parameter's gradient, in float64.
  manual_seed(8);
  gan::SkipRnn net(7, 5, 3, /*lstm=*/true);
  net.to(kFloat64);
  Tensor ids = randint(0, 7, {9, 4});
  Tensor w = randn({9, 4, 7}, TensorOptions(kFloat64));
  const TensorOptions f64(kFloat64);

  gan::RnnState s;
  Tensor y = net.run(ids, s);
  net.zero_grad();
  sum(y * w).backward();
  std::vector<Tensor> grads;
  for (const Tensor& p : net.parameters()) grads.push_back(p.grad().clone());

  net.zero_grad();
  Tensor x_all = one_hot(ids, 7, kFloat64);
  std::vector<Tensor> h(3, zeros({4, 5}, f64)), c(3, zeros({4, 5}, f64)), tops;
  for (int64_t t = 0; t < 9; ++t) {
    Tensor x = x_all.select(0, t);
    for (int64_t n = 0; n < 3; ++n) {
      auto& cell = *std::static_pointer_cast<nn::LSTMCell>(net.cells[n]);
      std::tie(h[n], c[n]) = cell(n == 0 ? x : cat({x, h[n - 1]}, 1), {h[n], c[n]});
    }
    tops.push_back(cat(h, 1));
  }
  Tensor ref = (*net.out)(stack(tops, 0));
  sum(ref * w).backward();

  CHECK(allclose(y, ref, 1e-12, 1e-13));
  for (int64_t n = 0; n < 3; ++n) {
    CHECK(allclose(s.h[n], h[n], 1e-12, 1e-13));
    CHECK(allclose(s.c[n], c[n], 1e-12, 1e-13));
  }
  std::vector<Tensor> params = net.parameters();
  for (size_t k = 0; k < params.size(); ++k) {
    INFO("parameter " << k);
    CHECK(allclose(grads[k], params[k].grad(), 1e-11, 1e-12));
  }
}
