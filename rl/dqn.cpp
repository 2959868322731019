// The DQN family: networks, TD targets, the agent's update, evaluation and the trainer with
// its named checkpoint state. The zoo's entry (options, the shared loop) is rl/dqn_model.cpp.
#include "rl/dqn.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "autograd/node.h"
#include "dist/dist.h"
#include "tensor/ops/loss.h"
#include "tensor/ops/reduction.h"
#include "tensor/ops/shape_ops.h"

namespace duel::rl {

// ------------------------------------------------------------------ variants and config

DQNVariant parse_dqn_variant(const std::string& name) {
  if (name == "dqn" || name == "dqn2013") return DQNVariant::kDQN2013;
  if (name == "nature") return DQNVariant::kNature;
  if (name == "double" || name == "ddqn") return DQNVariant::kDouble;
  if (name == "dueling") return DQNVariant::kDueling;
  DUEL_FAIL("dqn: unknown --variant '", name, "'; expected dqn, nature, double or dueling");
}

const char* dqn_variant_name(DQNVariant v) {
  switch (v) {
    case DQNVariant::kDQN2013:
      return "dqn";
    case DQNVariant::kNature:
      return "nature";
    case DQNVariant::kDouble:
      return "double";
    case DQNVariant::kDueling:
      return "dueling";
  }
  return "?";
}

DQNConfig DQNConfig::defaults(const std::string& env, DQNVariant variant) {
  DQNConfig c;
  c.env = env;
  c.variant = variant;
  if (env == "cartpole") {
    // CartPole-v1: MLP 4-128-128-2 and the update schedule of rl-baselines3-zoo's tuned
    // CartPole DQN (every 256 frames: copy the target, then 128 Adam steps at lr 2.3e-3 on
    // batches of 64; epsilon 1 -> 0.04 over 8000 frames). Per-frame updates (train_freq 1,
    // gradient_steps 1) also learn but oscillate more; docs/rl.md has both measured.
    c.frames = 50000;
    c.batch = 64;
    c.replay_size = 50000;
    c.learning_starts = 1000;
    c.train_freq = 256;
    c.gradient_steps = 128;
    c.target_update = 128;
    c.eps_start = 1.0;
    c.eps_end = 0.04;
    c.eps_decay = 8000;
    c.optimizer = "adam";
    c.lr = 2.3e-3;
    c.storage = ObsStorage::kFloat32;
    c.eval_every = 2500;
    c.eval_episodes = 20;
    c.eval_epsilon = 0.0;
  } else {
    // MinAtar reference DQN (Young & Tian 2019, examples/dqn.py): batch 32, replay 100k,
    // target copy every 1000 updates, 5000 random frames, epsilon 1 -> 0.1 over 100k frames,
    // centred RMSProp lr 2.5e-4, alpha 0.95, eps 0.01 (torch: outside the sqrt), 5M frames.
    c.frames = 5000000;
    c.batch = 32;
    c.replay_size = 100000;
    c.learning_starts = 5000;
    c.target_update = 1000;
    c.eps_start = 1.0;
    c.eps_end = 0.1;
    c.eps_decay = 100000;
    c.optimizer = "rmsprop";
    c.lr = 2.5e-4;
    c.rms_alpha = 0.95;
    c.rms_eps = 0.01;
    c.rms_centered = true;
    c.rms_eps_inside_sqrt = false;
    c.storage = ObsStorage::kBits;
    c.eval_every = 10000;
    c.eval_epsilon = 0.0;
  }
  switch (variant) {
    case DQNVariant::kDQN2013:  // no target network; squared error (error clipping came in 2015)
      c.target_network = false;
      c.loss = "mse";
      break;
    case DQNVariant::kNature:
      break;
    case DQNVariant::kDouble:
      c.double_q = true;
      break;
    case DQNVariant::kDueling:  // Wang et al.: Double DQN targets, gradient norm clipped at 10
      c.double_q = true;
      c.dueling = true;
      c.clip_grad = 10.0;
      break;
  }
  return c;
}

std::string DQNConfig::describe() const {
  std::ostringstream s;
  s << "env = " << env << "\nvariant = " << dqn_variant_name(variant) << "\nframes = " << frames
    << "\ntarget_network = " << target_network << "\ndouble_q = " << double_q << "\ndueling = " << dueling
    << "\nloss = " << loss << "\ngamma = " << gamma << "\nbatch = " << batch << "\nreplay_size = " << replay_size
    << "\nlearning_starts = " << learning_starts << "\ntrain_freq = " << train_freq
    << "\ngradient_steps = " << gradient_steps
    << "\ntarget_update = " << (tau > 0 ? "soft, tau " + std::to_string(tau) : std::to_string(target_update))
    << "\neps = " << eps_start << " -> " << eps_end << " over " << eps_decay << "\nclip_grad = " << clip_grad
    << "\noptimizer = " << optimizer << "\nlr = " << lr;
  if (lr_end >= 0) s << " -> " << lr_end << " (linear over the run)";
  if (optimizer == "adam")
    s << "\nadam_eps = " << adam_eps;
  else
    s << "\nrms_alpha = " << rms_alpha << "\nrms_eps = " << rms_eps << "\nrms_centered = " << rms_centered
      << "\nrms_eps_inside_sqrt = " << rms_eps_inside_sqrt;
  s << "\nhidden = " << hidden << "\nconv_channels = " << conv_channels << "\nstorage = " << obs_storage_name(storage)
    << "\neval = " << eval_episodes << " episodes every " << eval_every << " frames, epsilon " << eval_epsilon
    << "\nthreads = " << threads;
  return s.str();
}

double EpsilonSchedule::operator()(int64_t frame) const {
  if (frame < learning_starts) return 1.0;
  if (decay <= 0) return end;
  const double f = (double)(frame - learning_starts) / (double)decay;
  return f >= 1.0 ? end : start + (end - start) * f;
}

uint64_t derive_seed(uint64_t seed, uint64_t stream, uint64_t index) {
  auto mix = [](uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  return mix(mix(mix(seed) ^ (stream * 0xD1B54A32D192ED03ull)) ^ index);
}

// ------------------------------------------------------------------ network

Tensor scale_gradient(const Tensor& x, double scale) {
  return autograd::record("scale_gradient", x, {x},
                          [scale](const Tensor& g, const NeedsGrad&) -> TensorList { return {g * scale}; });
}

Tensor dueling_aggregate(const Tensor& value, const Tensor& advantage) {
  DUEL_CHECK(value.dim() == 2 && value.size(1) == 1 && advantage.dim() == 2 && value.size(0) == advantage.size(0),
             "dueling_aggregate: expected value [B, 1] and advantage [B, A], got ", shape_str(value.sizes()), " and ",
             shape_str(advantage.sizes()));
  return value + (advantage - mean(advantage, {1}, true));
}

namespace {
std::shared_ptr<nn::Sequential> make_head(int64_t in, int64_t hidden, int64_t out, Generator* gen) {
  auto h = std::make_shared<nn::Sequential>();
  h->emplace_back<nn::Linear>(in, hidden, true, gen);
  h->emplace_back<nn::ReLU>();
  h->emplace_back<nn::Linear>(hidden, out, true, gen);
  return h;
}
}  // namespace

QNetwork::QNetwork(const Shape& obs_shape, int64_t num_actions, bool dueling, int64_t hidden, int64_t conv_channels,
                   Generator* gen)
    : dueling(dueling), trunk_grad_scale(dueling ? 1.0 / std::sqrt(2.0) : 1.0), num_actions(num_actions) {
  trunk = register_module("trunk", std::make_shared<nn::Sequential>());
  int64_t features = 0;
  if (obs_shape.size() == 1) {
    trunk->emplace_back<nn::Linear>(obs_shape[0], hidden, true, gen);
    trunk->emplace_back<nn::ReLU>();
    features = hidden;
  } else {
    DUEL_CHECK(obs_shape.size() == 3 && obs_shape[1] >= 3 && obs_shape[2] >= 3,
               "QNetwork: expected an observation shape [D] or [C, H, W], got ", shape_str(obs_shape));
    nn::ConvOptions co;
    co.gen = gen;
    trunk->emplace_back<nn::Conv2d>(obs_shape[0], conv_channels, 3, co);
    trunk->emplace_back<nn::ReLU>();
    trunk->emplace_back<nn::Flatten>();
    features = conv_channels * (obs_shape[1] - 2) * (obs_shape[2] - 2);
  }
  if (dueling) {
    value = register_module("value", make_head(features, hidden, 1, gen));
    advantage = register_module("advantage", make_head(features, hidden, num_actions, gen));
  } else {
    head = register_module("head", make_head(features, hidden, num_actions, gen));
  }
}

Tensor QNetwork::forward(const Tensor& x) {
  Tensor z = (*trunk)(x);
  if (!dueling) return (*head)(z);
  // Wang et al.: "we rescale the combined gradient entering the last convolutional layer by 1/sqrt(2)".
  if (trunk_grad_scale != 1.0) z = scale_gradient(z, trunk_grad_scale);
  return dueling_aggregate((*value)(z), (*advantage)(z));
}

// ------------------------------------------------------------------ targets and updates

Tensor td_target(const Tensor& reward, const Tensor& terminated, const Tensor& q_next_eval, const Tensor& q_next_select,
                 double gamma) {
  NoGradGuard ng;
  DUEL_CHECK(q_next_eval.dim() == 2 && reward.dim() == 1 && reward.size(0) == q_next_eval.size(0) &&
                 terminated.sizes() == reward.sizes(),
             "td_target: expected reward [B], terminated [B], Q [B, A]; got ", shape_str(reward.sizes()), ", ",
             shape_str(terminated.sizes()), ", ", shape_str(q_next_eval.sizes()));
  Tensor v;
  if (q_next_select.defined()) {
    DUEL_CHECK(q_next_select.sizes() == q_next_eval.sizes(), "td_target: selection Q has shape ",
               shape_str(q_next_select.sizes()), ", evaluation Q ", shape_str(q_next_eval.sizes()));
    v = gather(q_next_eval, 1, argmax(q_next_select, 1, true)).squeeze(1);
  } else {
    v = amax(q_next_eval, {1});
  }
  return reward + (1.0 - terminated) * v * gamma;
}

DQNAgent::DQNAgent(const DQNConfig& cfg, const Shape& obs_shape, int64_t num_actions, uint64_t init_seed)
    : config(cfg), obs_shape(obs_shape) {
  Generator g(init_seed);
  online = std::make_shared<QNetwork>(obs_shape, num_actions, cfg.dueling, cfg.hidden, cfg.conv_channels, &g);
  if (cfg.target_network) {
    target = std::make_shared<QNetwork>(obs_shape, num_actions, cfg.dueling, cfg.hidden, cfg.conv_channels, &g);
    for (auto& p : target->parameters()) p.set_requires_grad(false);
    sync_target();
  }
  if (cfg.optimizer == "adam") {
    optim::AdamOptions ao;
    ao.lr = cfg.lr;
    ao.eps = cfg.adam_eps;
    optimizer = std::make_unique<optim::Adam>(online->parameters(), ao);
  } else {
    optim::RMSpropOptions ro;
    ro.lr = cfg.lr;
    ro.alpha = cfg.rms_alpha;
    ro.eps = cfg.rms_eps;
    ro.centered = cfg.rms_centered;
    ro.eps_inside_sqrt = cfg.rms_eps_inside_sqrt;
    optimizer = std::make_unique<optim::RMSprop>(online->parameters(), ro);
  }
}

void DQNAgent::sync_target() {
  if (target) nn::hard_update(*target, *online);
}

int64_t DQNAgent::greedy(const float* obs) {
  NoGradGuard ng;
  Shape shape = {1};
  shape.insert(shape.end(), obs_shape.begin(), obs_shape.end());
  Tensor q = (*online)(from_blob(const_cast<float*>(obs), shape, kFloat32)).contiguous();
  const float* p = q.data<float>();
  int64_t best = 0;
  for (int64_t a = 1; a < q.size(1); ++a)
    if (p[a] > p[best]) best = a;
  return best;
}

Tensor DQNAgent::q_values(const Tensor& obs) {
  NoGradGuard ng;
  return (*online)(obs);
}

Tensor DQNAgent::targets(const ReplayBatch& b) {
  NoGradGuard ng;
  QNetwork& eval_net = target ? *target : *online;
  Tensor q_eval = eval_net(b.next_obs);
  Tensor q_select;
  if (config.double_q) q_select = target ? (*online)(b.next_obs) : q_eval;
  return td_target(b.reward, b.terminated, q_eval, q_select, config.gamma);
}

UpdateStats DQNAgent::update(const ReplayBatch& b) {
  Tensor y = targets(b);
  Tensor q = (*online)(b.obs);
  Tensor q_sa = gather(q, 1, b.action.unsqueeze(1)).squeeze(1);
  Tensor loss = config.loss == "mse" ? mse_loss(q_sa, y) : huber_loss(q_sa, y, 1.0);
  optimizer->zero_grad();
  loss.backward();
  UpdateStats s;
  // data-parallel learners (docs/distributed.md): clip the gradient averaged over the ranks, as
  // one process with the whole batch would; without MPI this does nothing
  optimizer->sync_gradients();
  if (config.clip_grad > 0) s.grad_norm = nn::clip_grad_norm_(online->parameters(), config.clip_grad);
  optimizer->step();
  ++num_updates;
  if (target) {
    if (config.tau > 0)
      nn::soft_update(*target, *online, config.tau);
    else if (num_updates % config.target_update == 0)
      sync_target();
  }
  s.loss = loss.item();
  Tensor qd = q_sa.detach().contiguous();
  const float* p = qd.data<float>();
  double acc = 0;
  for (int64_t i = 0; i < qd.numel(); ++i) acc += p[i];
  s.q_mean = acc / (double)qd.numel();
  return s;
}

}  // namespace duel::rl

namespace duel::rl {

// ------------------------------------------------------------------ evaluation

namespace {

// One Philox block of the generator: 4 uniform 32-bit words.
void draw_block(Generator& g, uint32_t r[4]) { philox4x32(g.seed(), g.advance(4), r); }
double unit_double(uint32_t a, uint32_t b) { return ((a >> 5) * 67108864.0 + (b >> 6)) / 9007199254740992.0; }

int64_t argmax_row(const float* p, int64_t n) {
  int64_t best = 0;
  for (int64_t a = 1; a < n; ++a)
    if (p[a] > p[best]) best = a;
  return best;
}
}  // namespace

EvalResult evaluate_q_network(QNetwork& net, const std::string& env_name, int64_t episodes, double epsilon,
                              double gamma, uint64_t seed, int64_t max_frames) {
  NoGradGuard ng;
  auto env = make_env(env_name);
  const bool u8 = env->obs_dtype() == ObsDType::kUInt8;
  const int64_t n = env->obs_size(), A = env->num_actions();
  Shape shape = {1};
  for (int64_t d : env->obs_shape().to_vector()) shape.push_back(d);
  std::vector<float> obs(n);
  std::vector<uint8_t> obs_u(u8 ? n : 0);
  Generator gen(derive_seed(seed, 7, 0));
  EvalResult r;
  r.episodes = episodes;
  std::vector<double> returns;
  double len_sum = 0, q0_sum = 0, g0_sum = 0;
  for (int64_t ep = 0; ep < episodes; ++ep) {
    env->reset(derive_seed(seed, 5, (uint64_t)ep));
    double ret = 0, disc = 0, discount = 1, q0 = 0;
    int64_t t = 0;
    for (; t < max_frames; ++t) {
      if (u8) {
        env->observe(obs_u.data());
        for (int64_t i = 0; i < n; ++i) obs[i] = obs_u[i];
      } else {
        env->observe(obs.data());
      }
      Tensor q = net(from_blob(obs.data(), shape, kFloat32)).contiguous();
      const float* qp = q.data<float>();
      int64_t a = argmax_row(qp, A);
      if (epsilon > 0) {
        uint32_t b[4];
        draw_block(gen, b);
        if (unit_double(b[0], b[1]) < epsilon) a = b[2] % (uint32_t)A;
      }
      if (t == 0) q0 = qp[a];
      StepResult s = env->step((int)a);
      ret += s.reward;
      disc += discount * s.reward;
      discount *= gamma;
      if (s.done()) {
        ++t;
        break;
      }
    }
    returns.push_back(ret);
    len_sum += (double)t;
    q0_sum += q0;
    g0_sum += disc;
  }
  if (episodes > 0) {
    double sum = 0, sq = 0;
    for (double x : returns) sum += x;
    r.mean_return = sum / (double)episodes;
    for (double x : returns) sq += (x - r.mean_return) * (x - r.mean_return);
    r.std_return = episodes > 1 ? std::sqrt(sq / (double)(episodes - 1)) : 0.0;
    r.min_return = *std::min_element(returns.begin(), returns.end());
    r.max_return = *std::max_element(returns.begin(), returns.end());
    r.mean_length = len_sum / (double)episodes;
    r.q_s0 = q0_sum / (double)episodes;
    r.g_s0 = g0_sum / (double)episodes;
  }
  return r;
}

// ------------------------------------------------------------------ trainer

// Data-parallel learners (docs/distributed.md): every rank acts in its own environment, with
// its own exploration and replay streams. Rank 0 keeps the run's seed (one process is exactly
// as without MPI); rank r > 0 acts from a seed derived from (seed, r). The network's seed is
// the run's everywhere (and rank 0's weights are broadcast anyway).
static uint64_t actor_seed(uint64_t seed) {
  return dist::rank() == 0 ? seed : derive_seed(seed, 8, (uint64_t)dist::rank());
}

DQNTrainer::DQNTrainer(const DQNConfig& c, uint64_t seed_)
    : config(c),
      seed(seed_),
      env(make_env(c.env)),
      act_gen(derive_seed(actor_seed(seed_), 1, 0)),
      replay_gen(derive_seed(actor_seed(seed_), 2, 0)) {
  Shape shape = env->obs_shape().to_vector();
  uint8_obs_ = env->obs_dtype() == ObsDType::kUInt8;
  DUEL_CHECK(uint8_obs_ || config.storage == ObsStorage::kFloat32, "dqn: ", config.env,
             " has float observations; use --storage float32");
  replay = std::make_unique<ReplayBuffer>(config.replay_size, shape, config.storage);
  agent = std::make_unique<DQNAgent>(config, shape, env->num_actions(), derive_seed(seed, 0, 0));
  schedule_ = EpsilonSchedule{config.eps_start, config.eps_end, config.eps_decay, config.learning_starts};
  const int64_t n = env->obs_size();
  obs_f_.resize(n);
  next_f_.resize(n);
  if (uint8_obs_) {
    obs_u_.resize(n);
    next_u_.resize(n);
  }
  start_episode();
}

void DQNTrainer::observe_current() {
  if (uint8_obs_) {
    env->observe(obs_u_.data());
    for (size_t i = 0; i < obs_u_.size(); ++i) obs_f_[i] = obs_u_[i];
  } else {
    env->observe(obs_f_.data());
  }
}

void DQNTrainer::start_episode() {
  // Episode k (counted from 0 over the whole run) starts from env seed derive_seed(seed, 3, k),
  // so an episode is a function of (seed, k, actions): a resumed run rebuilds the current
  // episode by replaying its actions.
  env->reset(derive_seed(actor_seed(seed), 3, (uint64_t)episodes_));
  ep_actions_.clear();
  ep_return_ = 0;
  observe_current();
}

void DQNTrainer::step() {
  episode_ended_ = false;
  const double eps = schedule_(frame_);
  uint32_t r[4];
  draw_block(act_gen, r);  // one block per frame, used or not, so the stream position = frame
  const int64_t A = env->num_actions();
  const int64_t a = unit_double(r[0], r[1]) < eps ? (int64_t)(r[2] % (uint32_t)A) : agent->greedy(obs_f_.data());
  const StepResult s = env->step((int)a);
  ep_actions_.push_back(a);
  ep_return_ += s.reward;
  if (uint8_obs_) {
    env->observe(next_u_.data());
    replay->add(obs_u_.data(), a, s.reward, next_u_.data(), s.terminated, s.truncated);
    std::swap(obs_u_, next_u_);
    for (size_t i = 0; i < obs_u_.size(); ++i) obs_f_[i] = obs_u_[i];
  } else {
    env->observe(next_f_.data());
    replay->add(obs_f_.data(), a, s.reward, next_f_.data(), s.terminated, s.truncated);
    std::swap(obs_f_, next_f_);
  }
  ++frame_;
  if (s.done()) {
    episode_ended_ = true;
    last_episode_ = {ep_return_, (int64_t)ep_actions_.size()};
    recent_.push_back(ep_return_);
    if (recent_.size() > 100) recent_.pop_front();
    ++episodes_;
    start_episode();
  }
  if (frame_ >= config.learning_starts && replay->size() >= config.batch && frame_ % config.train_freq == 0) {
    if (config.lr_end >= 0) {
      const double f = std::min(1.0, (double)frame_ / (double)std::max<int64_t>(1, config.frames));
      agent->optimizer->set_lr(config.lr + (config.lr_end - config.lr) * f);
    }
    for (int64_t k = 0; k < config.gradient_steps; ++k) {
      UpdateStats u = agent->update(replay->sample(config.batch, replay_gen));
      stat_loss_ += u.loss;
      stat_q_ += u.q_mean;
      stat_gn_ += u.grad_norm;
      ++stat_n_;
    }
  }
}

double DQNTrainer::recent_average() const {
  if (recent_.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (double x : recent_) s += x;
  return s / (double)recent_.size();
}

UpdateStats DQNTrainer::take_stats() {
  UpdateStats s;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (stat_n_ == 0) return {nan, nan, nan};
  s.loss = stat_loss_ / (double)stat_n_;
  s.q_mean = stat_q_ / (double)stat_n_;
  s.grad_norm = stat_gn_ / (double)stat_n_;
  stat_loss_ = stat_q_ = stat_gn_ = 0;
  stat_n_ = 0;
  return s;
}

EvalResult DQNTrainer::evaluate(int64_t episodes, uint64_t round) const {
  return evaluate_q_network(*agent->online, config.env, episodes, config.eval_epsilon, config.gamma,
                            derive_seed(seed, 4, round), config.eval_max_frames);
}

void DQNTrainer::record_eval(const EvalResult& e) {
  if (e.mean_return < best_return_) return;
  best_return_ = e.mean_return;
  best_frame_ = frame_;
  best_.clear();
  for (auto& [k, v] : agent->online->state_dict()) best_[k] = v.clone();
}

void DQNTrainer::add_to(train::Checkpointable& s) {
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  s.add("online", *agent->online);
  if (agent->target) s.add("target", *agent->target);
  s.add("opt", *agent->optimizer);
  s.add("act", act_gen);
  s.add("replay", replay_gen);
  s.add_tensors(
      "replay", [this] { return replay->state(""); },
      [this](const std::map<std::string, Tensor>& t) { replay->load_state(t, ""); });
  s.add("frame", frame_, 0, kMax);
  s.add("episodes", episodes_, 0, kMax);
  s.add("updates", agent->num_updates, 0, kMax);
  s.add("stat_count", stat_n_, 0, kMax);
  s.add("last_episode_length", last_episode_.length, 0, kMax);
  s.add("best_frame", best_frame_, -1, kMax);
  s.add("episode_return", ep_return_);
  s.add("stat_loss", stat_loss_);
  s.add("stat_q", stat_q_);
  s.add("stat_grad_norm", stat_gn_);
  s.add("last_episode_return", last_episode_.ret);
  s.add("best_return", best_return_);
  // Variable-length lists are stored with their length first, so that an empty list is a
  // tensor [1] = {0} rather than a zero-size tensor.
  s.add_tensors(
      "episode",
      [this] {
        std::vector<int64_t> acts = {(int64_t)ep_actions_.size()};
        acts.insert(acts.end(), ep_actions_.begin(), ep_actions_.end());
        std::vector<double> rec = {(double)recent_.size()};
        rec.insert(rec.end(), recent_.begin(), recent_.end());
        return std::map<std::string, Tensor>{
            {"actions", from_buffer(acts.data(), {(int64_t)acts.size()}, kInt64)},
            {"recent_returns", from_buffer(rec.data(), {(int64_t)rec.size()}, kFloat64)}};
      },
      [this](const std::map<std::string, Tensor>& t) {
        auto get = [&](const std::string& k) -> const Tensor& {
          auto it = t.find(k);
          DUEL_CHECK(it != t.end() && it->second.dim() == 1 && it->second.numel() >= 1,
                     "dqn: the checkpoint's episode.", k, " is missing or malformed");
          return it->second;
        };
        DUEL_CHECK(get("actions").dtype() == kInt64 && get("recent_returns").dtype() == kFloat64,
                   "dqn: the checkpoint's episode lists have the wrong dtype");
        auto acts = get("actions").to_vector<int64_t>();
        auto rec = get("recent_returns").to_vector<double>();
        DUEL_CHECK(acts[0] == (int64_t)acts.size() - 1, "dqn: the checkpoint's episode.actions holds ",
                   acts.size() - 1, " actions but says ", acts[0]);
        DUEL_CHECK(rec[0] == (double)(rec.size() - 1) && rec.size() - 1 <= 100,
                   "dqn: the checkpoint's episode.recent_returns is malformed (", rec.size() - 1, " values, says ",
                   rec[0], ", at most 100)");
        const int64_t A = env->num_actions();
        for (size_t i = 1; i < acts.size(); ++i)
          DUEL_CHECK(acts[i] >= 0 && acts[i] < A, "dqn: the checkpoint's episode action ", acts[i],
                     " is not an action of ", config.env, " (0..", A - 1, ")");
        ep_actions_.assign(acts.begin() + 1, acts.end());
        recent_.assign(rec.begin() + 1, rec.end());
      });
  s.add_tensors(
      "best",
      [this] {
        std::map<std::string, Tensor> t;
        for (auto& [k, v] : best_) t[k] = v;
        return t;
      },
      [this](const std::map<std::string, Tensor>& bd) {
        best_.clear();
        if (bd.empty()) return;
        for (auto& [k, v] : agent->online->state_dict()) {
          auto it = bd.find(k);
          DUEL_CHECK(it != bd.end() && it->second.sizes() == v.sizes(), "dqn: the checkpoint's best.", k,
                     " is missing or has another shape");
          best_[k] = it->second.to(v.dtype()).clone();
        }
      });
}

void DQNTrainer::after_load() {
  DUEL_CHECK(best_frame_ < 0 || !best_.empty(), "dqn: the checkpoint has a best frame (", best_frame_,
             ") but no best network");
  if (dist::rank() > 0) {
    // A data-parallel rank other than 0 loaded rank 0's actor state (the checkpoint is rank
    // 0's): it keeps the replay as a warm start and continues with its own streams from a fresh
    // episode in its own environment.
    act_gen = Generator(derive_seed(actor_seed(seed), 1, (uint64_t)frame_));
    replay_gen = Generator(derive_seed(actor_seed(seed), 2, (uint64_t)frame_));
    start_episode();
    episode_ended_ = false;
    return;
  }
  // Rebuild the current episode: same env seed, same actions (sticky-action draws included).
  const double ret = ep_return_;
  std::vector<int64_t> acts = ep_actions_;
  start_episode();
  for (size_t i = 0; i < acts.size(); ++i) {
    StepResult s = env->step((int)acts[i]);
    DUEL_CHECK(!s.done(), "dqn: replaying the checkpoint's current episode ended it early at step ", i);
    ep_actions_.push_back(acts[i]);
  }
  ep_return_ = ret;
  observe_current();
  episode_ended_ = false;
  // The rebuilt observation must be the s' of the last stored transition.
  if (!acts.empty() && replay->size() > 0) {
    std::vector<float> last(replay->obs_numel());
    replay->decode((replay->position() + replay->capacity() - 1) % replay->capacity(), true, last.data());
    DUEL_CHECK(last == obs_f_,
               "dqn: replaying the current episode did not reproduce the stored observation "
               "(did the environment change?)");
  }
}

}  // namespace duel::rl
