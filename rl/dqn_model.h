// The DQN family as a model of the zoo: its declared options (with the reference settings of
// each environment and variant as presets) and the adapter that runs DQNTrainer in the shared
// training loop (train/fit.h): one step = one environment frame, a snapshot = a greedy
// evaluation, `duel eval` = greedy episodes of the last and the best network.
#pragma once
#include "rl/dqn.h"
#include "train/registry.h"

namespace duel::rl {

train::ModelInfo dqn_model();

// The configuration described by resolved options of the dqn model (cross-field checks
// included: e.g. the replay must hold a batch).
DQNConfig dqn_config(const train::Options& options);

}  // namespace duel::rl
