// The DQN family (survey section 6), on the environments of rl/envs:
//
//   variant   paper                                          target network   TD target
//   dqn       Mnih et al. 2013, "Playing Atari with DRL"     none (online)    r + g max_a Q(s', a)
//   nature    Mnih et al. 2015, "Human-level control"        copy every C     r + g max_a Q~(s', a)
//   double    van Hasselt et al. 2016, "Double Q-learning"   copy every C     r + g Q~(s', argmax_a Q(s', a))
//   dueling   Wang et al. 2016, "Dueling architectures"      copy every C     as double, with Q = V + (A - mean A)
//
// (Q = online network, Q~ = target network, g = gamma; the bootstrap term is dropped only for
// TERMINATED transitions, never for time-limit truncations.) The dueling network scales the
// gradient entering its shared trunk by 1/sqrt(2) and clips the gradient norm at 10, as Wang
// et al. All variants learn from uniform experience replay (rl/replay.h), one update per frame.
//
// Networks: MinAtar (obs [C, 10, 10]) as Young & Tian 2019: conv 16 3x3 stride 1 -> ReLU ->
// flatten (1024) -> FC 128 -> ReLU -> FC |A|. CartPole: MLP 4 -> 128 -> 128 -> 2.
//
// Entry points: the zoo's `dqn` model (rl/dqn_model.h: `duel train dqn --env breakout
// --variant nature`, the shared training loop of train/fit.h), DQNTrainer for programs and
// tests. docs/rl.md has the options, the checkpoint contents and the measured results.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "nn/nn.h"
#include "rl/envs/env.h"
#include "rl/replay.h"
#include "train/run.h"

namespace duel::rl {

enum class DQNVariant { kDQN2013, kNature, kDouble, kDueling };
DQNVariant parse_dqn_variant(const std::string& name);  // dqn | nature | double | dueling
const char* dqn_variant_name(DQNVariant v);

// Every hyperparameter; defaults(env, variant) gives the reference settings. The command-line
// names, ranges and help are declared once in rl/dqn_model.cpp (docs/options.md).
struct DQNConfig {
  std::string env = "cartpole";
  DQNVariant variant = DQNVariant::kNature;
  int64_t frames = 50000;  // training length in environment steps

  // algorithm
  bool target_network = true;  // false: targets from the online network (DQN 2013)
  bool double_q = false;       // online argmax, target evaluation
  bool dueling = false;        // V + A - mean A head, trunk gradient / sqrt(2)
  std::string loss = "huber";  // huber (delta 1, Nature's error clipping) | mse
  double gamma = 0.99;
  int64_t batch = 64;
  int64_t replay_size = 50000;
  int64_t learning_starts = 1000;  // frames of uniformly random actions before learning
  int64_t train_freq = 1;          // frames between learning steps
  int64_t gradient_steps = 1;      // updates per learning step (each on a fresh minibatch)
  int64_t target_update = 500;     // updates between target copies
  double tau = 0.0;  // > 0: soft target update tau * online + (1 - tau) * target after every update instead
  double eps_start = 1.0, eps_end = 0.05;
  int64_t eps_decay = 10000;  // frames from eps_start to eps_end (after learning_starts)
  double clip_grad = 0.0;     // max gradient norm; 0 = off

  // optimizer
  std::string optimizer = "adam";  // adam | rmsprop
  double lr = 1e-3;
  double lr_end = -1;  // >= 0: lr decays linearly to lr_end at the last frame (else constant)
  double adam_eps = 1e-8;
  double rms_alpha = 0.95, rms_eps = 0.01;
  bool rms_centered = true, rms_eps_inside_sqrt = false;

  // network
  int64_t hidden = 128;
  int64_t conv_channels = 16;

  // storage, evaluation
  ObsStorage storage = ObsStorage::kFloat32;
  int64_t eval_every = 5000;  // frames between greedy evaluations (the zoo's --sample-every)
  int64_t eval_episodes = 10;
  double eval_epsilon = 0.0;
  int64_t eval_max_frames = 10000;  // cap on one evaluation episode
  int64_t threads = 1;              // OpenMP threads while training / evaluating (0 = leave the process setting)

  static DQNConfig defaults(const std::string& env, DQNVariant variant);
  std::string describe() const;  // one line per setting
};

// Linear annealing: 1 before learning_starts, then start -> end over decay frames, then end.
struct EpsilonSchedule {
  double start = 1.0, end = 0.1;
  int64_t decay = 100000, learning_starts = 5000;
  double operator()(int64_t frame) const;
};

// ---- network pieces ----

// Identity forward; the gradient flowing back through it is multiplied by `scale`.
Tensor scale_gradient(const Tensor& x, double scale);
// Q = V + (A - mean_a A): value [B, 1], advantage [B, A] -> [B, A].
Tensor dueling_aggregate(const Tensor& value, const Tensor& advantage);

class QNetwork : public nn::Module {
 public:
  // obs_shape {D} -> MLP trunk Linear(D, hidden) + ReLU; {C, H, W} -> conv trunk
  // Conv2d(C, conv_channels, 3) + ReLU + Flatten. Heads: Linear(f, hidden) ReLU Linear(hidden, out).
  QNetwork(const Shape& obs_shape, int64_t num_actions, bool dueling, int64_t hidden = 128, int64_t conv_channels = 16,
           Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Sequential> trunk;
  std::shared_ptr<nn::Sequential> head;              // plain Q head (null when dueling)
  std::shared_ptr<nn::Sequential> value, advantage;  // dueling streams (null otherwise)
  bool dueling;
  double trunk_grad_scale;  // 1/sqrt(2) for dueling (Wang et al.), 1 to disable
  int64_t num_actions;
};

// ---- targets and updates ----

// y = r + gamma * (1 - terminated) * Q_eval(s', a*), with a* = argmax_a q_select(s', a) when
// q_select is defined (Double DQN) and argmax_a q_eval(s', a) otherwise. [B] float32.
Tensor td_target(const Tensor& reward, const Tensor& terminated, const Tensor& q_next_eval, const Tensor& q_next_select,
                 double gamma);

struct UpdateStats {
  double loss = 0, q_mean = 0, grad_norm = 0;
};

class DQNAgent {
 public:
  DQNAgent(const DQNConfig& config, const Shape& obs_shape, int64_t num_actions, uint64_t init_seed);

  // Greedy action for one observation (obs_numel floats); no graph.
  int64_t greedy(const float* obs);
  // Online Q-values of a batch, no graph.
  Tensor q_values(const Tensor& obs);
  // The variant's TD targets for a batch (no graph).
  Tensor targets(const ReplayBatch& batch);
  // One gradient step on the batch; copies the target network every target_update updates
  // (or moves it by tau towards the online network after every update when tau > 0).
  UpdateStats update(const ReplayBatch& batch);
  void sync_target();

  DQNConfig config;
  Shape obs_shape;
  std::shared_ptr<QNetwork> online, target;  // target is null without a target network
  std::unique_ptr<optim::Optimizer> optimizer;
  int64_t num_updates = 0;
};

// ---- evaluation ----

struct EvalResult {
  int64_t episodes = 0;
  double mean_return = 0, std_return = 0, min_return = 0, max_return = 0, mean_length = 0;
  // Overestimation probe: predicted Q(s0, a0) of the first state and action of each episode
  // vs the realised discounted return from s0, both averaged over the episodes.
  double q_s0 = 0, g_s0 = 0;
};

// Runs `episodes` episodes with an epsilon-greedy policy of `net` (episode i uses env seed
// derived from (seed, i); random choices from a generator seeded with `seed`).
EvalResult evaluate_q_network(QNetwork& net, const std::string& env_name, int64_t episodes, double epsilon,
                              double gamma, uint64_t seed, int64_t max_frames);

// ---- the training loop ----

// Holds everything a run needs and advances it one frame at a time. The whole state
// (networks, optimizer, replay, generators, counters, the current episode) goes to and
// comes from a checkpoint, so a resumed run continues exactly as an uninterrupted one.
class DQNTrainer {
 public:
  DQNTrainer(const DQNConfig& config, uint64_t seed);

  // One environment frame: epsilon-greedy action, store the transition, learn when due.
  void step();
  double epsilon() const { return schedule_(frame_); }

  struct Episode {  // filled when step() ended an episode
    double ret = 0;
    int64_t length = 0;
  };
  bool episode_ended() const { return episode_ended_; }
  const Episode& last_episode() const { return last_episode_; }
  double recent_average() const;  // mean return of the last (up to) 100 episodes; NaN before the first
  int64_t frame() const { return frame_; }
  int64_t episodes() const { return episodes_; }
  // Loss / Q statistics accumulated since the last call (NaN when no update happened).
  UpdateStats take_stats();

  EvalResult evaluate(int64_t episodes, uint64_t round) const;
  // Keeps a copy of the online network when `e` is at least as good as every earlier
  // evaluation (the "best" snapshot of a run, saved in checkpoints as best.*).
  void record_eval(const EvalResult& e);
  double best_return() const { return best_return_; }
  int64_t best_frame() const { return best_frame_; }  // -1 before the first evaluation
  const nn::StateDict& best_state() const { return best_; }

  // The checkpoint's contents, each under its name: networks (online, target), optimizer (opt),
  // generators (act, replay), the replay buffer, named counters and sums, the current episode's
  // actions, the last 100 returns and the best evaluated network (best). After a load,
  // after_load() rebuilds the current episode by replaying its actions.
  void add_to(train::Checkpointable& s);
  void after_load();

  DQNConfig config;
  uint64_t seed;
  std::unique_ptr<Env> env;
  std::unique_ptr<ReplayBuffer> replay;
  std::unique_ptr<DQNAgent> agent;
  Generator act_gen, replay_gen;

 private:
  void start_episode();
  void observe_current();
  EpsilonSchedule schedule_;
  bool uint8_obs_;
  std::vector<float> obs_f_, next_f_;
  std::vector<uint8_t> obs_u_, next_u_;
  int64_t frame_ = 0, episodes_ = 0;
  double ep_return_ = 0;
  std::vector<int64_t> ep_actions_;  // actions of the current episode (replayed on resume)
  bool episode_ended_ = false;
  Episode last_episode_;
  std::deque<double> recent_;
  double stat_loss_ = 0, stat_q_ = 0, stat_gn_ = 0;
  int64_t stat_n_ = 0;
  double best_return_ = -1e300;
  int64_t best_frame_ = -1;
  nn::StateDict best_;
};

// Seed of stream `stream`, item `index` (splitmix64 mixing of the three).
uint64_t derive_seed(uint64_t seed, uint64_t stream, uint64_t index);

}  // namespace duel::rl
