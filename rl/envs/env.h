// The reinforcement-learning environment interface of duel::rl and its factory.
//
// An Env is a single, resettable episode generator:
//
//   auto env = duel::rl::make_env("breakout");
//   env->reset(/*seed=*/1);
//   std::vector<float> obs(env->obs_size());
//   env->observe(obs.data());
//   StepResult r = env->step(action);   // until r.terminated || r.truncated
//
// Observations are written into a caller-provided buffer, so step()/observe() never
// allocate. Shapes follow the reference environments:
//   * CartPole: float32[4] = (x, x_dot, theta, theta_dot), shape (4).
//   * MinAtar:  binary uint8 grid, shape (C, 10, 10), CHANNEL-MAJOR: element (c, y, x) is at
//     c*100 + y*10 + x, y = row from the top, x = column from the left. (MinAtar's own
//     state() is (10, 10, C); transpose with np.transpose(s, (2, 0, 1)) to compare.)
//     observe(float*) writes the same grid as 0.0f/1.0f, ready for a network.
//
// Environments are independent of the tensor engine; each owns its own seeded RNG which
// reproduces the reference's numpy stream (see rl/envs/rng.h).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace duel::rl {

struct StepResult {
  float reward = 0.0f;
  bool terminated = false;  // the MDP reached a terminal state
  bool truncated = false;   // a time limit ended the episode (CartPole-v1's 500 steps)
  bool done() const { return terminated || truncated; }
};

enum class ObsDType { kFloat32, kUInt8 };

// Observation shape: (dim) or (C, H, W).
struct ObsShape {
  int rank = 0;
  std::array<int, 3> dims{};
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= dims[i];
    return n;
  }
  std::vector<int64_t> to_vector() const {
    std::vector<int64_t> v(rank);
    for (int i = 0; i < rank; ++i) v[i] = dims[i];
    return v;
  }
};

class Env {
 public:
  virtual ~Env() = default;

  // Re-seeds the environment's RNG with `seed` and starts a new episode. The same seed
  // always yields the same episode for the same actions.
  virtual void reset(uint64_t seed) = 0;
  // Starts a new episode continuing the current RNG stream (Gymnasium's reset() without a
  // seed). A newly constructed env is in the state reset(0) leaves it in.
  virtual void reset() = 0;
  // Advances one frame. `action` is in [0, num_actions()); anything else throws duel::Error.
  virtual StepResult step(int action) = 0;

  virtual ObsShape obs_shape() const = 0;
  virtual ObsDType obs_dtype() const = 0;
  int64_t obs_size() const { return obs_shape().numel(); }
  // Writes obs_size() values. Every env supports float; uint8 only where obs_dtype() is
  // kUInt8 (MinAtar) -- the float env throws duel::Error.
  virtual void observe(float* out) const = 0;
  virtual void observe(uint8_t* out) const;

  virtual int num_actions() const = 0;
  virtual std::string name() const = 0;
  // Human-readable meaning of an action index, e.g. "left" (for logs and renderers).
  virtual std::string_view action_name(int action) const = 0;
};

// The names make_env accepts, in a fixed order.
const std::vector<std::string>& env_names();

// Creates an environment by name ("cartpole", "breakout", "freeway", "asterix",
// "space_invaders", "seaquest") with the reference defaults: MinAtar games use sticky
// actions with p = 0.1, difficulty ramping and the full 6-action set. Unknown names throw
// duel::Error listing the valid ones.
std::unique_ptr<Env> make_env(const std::string& name);

}  // namespace duel::rl
