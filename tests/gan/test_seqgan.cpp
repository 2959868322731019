// SeqGAN's synthetic experiment (gan/seqgan.cpp): the MLE pre-training that both arms start
// from learns the oracle, and the two arms (seqgan, mle) start from the same generator.

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "tensor/serialize.h"
#include "tests/train/run_files.h"
#include "train/fit.h"
#include "train/registry.h"

using namespace duel;
namespace fs = std::filesystem;

namespace {

train::RunOptions seqgan_run(const fs::path& out, int64_t steps, const std::string& mode, int64_t pretrain_g) {
  train::RunOptions o;
  o.model = "seqgan";
  o.out_dir = out.string();
  o.seed = 2;
  o.steps = steps;
  o.log_every = 1;
  o.sample_every = 1;
  o.checkpoint_every = steps;
  o.quiet = true;
  o.extra = {
      {"mode", mode},      {"vocab", "16"},           {"seq-len", "6"},    {"emb", "8"},
      {"hidden", "8"},     {"oracle-samples", "256"}, {"batch", "16"},     {"pretrain-g", std::to_string(pretrain_g)},
      {"pretrain-d", "1"}, {"rollouts", "2"},         {"d-samples", "32"}, {"d-emb", "4"},
      {"d-filters", "2"},  {"eval-samples", "256"}};
  return o;
}

}  // namespace

TEST_CASE("seqgan: MLE pre-training brings G's samples toward the oracle (NLL-oracle falls)", "[train][seqgan]") {
  test::TempDir tmp("duel_seqgan");
  train::Run r(seqgan_run(tmp.dir / "pre", 12, "seqgan", 12));
  REQUIRE(train::fit(r).completed);
  std::vector<double> nll = test::metric_series(tmp.dir / "pre", "nll_oracle");
  REQUIRE(nll.size() == 12);
  INFO("NLL-oracle after the first and the last epoch: " << nll.front() << ", " << nll.back());
  CHECK(nll.back() < nll.front() - 0.2);
}

TEST_CASE("seqgan: both arms start the adversarial phase from the same pre-trained generator", "[train][seqgan]") {
  test::TempDir tmp("duel_seqgan");
  for (const char* mode : {"seqgan", "mle"}) {
    train::Run r(seqgan_run(tmp.dir / mode, 3, mode, 2));  // 2 G epochs, 1 D round: pre-training only
    REQUIRE(train::fit(r).completed);
  }
  Checkpoint a = load_checkpoint((tmp.dir / "seqgan" / "checkpoint.duel").string());
  Checkpoint b = load_checkpoint((tmp.dir / "mle" / "checkpoint.duel").string());
  int64_t compared = 0;
  for (auto& [k, t] : a.tensors) {
    if (k.rfind("G.", 0) != 0 && k.rfind("D.", 0) != 0) continue;  // the two networks
    INFO(k);
    REQUIRE(b.has(k));
    CHECK(t.to_vector<double>() == b.get(k).to_vector<double>());
    ++compared;
  }
  CHECK(compared >= 6);
  // one adversarial step later they differ
  for (const char* mode : {"seqgan", "mle"}) {
    train::Run r(seqgan_run(tmp.dir / mode, 4, mode, 2));
    REQUIRE(train::fit(r).completed);
  }
  Checkpoint a4 = load_checkpoint((tmp.dir / "seqgan" / "checkpoint.duel").string());
  Checkpoint b4 = load_checkpoint((tmp.dir / "mle" / "checkpoint.duel").string());
  bool differ = false;
  for (auto& [k, t] : a4.tensors)
    if (k.rfind("G.", 0) == 0 && b4.has(k) && t.to_vector<double>() != b4.get(k).to_vector<double>()) differ = true;
  CHECK(differ);
}

// The policy-gradient step's optimizer (--pg-optimizer): the authors' code gives the
// adversarial phase a fresh Adam, whose first step moves every weight with a gradient by lr
// (m / sqrt(v) = g / |g|). Pre-training's Adam (shared) still holds the MLE gradients' moments,
// so the same step moves most weights by other amounts.
TEST_CASE("seqgan: the first policy-gradient step is a fresh Adam's (every moved weight moves by lr)",
          "[train][seqgan]") {
  test::TempDir tmp("duel_seqgan");
  auto fraction_moved_by_lr = [&](const std::string& pg_optimizer) {
    const fs::path dir = tmp.dir / pg_optimizer;
    auto run_to = [&](int64_t steps) {
      train::RunOptions o = seqgan_run(dir, steps, "seqgan", 2);  // steps 0-1 MLE, 2 D, 3 the first PG step
      o.extra["pg-optimizer"] = pg_optimizer;
      o.extra["lr-g"] = "0.01";
      train::Run r(o);
      REQUIRE(train::fit(r).completed);
      return load_checkpoint((dir / "checkpoint.duel").string());
    };
    Checkpoint before = run_to(3), after = run_to(4);
    int64_t moved = 0, by_lr = 0;
    for (auto& [k, t] : before.tensors) {
      if (k.rfind("G.", 0) != 0) continue;
      const std::vector<double> a = t.to_vector<double>(), b = after.get(k).to_vector<double>();
      for (size_t i = 0; i < a.size(); ++i) {
        const double d = std::abs(b[i] - a[i]);
        if (d == 0) continue;
        ++moved;
        if (std::abs(d - 0.01) < 2e-4) ++by_lr;
      }
    }
    REQUIRE(moved > 100);
    return double(by_lr) / double(moved);
  };
  const double own = fraction_moved_by_lr("own"), shared = fraction_moved_by_lr("shared");
  INFO("weights moved by lr: own Adam " << own << ", pre-training's Adam " << shared);
  CHECK(own > 0.95);
  CHECK(shared < 0.5);
}
