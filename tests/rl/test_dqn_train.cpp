// DQN training end to end: a short CartPole run learns (well above the random policy's ~22),
// and a run stopped and resumed from its checkpoint continues exactly like an uninterrupted
// run (same actions, updates, weights, replay contents and logged episodes), on CartPole
// (float observations) and on Breakout (bit-packed replay, sticky actions replayed on resume).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "rl/dqn.h"
#include "train/fit.h"
#include "tensor/ops/elementwise.h"
#include "tensor/serialize.h"

using namespace duel;
using namespace duel::rl;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    path = fs::temp_directory_path() / ("duel_test_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

train::RunOptions run_options(const std::string& dir, int64_t steps, std::map<std::string, std::string> extra) {
  train::RunOptions o;
  o.model = "dqn";
  o.out_dir = dir;
  o.seed = 5;
  o.steps = steps;
  o.log_every = 100;
  o.checkpoint_every = 1000000;
  o.quiet = true;
  o.extra = std::move(extra);
  return o;
}

// The episode lines of metrics.jsonl (deterministic; the loss lines carry wall-clock fps).
std::vector<std::string> episode_lines(const fs::path& dir) {
  std::ifstream in(dir / "metrics.jsonl");
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (line.find("episode_return") != std::string::npos || line.find("eval_return") != std::string::npos)
      out.push_back(line);
  return out;
}

void check_resume_identical(const std::map<std::string, std::string>& extra, int64_t steps, int64_t stop_at) {
  TempDir a("dqn_full"), b("dqn_resumed");
  {
    train::Run run(run_options(a.path.string(), steps, extra));
    train::fit(run);
  }
  {
    train::Run::set_stop_after(stop_at);
    train::Run run(run_options(b.path.string(), steps, extra));
    train::fit(run);
    train::Run::set_stop_after(-1);
  }
  CHECK(read_checkpoint_meta((b.path / "checkpoint.duel").string())["step"] == std::to_string(stop_at));
  {
    train::Run run(run_options(b.path.string(), steps, extra));
    train::fit(run);
  }
  Checkpoint ca = load_checkpoint((a.path / "checkpoint.duel").string());
  Checkpoint cb = load_checkpoint((b.path / "checkpoint.duel").string());
  CHECK(ca.meta_or("step") == std::to_string(steps));
  CHECK(cb.meta_or("step") == std::to_string(steps));
  REQUIRE(ca.tensors.size() == cb.tensors.size());
  int differing = 0;
  for (auto& [k, t] : ca.tensors) {
    REQUIRE(cb.has(k));
    const Tensor& u = cb.get(k);
    bool same = t.sizes() == u.sizes() && t.dtype() == u.dtype() &&
                (is_floating(t.dtype()) ? allclose(t, u, 0, 0) : t.to_vector<int64_t>() == u.to_vector<int64_t>());
    if (!same) {
      ++differing;
      UNSCOPED_INFO("tensor " << k << " differs");
    }
  }
  CHECK(differing == 0);
  CHECK(ca.has("online.trunk.0.weight"));
  CHECK(ca.has("replay.obs"));
  CHECK(ca.has("opt.param_groups.0.lr"));
  auto la = episode_lines(a.path), lb = episode_lines(b.path);
  CHECK(la.size() > 3);
  CHECK(la == lb);
  CHECK(fs::exists(a.path / "returns.png"));
}

}  // namespace

TEST_CASE("dqn: a short CartPole run learns well above the random policy", "[dqn][dqn-train]") {
  // Fast settings: learning starts after 500 frames, epsilon reaches 0.05 at 2000.
  DQNConfig c = DQNConfig::defaults("cartpole", DQNVariant::kNature);
  c.frames = 4000;
  c.learning_starts = 500;
  c.eps_end = 0.05;
  c.eps_decay = 1500;
  c.train_freq = 1;  // one update per frame
  c.gradient_steps = 1;
  c.target_update = 100;
  c.lr = 1e-3;
  c.hidden = 64;
  DQNTrainer tr(c, 1);
  while (tr.frame() < c.frames) tr.step();
  CHECK(tr.agent->num_updates == c.frames - c.learning_starts + 1);
  EvalResult e = tr.evaluate(10, 0);
  // a uniformly random policy averages ~22 (docs/environments.md)
  CHECK(e.mean_return > 60);
  CHECK(tr.recent_average() > 30);
}

TEST_CASE("dqn: stop and resume continues exactly as an uninterrupted run (CartPole)", "[dqn][dqn-train]") {
  check_resume_identical({{"env", "cartpole"},
                          {"variant", "double"},
                          {"replay-size", "600"},  // wraps around before the end
                          {"learning-starts", "200"},
                          {"eps-decay", "500"},
                          {"target-update", "50"},
                          {"hidden", "32"},
                          {"sample-every", "500"},
                          {"eval-episodes", "2"}},
                         1200, 730);
}

TEST_CASE("dqn: stop and resume continues exactly as an uninterrupted run (Breakout)", "[dqn][dqn-train]") {
  check_resume_identical({{"env", "breakout"},
                          {"variant", "dueling"},
                          {"replay-size", "500"},
                          {"learning-starts", "100"},
                          {"batch", "8"},
                          {"eps-decay", "200"},
                          {"target-update", "50"},
                          {"hidden", "16"},
                          {"sample-every", "300"},
                          {"eval-episodes", "2"}},
                         600, 257);
}

TEST_CASE("dqn: resume refuses a checkpoint of another configuration", "[dqn][dqn-train]") {
  TempDir d("dqn_mismatch");
  std::map<std::string, std::string> extra = {
      {"env", "cartpole"}, {"learning-starts", "50"}, {"replay-size", "100"}, {"hidden", "8"}, {"sample-every", "1000000"}};
  {
    train::Run run(run_options(d.path.string(), 100, extra));
    train::fit(run);
  }
  extra["replay-size"] = "200";
  {
    train::Run run(run_options(d.path.string(), 200, extra));
    CHECK_THROWS(train::fit(run));
  }
  extra["replay-size"] = "100";
  extra["env"] = "breakout";
  extra["storage"] = "bits";
  {
    train::Run run(run_options(d.path.string(), 200, extra));
    CHECK_THROWS(train::fit(run));
  }
}
