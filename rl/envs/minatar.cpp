// Sticky actions, action-set mapping and observation plumbing shared by the MinAtar games
// (the reference's minatar/environment.py Environment wrapper).
#include "rl/envs/minatar.h"

#include <cstring>

#include "tensor/error.h"

namespace duel::rl {

namespace {
constexpr std::string_view kActionNames[MinAtarEnv::kNumFullActions] = {"noop", "left", "up",
                                                                        "right", "down", "fire"};
}

MinAtarEnv::MinAtarEnv(const MinAtarOptions& options) : rng_(0), options_(options) {
  DUEL_CHECK(options.sticky_action_prob >= 0.0 && options.sticky_action_prob <= 1.0,
             "MinAtarEnv: sticky_action_prob must be in [0, 1], got ", options.sticky_action_prob);
}

void MinAtarEnv::reset(uint64_t seed) {
  // Environment.seed(seed) followed by reset(); re-seeding also forgets the last action so
  // that an episode is a function of (seed, actions) alone.
  rng_.seed(seed);
  last_action_ = 0;
  reset();
}

void MinAtarEnv::reset() {
  terminal_ = false;
  reset_game();
}

int MinAtarEnv::num_actions() const {
  return options_.use_minimal_action_set ? static_cast<int>(minimal_action_set().size())
                                         : kNumFullActions;
}

int MinAtarEnv::full_action(int action) const {
  const int n = num_actions();
  DUEL_CHECK(action >= 0 && action < n, name(), ".step: action ", action, " out of range [0, ", n, ")");
  return options_.use_minimal_action_set ? minimal_action_set()[action] : action;
}

std::string_view MinAtarEnv::action_name(int action) const {
  return kActionNames[full_action(action)];
}

StepResult MinAtarEnv::step(int action) {
  int a = full_action(action);
  // Environment.act: the sticky draw happens on every call, before the game's own draws.
  if (rng_.rand() < options_.sticky_action_prob) a = last_action_;
  last_action_ = a;
  if (terminal_) return {0.0f, true, false};
  const int reward = act(a);
  return {static_cast<float>(reward), terminal_, false};
}

void MinAtarEnv::observe(uint8_t* out) const {
  std::memset(out, 0, static_cast<size_t>(n_channels()) * kSize * kSize);
  draw(out);
}

void MinAtarEnv::observe(float* out) const {
  constexpr int kMaxCells = 16 * kSize * kSize;
  uint8_t grid[kMaxCells];
  const int n = n_channels() * kSize * kSize;
  DUEL_CHECK(n <= kMaxCells, "MinAtarEnv::observe: too many channels");
  observe(grid);
  for (int i = 0; i < n; ++i) out[i] = grid[i];
}

}  // namespace duel::rl
