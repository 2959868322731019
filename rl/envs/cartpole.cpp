// CartPole-v1, following gymnasium/envs/classic_control/cartpole.py plus the TimeLimit
// wrapper that gymnasium.make("CartPole-v1") adds.
//
// Dynamics (Barto, Sutton & Anderson 1983, as in Gymnasium), in float64:
//   force    = +10 (action 1) or -10 (action 0)
//   temp     = (force + m_p l theta_dot^2 sin(theta)) / (m_c + m_p)
//   thetaacc = (g sin(theta) - cos(theta) temp) / (l (4/3 - m_p cos^2(theta) / (m_c + m_p)))
//   xacc     = temp - m_p l thetaacc cos(theta) / (m_c + m_p)
// then one explicit Euler step of tau = 0.02 s (positions use the old velocities). The
// expressions are evaluated in Gymnasium's operation order with every product and sum
// rounded separately -- floating-point contraction into FMAs is switched off for this
// file below, since GCC fuses a*b+c by default under -march=native and CartPole's
// unstable dynamics amplify the last-bit differences -- so the observations match
// Gymnasium's bit for bit with the same libm (tests/rl/test_reference_traces.cpp).
//
// Episode: reset draws (x, x_dot, theta, theta_dot) ~ U[-0.05, 0.05)^4 from
// numpy.random.default_rng(seed) -- bit-identical to env.reset(seed=seed). Reward +1 for
// every step including the terminating one. terminated when |x| > 2.4 or |theta| > 12 deg
// (12 * 2 * pi / 360 rad) after the step; truncated when the step count reaches 500.
// Stepping past termination keeps integrating and pays 0, as Gymnasium does.
#include "rl/envs/cartpole.h"

#include <cmath>

#include "tensor/error.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace duel::rl {

CartPoleEnv::CartPoleEnv(int max_episode_steps) : max_episode_steps_(max_episode_steps) {
  DUEL_CHECK(max_episode_steps > 0, "CartPoleEnv: max_episode_steps must be positive, got ",
             max_episode_steps);
  reset(0);
}

void CartPoleEnv::reset(uint64_t seed) {
  rng_.seed(seed);
  reset();
}

void CartPoleEnv::reset() {
  s_.x = rng_.uniform(-0.05, 0.05);
  s_.x_dot = rng_.uniform(-0.05, 0.05);
  s_.theta = rng_.uniform(-0.05, 0.05);
  s_.theta_dot = rng_.uniform(-0.05, 0.05);
  elapsed_steps_ = 0;
  terminated_ = false;
}

StepResult CartPoleEnv::step(int action) {
  DUEL_CHECK(action == kPushLeft || action == kPushRight, "cartpole.step: action ", action,
             " out of range [0, 2)");
  const double force = action == kPushRight ? kForceMag : -kForceMag;
  const double costheta = std::cos(s_.theta);
  const double sintheta = std::sin(s_.theta);
  const double temp = (force + kPoleMassLength * (s_.theta_dot * s_.theta_dot) * sintheta) / kTotalMass;
  const double thetaacc = (kGravity * sintheta - costheta * temp) /
                          (kLength * (4.0 / 3.0 - kMassPole * (costheta * costheta) / kTotalMass));
  const double xacc = temp - kPoleMassLength * thetaacc * costheta / kTotalMass;

  s_.x = s_.x + kTau * s_.x_dot;
  s_.x_dot = s_.x_dot + kTau * xacc;
  s_.theta = s_.theta + kTau * s_.theta_dot;
  s_.theta_dot = s_.theta_dot + kTau * thetaacc;

  const bool terminated = s_.x < -kXThreshold || s_.x > kXThreshold ||
                          s_.theta < -kThetaThresholdRadians || s_.theta > kThetaThresholdRadians;
  // +1 per step, including the first terminating one; 0 after that.
  const float reward = (!terminated || !terminated_) ? 1.0f : 0.0f;
  terminated_ = terminated_ || terminated;
  elapsed_steps_ += 1;
  return {reward, terminated, elapsed_steps_ >= max_episode_steps_};
}

void CartPoleEnv::observe(float* out) const {
  out[0] = static_cast<float>(s_.x);
  out[1] = static_cast<float>(s_.x_dot);
  out[2] = static_cast<float>(s_.theta);
  out[3] = static_cast<float>(s_.theta_dot);
}

std::string_view CartPoleEnv::action_name(int action) const {
  DUEL_CHECK(action == kPushLeft || action == kPushRight, "cartpole: action ", action,
             " out of range [0, 2)");
  return action == kPushRight ? "push_right" : "push_left";
}

}  // namespace duel::rl
