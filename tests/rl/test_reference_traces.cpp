// Bit-exact comparison with the Python reference implementations: trajectories recorded by
// scripts/record_env_stats.py from minatar 1.0.15 and gymnasium's CartPole-v1 for fixed
// seeds and action sequences must be reproduced exactly (MinAtar: every observation,
// reward and terminal flag, via a rolling hash checked every 50 steps; CartPole: the
// float32 observations).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <sstream>

#include "rl/envs/cartpole.h"
#include "rl/envs/minatar.h"
#include "rl_test_util.h"

using namespace duel::rl;
using duel::rl::test::SplitMix64;
using duel::rl::test::TraceHash;

namespace {

// The trace policies of record_env_stats.py (minatar_action).
int trace_action(const std::string& policy, SplitMix64& pol, const MinAtarEnv& env, std::vector<uint8_t>& obs) {
  const int a = static_cast<int>(pol.next() % 6);
  if (policy == "random") return a;
  REQUIRE(policy == "track");
  env.observe(obs.data());
  auto column_of = [&](int channel) {  // first column with a set cell
    for (int x = 0; x < 10; ++x)
      for (int y = 0; y < 10; ++y)
        if (obs[(channel * 10 + y) * 10 + x]) return x;
    return 0;
  };
  const int ball_x = column_of(1), trail_x = column_of(2), paddle_x = column_of(0);
  const int target = std::min(9, std::max(0, 2 * ball_x - trail_x));
  return target < paddle_x ? 1 : target > paddle_x ? 3 : 0;
}

}  // namespace

TEST_CASE("MinAtar games replay minatar 1.0.15 trajectories bit for bit", "[rl][minatar][reference]") {
  const auto lines = duel::rl::test::fixture_lines("reference_traces.txt");
  REQUIRE(!lines.empty());
  int n_episodes = 0;
  std::string prev_key;
  std::unique_ptr<MinAtarEnv> env;
  std::unique_ptr<SplitMix64> pol;
  for (const std::string& line : lines) {
    std::istringstream in(line);
    std::string kind;
    in >> kind;
    if (kind != "minatar") continue;
    std::string game, policy;
    double sticky;
    int ramping, episode, max_steps, length, ret, terminal;
    uint64_t seed, policy_seed;
    in >> game >> policy >> sticky >> ramping >> seed >> policy_seed >> episode >> max_steps >> length >> ret >> terminal;
    std::vector<uint64_t> hashes;
    for (std::string h; in >> h;) hashes.push_back(std::stoull(h, nullptr, 16));

    // Episodes of one configuration run back to back on one env: reset(seed) for the
    // first, reset() (continuing the RNG stream and the sticky action) afterwards.
    std::ostringstream key_os;
    key_os << game << ' ' << policy << ' ' << sticky << ' ' << ramping << ' ' << seed << ' ' << policy_seed;
    const std::string key = key_os.str();
    if (episode == 0) {
      MinAtarOptions opt;
      opt.sticky_action_prob = sticky;
      opt.difficulty_ramping = ramping != 0;
      env = make_minatar_env(game, opt);
      pol = std::make_unique<SplitMix64>(policy_seed);
      env->reset(seed);
    } else {
      REQUIRE(key == prev_key);
      env->reset();
    }
    prev_key = key;

    INFO(line.substr(0, 80));
    std::vector<uint8_t> obs(env->obs_size());
    TraceHash th(obs.size());
    env->observe(obs.data());
    th.update(obs.data(), 0, false);
    int steps = 0, total = 0;
    bool done = false;
    size_t checked = 0;
    while (!done && steps < max_steps) {
      const StepResult r = env->step(trace_action(policy, *pol, *env, obs));
      REQUIRE(!r.truncated);
      done = r.terminated;
      total += static_cast<int>(r.reward);
      ++steps;
      env->observe(obs.data());
      th.update(obs.data(), static_cast<int64_t>(r.reward), r.terminated);
      if (steps % 50 == 0) {
        INFO("hash mismatch within steps " << steps - 49 << ".." << steps);
        REQUIRE(checked < hashes.size());
        REQUIRE(th.value() == hashes[checked]);
        ++checked;
      }
    }
    CHECK(steps == length);
    CHECK(total == ret);
    CHECK(static_cast<int>(done) == terminal);
    REQUIRE(checked + 1 == hashes.size());
    CHECK(th.value() == hashes.back());
    ++n_episodes;
  }
  CHECK(n_episodes >= 30);
}

TEST_CASE("CartPole replays Gymnasium CartPole-v1 trajectories", "[rl][cartpole][reference]") {
  const auto lines = duel::rl::test::fixture_lines("reference_traces.txt");
  CartPoleEnv env;
  std::unique_ptr<SplitMix64> pol;
  std::string policy;
  int length = 0, terminated = 0, truncated = 0;
  double ret = 0;
  int episodes = 0, rows = 0, exact = 0;
  float obs[4];
  bool last_term = false, last_trunc = false;
  double total = 0;
  for (const std::string& line : lines) {
    std::istringstream in(line);
    std::string kind;
    in >> kind;
    if (kind == "cartpole") {
      uint64_t seed, policy_seed;
      int episode;
      in >> policy >> seed >> policy_seed >> episode >> length >> ret >> terminated >> truncated;
      if (episode == 0) {
        pol = std::make_unique<SplitMix64>(policy_seed);
        env.reset(seed);
      } else {
        env.reset();
      }
      total = 0;
      ++episodes;
    } else if (kind == "obs") {
      int t;
      float ref[4];
      in >> t >> ref[0] >> ref[1] >> ref[2] >> ref[3];
      INFO("episode " << episodes << " step " << t);
      if (t > 0) {
        int a = static_cast<int>(pol->next() % 2);
        if (policy == "balance") a = static_cast<double>(obs[2]) + 0.5 * static_cast<double>(obs[3]) > 0;
        const StepResult r = env.step(a);
        total += r.reward;
        last_term = r.terminated;
        last_trunc = r.truncated;
        REQUIRE(r.done() == (t == length));  // the episode ends exactly where Gymnasium's did
      }
      env.observe(obs);
      bool same = true;
      for (int i = 0; i < 4; ++i) {
        REQUIRE(obs[i] == Approx(ref[i]).margin(1e-6));
        same = same && obs[i] == ref[i];
      }
      exact += same;
      ++rows;
      if (t == length) {
        CHECK(total == ret);
        CHECK(static_cast<int>(last_term) == terminated);
        CHECK(static_cast<int>(last_trunc) == truncated);
      }
    }
  }
  CHECK(episodes >= 9);
  // Same expressions and the same libm give identical bits; tolerate a stray ulp elsewhere.
  INFO("bit-identical observations: " << exact << " of " << rows);
  CHECK(exact >= rows * 9 / 10);
}
