// Statistical comparison with the Python references: a uniformly random policy's mean
// episode return and length in each C++ environment must agree with the reference numbers
// in tests/rl/fixtures/random_policy_stats.txt (recorded by scripts/record_env_stats.py
// from gymnasium CartPole-v1 and minatar 1.0.15 with default settings).
//
// The C++ runs use other env and policy seeds than the reference, so the two samples are
// independent and the difference of the means has standard error
// sqrt(s_ref^2 / n_ref + s_cpp^2 / n_cpp). We require |difference| <= 4 standard errors:
// a faithful implementation fails one of the 12 comparisons with probability about
// 12 * 6.3e-5 < 0.1% (and the seeds are fixed, so a passing test stays passing), while a
// rule change that moves a mean by a few percent is caught.
#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>

#include "rl/envs/env.h"
#include "rl/envs/rng.h"
#include "rl_test_util.h"

using namespace duel::rl;

namespace {

struct Moments {
  double n = 0, mean = 0, m2 = 0;  // Welford
  void add(double v) {
    n += 1;
    const double d = v - mean;
    mean += d / n;
    m2 += d * (v - mean);
  }
  double var() const { return n > 1 ? m2 / (n - 1) : 0.0; }
};

struct Reference {
  int episodes = 0;
  double mean_return = 0, std_return = 0, mean_length = 0, std_length = 0;
};

Reference load_reference(const std::string& env_name) {
  for (const std::string& line : duel::rl::test::fixture_lines("random_policy_stats.txt")) {
    std::istringstream in(line);
    std::string name;
    Reference r;
    in >> name >> r.episodes >> r.mean_return >> r.std_return >> r.mean_length >> r.std_length;
    if (name == env_name) return r;
  }
  FAIL("no reference statistics for " << env_name);
  return {};
}

void check_mean(const char* what, const Moments& cpp, double ref_mean, double ref_std, int ref_n) {
  const double se = std::sqrt(ref_std * ref_std / ref_n + cpp.var() / cpp.n);
  INFO(what << ": C++ " << cpp.mean << " +- " << std::sqrt(cpp.var()) << " (n=" << cpp.n << ") vs reference "
            << ref_mean << " +- " << ref_std << " (n=" << ref_n << "), standard error of the difference " << se);
  // Zero spread on both sides (Freeway's fixed length) leaves only rounding in the fixture.
  CHECK(std::abs(cpp.mean - ref_mean) <= 4 * se + 1e-6);
}

void compare_random_policy(const std::string& env_name) {
  const Reference ref = load_reference(env_name);
  REQUIRE(ref.episodes > 0);
  auto env = make_env(env_name);
  NumpyRandomState policy(424242);  // independent of the reference's streams
  env->reset(uint64_t{2024});
  Moments ret, len;
  for (int ep = 0; ep < ref.episodes; ++ep) {
    if (ep) env->reset();
    double total = 0;
    int steps = 0;
    for (bool done = false; !done;) {
      const StepResult r = env->step(static_cast<int>(policy.randint(env->num_actions())));
      total += r.reward;
      ++steps;
      done = r.done();
    }
    ret.add(total);
    len.add(steps);
  }
  check_mean("mean return", ret, ref.mean_return, ref.std_return, ref.episodes);
  check_mean("mean length", len, ref.mean_length, ref.std_length, ref.episodes);
}

}  // namespace

// Stronger than the statistical check: with the reference's own seeds (STAT_ENV_SEED and
// STAT_POLICY_SEED in record_env_stats.py, the policy stream running on through the envs
// in file order), the C++ envs replay all 43,600 reference episodes exactly, so every
// statistic matches to the fixture's 6 decimals.
TEST_CASE("random policy statistics: the reference's seeds reproduce its numbers exactly",
          "[rl][statistics][reference]") {
  const auto lines = duel::rl::test::fixture_lines("random_policy_stats.txt");
  REQUIRE(lines.size() == env_names().size());
  NumpyRandomState policy(67890);
  for (const std::string& line : lines) {
    std::istringstream in(line);
    std::string name;
    Reference ref;
    in >> name >> ref.episodes >> ref.mean_return >> ref.std_return >> ref.mean_length >> ref.std_length;
    INFO(name);
    auto env = make_env(name);
    env->reset(uint64_t{12345});
    Moments ret, len;
    for (int ep = 0; ep < ref.episodes; ++ep) {
      if (ep) env->reset();
      double total = 0;
      int steps = 0;
      for (bool done = false; !done;) {
        const StepResult r = env->step(static_cast<int>(policy.randint(env->num_actions())));
        total += r.reward;
        ++steps;
        done = r.done();
      }
      ret.add(total);
      len.add(steps);
    }
    CHECK(ret.mean == Approx(ref.mean_return).margin(1e-6));
    CHECK(std::sqrt(ret.var()) == Approx(ref.std_return).margin(1e-6));
    CHECK(len.mean == Approx(ref.mean_length).margin(1e-6));
    CHECK(std::sqrt(len.var()) == Approx(ref.std_length).margin(1e-6));
  }
}

TEST_CASE("random policy statistics match Gymnasium: cartpole", "[rl][cartpole][statistics]") {
  compare_random_policy("cartpole");
}
TEST_CASE("random policy statistics match MinAtar: breakout", "[rl][minatar][statistics]") {
  compare_random_policy("breakout");
}
TEST_CASE("random policy statistics match MinAtar: freeway", "[rl][minatar][statistics]") {
  compare_random_policy("freeway");
}
TEST_CASE("random policy statistics match MinAtar: asterix", "[rl][minatar][statistics]") {
  compare_random_policy("asterix");
}
TEST_CASE("random policy statistics match MinAtar: space_invaders", "[rl][minatar][statistics]") {
  compare_random_policy("space_invaders");
}
TEST_CASE("random policy statistics match MinAtar: seaquest", "[rl][minatar][statistics]") {
  compare_random_policy("seaquest");
}
