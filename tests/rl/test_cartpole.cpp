// CartPole-v1 rule tests: Gymnasium's constants, one Euler step against hand-computed
// values, the termination limits, the 500-step truncation and seeding.
#include <catch2/catch.hpp>

#include <cmath>

#include "rl/envs/cartpole.h"
#include "tensor/error.h"

using namespace duel::rl;

TEST_CASE("cartpole: Gymnasium's constants", "[rl][cartpole]") {
  CHECK(CartPoleEnv::kGravity == 9.8);
  CHECK(CartPoleEnv::kMassCart == 1.0);
  CHECK(CartPoleEnv::kMassPole == 0.1);
  CHECK(CartPoleEnv::kLength == 0.5);
  CHECK(CartPoleEnv::kForceMag == 10.0);
  CHECK(CartPoleEnv::kTau == 0.02);
  CHECK(CartPoleEnv::kThetaThresholdRadians == Approx(12.0 * M_PI / 180.0).epsilon(1e-15));
  CHECK(CartPoleEnv::kXThreshold == 2.4);
  CHECK(CartPoleEnv::kMaxEpisodeSteps == 500);
  CartPoleEnv env;
  CHECK(env.num_actions() == 2);
  CHECK(env.obs_shape().rank == 1);
  CHECK(env.obs_shape().dims[0] == 4);
  CHECK(env.obs_dtype() == ObsDType::kFloat32);
}

TEST_CASE("cartpole: one Euler step matches hand-computed values", "[rl][cartpole]") {
  CartPoleEnv env;
  SECTION("upright pole at rest, push right") {
    // force 10, sin 0, cos 1: temp = 10/1.1 = 100/11,
    // thetaacc = -(100/11) / (0.5 (4/3 - 0.1/1.1)) = -600/41,
    // xacc = 100/11 + 0.05 (600/41) / 1.1 = 4400/451.
    env.set_state({0.0, 0.0, 0.0, 0.0});
    const StepResult r = env.step(CartPoleEnv::kPushRight);
    CHECK(r.reward == 1.0f);
    CHECK_FALSE(r.terminated);
    CHECK_FALSE(r.truncated);
    const auto& s = env.state();
    CHECK(s.x == 0.0);                                       // x uses the old velocity
    CHECK(s.x_dot == Approx(0.02 * 4400.0 / 451.0).epsilon(1e-14));  // 0.19512195...
    CHECK(s.theta == 0.0);
    CHECK(s.theta_dot == Approx(-0.02 * 600.0 / 41.0).epsilon(1e-14));  // -0.29268292...
    float obs[4];
    env.observe(obs);
    CHECK(obs[1] == static_cast<float>(88.0 / 451.0));
    CHECK(obs[3] == static_cast<float>(-12.0 / 41.0));
  }
  SECTION("moving, tilted pole, push left") {
    // x = 0.1, x_dot = 0.5, theta = 0.1, theta_dot = -0.2, force -10:
    const double th = 0.1, thd = -0.2, sn = std::sin(th), cs = std::cos(th);
    const double temp = (-10.0 + 0.05 * thd * thd * sn) / 1.1;
    const double thetaacc = (9.8 * sn - cs * temp) / (0.5 * (4.0 / 3.0 - 0.1 * cs * cs / 1.1));
    const double xacc = temp - 0.05 * thetaacc * cs / 1.1;
    // By hand: temp = -9.09073, thetaacc = (0.97837 + 9.04531) / 0.62167 = 16.1239,
    // xacc = -9.09073 - 0.05 * 16.1239 * 0.99500 / 1.1 = -9.8200.
    CHECK(thetaacc == Approx(16.1239).epsilon(1e-5));
    CHECK(xacc == Approx(-9.8200).epsilon(1e-5));
    env.set_state({0.1, 0.5, th, thd});
    env.step(CartPoleEnv::kPushLeft);
    const auto& s = env.state();
    CHECK(s.x == Approx(0.1 + 0.02 * 0.5));
    CHECK(s.x_dot == Approx(0.5 + 0.02 * xacc));
    CHECK(s.theta == Approx(0.1 + 0.02 * -0.2));
    CHECK(s.theta_dot == Approx(-0.2 + 0.02 * thetaacc));
  }
}

TEST_CASE("cartpole: terminates beyond 12 degrees or 2.4 m", "[rl][cartpole]") {
  CartPoleEnv env;
  const double limit = CartPoleEnv::kThetaThresholdRadians;  // 0.20943951...
  SECTION("angle just inside stays alive") {
    env.set_state({0.0, 0.0, limit - 1e-4, 0.0});  // theta_dot 0: theta unchanged this step
    CHECK_FALSE(env.step(CartPoleEnv::kPushLeft).terminated);
  }
  SECTION("angle crossing the limit terminates, paying the step") {
    env.set_state({0.0, 0.0, limit - 1e-4, 0.1});  // theta + 0.02 * 0.1 > limit
    const StepResult r = env.step(CartPoleEnv::kPushLeft);
    CHECK(r.terminated);
    CHECK_FALSE(r.truncated);
    CHECK(r.reward == 1.0f);
    // Stepping on (undefined behaviour in Gymnasium) pays 0, as Gymnasium does.
    CHECK(env.step(CartPoleEnv::kPushLeft).reward == 0.0f);
  }
  SECTION("negative angle") {
    env.set_state({0.0, 0.0, -limit + 1e-4, -0.1});
    CHECK(env.step(CartPoleEnv::kPushRight).terminated);
  }
  SECTION("cart position") {
    env.set_state({2.39, 1.0, 0.0, 0.0});  // x -> 2.41
    CHECK(env.step(CartPoleEnv::kPushRight).terminated);
    env.set_state({-2.39, 0.4, 0.0, 0.0});  // x -> -2.382
    CHECK_FALSE(env.step(CartPoleEnv::kPushRight).terminated);
  }
}

TEST_CASE("cartpole: truncates at 500 steps", "[rl][cartpole]") {
  CartPoleEnv env;
  env.reset(uint64_t{3});
  for (int t = 1; t <= 500; ++t) {
    env.set_state({});  // keep the pole upright so that only the time limit can end it
    const StepResult r = env.step(t % 2);
    REQUIRE_FALSE(r.terminated);
    REQUIRE(r.truncated == (t == 500));
    REQUIRE(r.reward == 1.0f);
  }
  CHECK(env.elapsed_steps() == 500);
  env.reset();
  CHECK(env.elapsed_steps() == 0);
  CartPoleEnv short_env(/*max_episode_steps=*/3);
  short_env.reset(uint64_t{0});
  CHECK_FALSE(short_env.step(0).truncated);
  CHECK_FALSE(short_env.step(1).truncated);
  CHECK(short_env.step(0).truncated);
}

TEST_CASE("cartpole: reset(seed) reproduces Gymnasium's reset(seed=...)", "[rl][cartpole]") {
  CartPoleEnv env;
  env.reset(uint64_t{42});
  float obs[4];
  env.observe(obs);
  // gymnasium.make("CartPole-v1").reset(seed=42)[0]
  CHECK(obs[0] == Approx(0.0273956).margin(1e-7));
  CHECK(obs[1] == Approx(-0.00611216).margin(1e-8));
  CHECK(obs[2] == Approx(0.03585979).margin(1e-8));
  CHECK(obs[3] == Approx(0.0197368).margin(1e-7));
  for (float v : obs) CHECK(std::abs(v) < 0.05f);
  // The same seed gives the same start; reset() continues the stream.
  float again[4], next[4];
  env.reset(uint64_t{42});
  env.observe(again);
  env.reset();
  env.observe(next);
  for (int i = 0; i < 4; ++i) CHECK(again[i] == obs[i]);
  CHECK(next[0] != obs[0]);
}

TEST_CASE("cartpole: invalid actions and uint8 observations are rejected", "[rl][cartpole]") {
  CartPoleEnv env;
  CHECK_THROWS_AS(env.step(2), duel::Error);
  CHECK_THROWS_AS(env.step(-1), duel::Error);
  uint8_t buf[4];
  CHECK_THROWS_AS(env.observe(buf), duel::Error);
}
