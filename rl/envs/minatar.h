// Common machinery of the MinAtar games (Young & Tian 2019, github.com/kenjyoung/MinAtar,
// transcribed from the PyPI release minatar 1.0.15): the 10x10 binary grid, the 6-action
// interface, sticky actions and the shared numpy-compatible RNG. Each game lives in its
// own file (breakout.cpp, freeway.cpp, asterix.cpp, space_invaders.cpp, seaquest.cpp).
//
// Reference semantics reproduced here (minatar/environment.py, minatar/gym.py):
//  * Actions are the full set {0:'n' noop, 1:'l' left, 2:'u' up, 3:'r' right, 4:'d' down,
//    5:'f' fire}; num_actions() is 6 by default, as Environment.num_actions() (and the
//    reference DQN baselines and the MinAtar/*-v0 gym ids). With use_minimal_action_set
//    the env exposes the game's minimal action set instead (MinAtar/*-v1): action i maps
//    to minimal_action_set()[i], e.g. Breakout {n, l, r}.
//  * Sticky actions: every step draws u ~ U[0,1) from the game's RNG (even when the
//    probability is 0 or the episode is over) and, if u < sticky_action_prob (default
//    0.1), replaces the action with the previously *executed* one. The previous action is
//    0 for a newly constructed or re-seeded env and, as in the reference, is carried over
//    by reset() without a seed.
//  * One RNG (numpy.random.RandomState semantics) drives both sticky actions and the game,
//    drawn in exactly the reference's order, so reset(S) replays minatar's
//    Environment(...).seed(S); reset() bit for bit for the same actions (verified by
//    tests/rl/test_reference_traces.cpp).
//  * After a terminal step, step() returns reward 0 and terminated = true without
//    changing the state. There is no truncation: only Freeway has a time limit, which is
//    part of its rules and reported as terminal, like the reference.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "rl/envs/env.h"
#include "rl/envs/rng.h"

namespace duel::rl {

struct MinAtarOptions {
  double sticky_action_prob = 0.1;
  bool difficulty_ramping = true;
  bool use_minimal_action_set = false;
};

// One observation channel: its reference name plus how renderers draw it.
struct ChannelInfo {
  const char* name;
  char glyph;          // render_text
  uint8_t rgb[3];      // render_rgb / PNG / PPM
};

class MinAtarEnv : public Env {
 public:
  static constexpr int kSize = 10;           // the grid is kSize x kSize
  static constexpr int kNumFullActions = 6;
  enum Action : int { kNoop = 0, kLeft = 1, kUp = 2, kRight = 3, kDown = 4, kFire = 5 };

  void reset(uint64_t seed) override;
  void reset() override;
  StepResult step(int action) override;

  ObsShape obs_shape() const override { return {3, {n_channels(), kSize, kSize}}; }
  ObsDType obs_dtype() const override { return ObsDType::kUInt8; }
  void observe(uint8_t* out) const override;
  void observe(float* out) const override;

  int num_actions() const override;
  std::string_view action_name(int action) const override;

  // The game's minimal action set as full-set indices (Env.minimal_action_set()).
  virtual std::span<const int> minimal_action_set() const = 0;
  virtual std::span<const ChannelInfo> channels() const = 0;
  int n_channels() const { return static_cast<int>(channels().size()); }
  // Difficulty level reached (the reference's difficulty_ramp()); -1 where it has none.
  virtual int difficulty_ramp() const { return -1; }

  // The full-set action that env action `action` stands for (identity by default).
  int full_action(int action) const;
  bool terminal() const { return terminal_; }
  int last_action() const { return last_action_; }
  const MinAtarOptions& options() const { return options_; }
  NumpyRandomState& rng() { return rng_; }

 protected:
  explicit MinAtarEnv(const MinAtarOptions& options);
  // Resets the game state (the reference Env.reset()); called by the constructor of each
  // game (after its own members are initialised) and by reset().
  virtual void reset_game() = 0;
  // One frame of the reference Env.act() for a full-set action; returns the reward and
  // sets terminal_. Not called once terminal_ is set.
  virtual int act(int action) = 0;
  // Sets the game's cells in a zeroed channel-major (C, 10, 10) grid (Env.state()).
  virtual void draw(uint8_t* grid) const = 0;

  static void set(uint8_t* grid, int channel, int y, int x) {
    grid[(channel * kSize + y) * kSize + x] = 1;
  }

  NumpyRandomState rng_;
  bool terminal_ = false;

 private:
  MinAtarOptions options_;
  int last_action_ = 0;
};

// Factory for the five MinAtar games with explicit options (make_env uses the defaults).
std::unique_ptr<MinAtarEnv> make_minatar_env(const std::string& name, const MinAtarOptions& options = {});

}  // namespace duel::rl
