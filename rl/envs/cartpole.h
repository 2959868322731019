// CartPole-v1 with Gymnasium's dynamics, constants, reward, termination and time limit;
// details in cartpole.cpp.
#pragma once
#include "rl/envs/env.h"
#include "rl/envs/rng.h"

namespace duel::rl {

class CartPoleEnv final : public Env {
 public:
  // gymnasium/envs/classic_control/cartpole.py (gymnasium 1.x).
  static constexpr double kGravity = 9.8;
  static constexpr double kMassCart = 1.0;
  static constexpr double kMassPole = 0.1;
  static constexpr double kTotalMass = kMassPole + kMassCart;
  static constexpr double kLength = 0.5;  // half the pole's length
  static constexpr double kPoleMassLength = kMassPole * kLength;
  static constexpr double kForceMag = 10.0;
  static constexpr double kTau = 0.02;  // seconds per step, explicit Euler
  static constexpr double kThetaThresholdRadians = 12 * 2 * 3.141592653589793 / 360;
  static constexpr double kXThreshold = 2.4;
  static constexpr int kMaxEpisodeSteps = 500;  // the CartPole-v1 TimeLimit
  enum Action : int { kPushLeft = 0, kPushRight = 1 };

  struct State {
    double x = 0, x_dot = 0, theta = 0, theta_dot = 0;  // float64, like Gymnasium
  };

  explicit CartPoleEnv(int max_episode_steps = kMaxEpisodeSteps);

  void reset(uint64_t seed) override;
  void reset() override;
  StepResult step(int action) override;

  ObsShape obs_shape() const override { return {1, {4, 0, 0}}; }
  ObsDType obs_dtype() const override { return ObsDType::kFloat32; }
  void observe(float* out) const override;
  using Env::observe;

  int num_actions() const override { return 2; }
  std::string name() const override { return "cartpole"; }
  std::string_view action_name(int action) const override;

  const State& state() const { return s_; }
  // Sets the physical state (tests, tools); the step counters are left alone.
  void set_state(const State& s) { s_ = s; }
  int elapsed_steps() const { return elapsed_steps_; }
  int max_episode_steps() const { return max_episode_steps_; }

 private:
  NumpyGenerator rng_;
  State s_;
  int max_episode_steps_;
  int elapsed_steps_ = 0;
  bool terminated_ = false;
};

}  // namespace duel::rl
