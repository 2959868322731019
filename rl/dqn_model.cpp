#include "rl/dqn_model.h"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

namespace duel::rl {
namespace {

using train::Metrics;
using train::Option;
using train::Options;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

std::string real_text(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

// The option values that describe `c` (the inverse of dqn_config).
std::map<std::string, std::string> option_values(const DQNConfig& c) {
  return {{"env", c.env},
          {"variant", dqn_variant_name(c.variant)},
          {"steps", std::to_string(c.frames)},
          {"sample-every", std::to_string(c.eval_every)},
          {"target-network", c.target_network ? "1" : "0"},
          {"double", c.double_q ? "1" : "0"},
          {"dueling", c.dueling ? "1" : "0"},
          {"loss", c.loss},
          {"gamma", real_text(c.gamma)},
          {"batch", std::to_string(c.batch)},
          {"replay-size", std::to_string(c.replay_size)},
          {"learning-starts", std::to_string(c.learning_starts)},
          {"train-freq", std::to_string(c.train_freq)},
          {"gradient-steps", std::to_string(c.gradient_steps)},
          {"target-update", std::to_string(c.target_update)},
          {"tau", real_text(c.tau)},
          {"eps-start", real_text(c.eps_start)},
          {"eps-end", real_text(c.eps_end)},
          {"eps-decay", std::to_string(c.eps_decay)},
          {"clip-grad", real_text(c.clip_grad)},
          {"optimizer", c.optimizer},
          {"lr", real_text(c.lr)},
          {"lr-end", real_text(c.lr_end)},
          {"adam-eps", real_text(c.adam_eps)},
          {"rms-alpha", real_text(c.rms_alpha)},
          {"rms-eps", real_text(c.rms_eps)},
          {"rms-centered", c.rms_centered ? "1" : "0"},
          {"rms-eps-inside-sqrt", c.rms_eps_inside_sqrt ? "1" : "0"},
          {"hidden", std::to_string(c.hidden)},
          {"conv-channels", std::to_string(c.conv_channels)},
          {"storage", obs_storage_name(c.storage)},
          {"eval-episodes", std::to_string(c.eval_episodes)},
          {"eval-epsilon", real_text(c.eval_epsilon)},
          {"eval-max-frames", std::to_string(c.eval_max_frames)},
          {"threads", std::to_string(c.threads)}};
}

// The dqn options; defaults are CartPole's Nature DQN, the presets give MinAtar's and the
// other variants' reference settings (DQNConfig::defaults, the one place they are written).
std::pair<train::OptionTable, std::vector<train::Preset>> dqn_options() {
  std::vector<Option> opts = {
      Option::choice("env", "", "", env_names(), "environment: CartPole-v1 or a MinAtar game"),
      Option::choice("variant", "", "", {"dqn", "nature", "double", "dueling"},
                     "dqn = Mnih 2013 (no target network), nature = Mnih 2015, double = van Hasselt 2016, "
                     "dueling = Wang 2016"),
      Option::boolean("target-network", "Q~", true, "separate target network for the TD targets"),
      Option::boolean("double", "", false, "Double DQN targets: online argmax, target evaluation"),
      Option::boolean("dueling", "", false, "dueling head Q = V + (A - mean A)"),
      Option::choice("loss", "", "", {"huber", "mse"}, "TD loss (huber = Nature's error clipping)"),
      Option::real("gamma", "gamma", 0, 0, 1, "discount factor"),
      Option::integer("batch", "", 0, 1, 1 << 20, "minibatch size"),
      Option::integer("replay-size", "N", 0, 1, 1 << 28, "replay memory capacity (transitions)"),
      Option::integer("learning-starts", "", 0, 0, kMax, "frames of uniformly random actions before learning"),
      Option::integer("train-freq", "", 0, 1, kMax, "frames between learning steps"),
      Option::integer("gradient-steps", "", 0, 1, 1 << 20, "updates per learning step"),
      Option::integer("target-update", "C", 0, 1, kMax, "updates between target-network copies"),
      Option::real("tau", "tau", 0, 0, 1, "> 0: soft target update after every update instead of copies"),
      Option::real("eps-start", "epsilon", 0, 0, 1, "initial exploration rate"),
      Option::real("eps-end", "", 0, 0, 1, "final exploration rate"),
      Option::integer("eps-decay", "", 0, 0, kMax, "frames of the linear epsilon decay (after learning starts)"),
      Option::real("clip-grad", "", 0, 0, 1e9, "maximum gradient norm (0 = no clipping)"),
      Option::choice("optimizer", "", "", {"adam", "rmsprop"}, "optimizer"),
      Option::real("lr", "alpha", 1e-3, 0, 1, "learning rate", /*open_low=*/true),
      Option::real("lr-end", "", -1, -1, 1, "linear decay of the learning rate to this value (negative = constant)"),
      Option::real("adam-eps", "", 1e-8, 0, 1, "Adam's epsilon", true),
      Option::real("rms-alpha", "", 0.95, 0, 1, "RMSprop's squared-gradient decay"),
      Option::real("rms-eps", "", 0.01, 0, 1, "RMSprop's epsilon", true),
      Option::boolean("rms-centered", "", true, "centred RMSprop"),
      Option::boolean("rms-eps-inside-sqrt", "", false, "epsilon inside the square root (Nature's RMSProp)"),
      Option::integer("hidden", "", 0, 1, 65536, "width of the fully connected layers"),
      Option::integer("conv-channels", "", 0, 1, 4096, "channels of the MinAtar convolution"),
      Option::choice("storage", "", "", {"float32", "uint8", "bits"}, "how the replay stores observations"),
      Option::integer("eval-episodes", "", 0, 1, 1000000, "episodes per greedy evaluation"),
      Option::real("eval-epsilon", "", 0, 0, 1, "exploration rate during evaluations"),
      Option::integer("eval-max-frames", "", 0, 1, kMax, "cap on one evaluation episode"),
      Option::integer("threads", "", 1, 0, 1024, "OpenMP threads (0 = leave the process setting)"),
  };
  const DQNConfig cartpole = DQNConfig::defaults("cartpole", DQNVariant::kNature);
  auto values = option_values(cartpole);
  train::OptionTable t;
  for (Option o : opts) {
    o.fallback = values.at(o.name);
    t.add(o);
  }
  // Variant presets first (the first preset that sets an option wins), then the environment's.
  std::vector<train::Preset> presets;
  for (DQNVariant v : {DQNVariant::kDQN2013, DQNVariant::kDouble, DQNVariant::kDueling}) {
    auto with = option_values(DQNConfig::defaults("cartpole", v));
    train::Preset p{"variant", {dqn_variant_name(v)}, {}};
    for (auto& [k, x] : with)
      if (k != "variant" && values.at(k) != x) p.set[k] = x;
    presets.push_back(p);
  }
  train::Preset minatar{"env", {}, {}};
  for (auto& e : env_names())
    if (e != "cartpole") minatar.values.push_back(e);
  for (auto& [k, x] : option_values(DQNConfig::defaults("breakout", DQNVariant::kNature)))
    if (k != "env" && values.at(k) != x) minatar.set[k] = x;
  presets.push_back(minatar);
  return {t, presets};
}

class OmpThreads {
 public:
  explicit OmpThreads(int64_t n) : prev_(omp_get_max_threads()) {
    if (n > 0) omp_set_num_threads((int)n);
  }
  ~OmpThreads() { omp_set_num_threads(prev_); }

 private:
  int prev_;
};

void print_eval(const char* what, const EvalResult& e) {
  std::printf(
      "%s: return %.2f +- %.2f (min %.0f, max %.0f) over %lld episodes, length %.1f; "
      "Q(s0,a0) %.3f vs discounted return %.3f\n",
      what, e.mean_return, e.std_return, e.min_return, e.max_return, (long long)e.episodes, e.mean_length, e.q_s0,
      e.g_s0);
}

class DqnModel : public train::Model {
 public:
  explicit DqnModel(const Options& o)
      : cfg(dqn_config(o)), threads_(cfg.threads), trainer(cfg, (uint64_t)o.integer("seed")) {
    DUEL_CHECK(o.text("device") == "cpu",
               "dqn: runs on the CPU only (batch-1 acting and 32-sample updates of small networks); got --device ",
               o.text("device"));
    t_last_ = std::chrono::steady_clock::now();
  }

  void state(train::Checkpointable& s) override { trainer.add_to(s); }

  void resumed(train::Run& run, int64_t) override {
    trainer.after_load();
    f_last_ = trainer.frame();
    if (!run.options().quiet)
      std::printf("replay %lld transitions, %lld episodes, %lld updates\n", (long long)trainer.replay->size(),
                  (long long)trainer.episodes(), (long long)trainer.agent->num_updates);
  }

  void step(int64_t) override { trainer.step(); }

  Metrics events() override {
    if (!trainer.episode_ended()) return {};
    return {{"episode_return", trainer.last_episode().ret},
            {"episode_length", (double)trainer.last_episode().length},
            {"return_avg100", trainer.recent_average()}};
  }

  Metrics values() override {
    UpdateStats s = trainer.take_stats();
    auto now = std::chrono::steady_clock::now();
    const double fps = (double)(trainer.frame() - f_last_) /
                       std::max(1e-9, std::chrono::duration<double>(now - t_last_).count());
    t_last_ = now;
    f_last_ = trainer.frame();
    Metrics v = {{"epsilon", trainer.epsilon()}, {"fps", fps}};
    if (std::isfinite(s.loss)) {
      v.push_back({"loss", s.loss});
      v.push_back({"q_mean", s.q_mean});
      if (cfg.clip_grad > 0) v.push_back({"grad_norm", s.grad_norm});
    }
    if (std::isfinite(trainer.recent_average())) v.push_back({"ret100", trainer.recent_average()});
    return v;
  }

  Metrics snapshot(train::Run&, int64_t step) override {
    EvalResult e = trainer.evaluate(cfg.eval_episodes, (uint64_t)step);
    trainer.record_eval(e);
    return {{"eval_return", e.mean_return},
            {"eval_return_std", e.std_return},
            {"eval_length", e.mean_length},
            {"eval_q_s0", e.q_s0},
            {"eval_g_s0", e.g_s0}};
  }

  void finish(train::Run& run, bool) override {
    const std::string title = std::string("dqn (") + dqn_variant_name(cfg.variant) + ") on " + cfg.env;
    run.plot_metrics({"return_avg100", "eval_return"}, "returns.png", title + ": return");
    run.plot_metrics({"eval_q_s0", "eval_g_s0"}, "q_values.png", title + ": Q(s0,a0) vs discounted return");
    run.plot_metrics({"loss"}, "losses.png", title + ": TD loss");
    if (run.options().quiet) return;
    std::printf("frames %lld, episodes %lld, updates %lld, mean return of the last 100 episodes %.2f\n",
                (long long)trainer.frame(), (long long)trainer.episodes(), (long long)trainer.agent->num_updates,
                trainer.recent_average());
    if (trainer.best_frame() >= 0)
      std::printf("best evaluation: %.2f at frame %lld (kept as best.* in the checkpoint; `duel eval %s` checks it)\n",
                  trainer.best_return(), (long long)trainer.best_frame(), run.dir().c_str());
  }

  // Greedy episodes of the last and of the best network (independent env seeds).
  void evaluate(train::Run& run, const train::EvalRequest& r) override {
    const int64_t episodes = r.n > 0 ? r.n : 100;
    Checkpoint ck = load_checkpoint(run.path("checkpoint.duel"));
    auto env = make_env(cfg.env);
    std::printf("dqn (%s) on %s, checkpoint at frame %s; %lld episodes, epsilon %g, env seeds independent of training\n",
                dqn_variant_name(cfg.variant), cfg.env.c_str(), ck.meta_or("step").c_str(), (long long)episodes,
                cfg.eval_epsilon);
    for (const std::string which : {"online", "best"}) {
      nn::StateDict sd;
      for (auto& [k, v] : ck.tensors)
        if (k.rfind(which + ".", 0) == 0) sd[k.substr(which.size() + 1)] = v;
      if (sd.empty()) continue;
      QNetwork net(env->obs_shape().to_vector(), env->num_actions(), cfg.dueling, cfg.hidden, cfg.conv_channels);
      net.load_state_dict(sd);
      EvalResult e = evaluate_q_network(net, cfg.env, episodes, cfg.eval_epsilon, cfg.gamma,
                                        derive_seed(trainer.seed, 6, 0), cfg.eval_max_frames);
      std::string what = which == "online" ? "last network" : "best snapshot";
      if (which == "best") {
        char b[96];
        std::snprintf(b, sizeof b, " (frame %lld, periodic eval %.1f)",
                      (long long)ck.get("int.best_frame").to_vector<int64_t>().at(0),
                      ck.get("real.best_return").to_vector<double>().at(0));
        what += b;
      }
      print_eval(what.c_str(), e);
      if (cfg.env == "cartpole")
        std::printf("  CartPole-v1 %s (solved = mean return >= 475 over 100 episodes)\n",
                    episodes >= 100 && e.mean_return >= 475 ? "SOLVED" : "not solved");
    }
  }

 private:
  DQNConfig cfg;
  OmpThreads threads_;
  DQNTrainer trainer;
  std::chrono::steady_clock::time_point t_last_;
  int64_t f_last_ = 0;
};

}  // namespace

DQNConfig dqn_config(const Options& o) {
  DQNConfig c = DQNConfig::defaults(o.text("env"), parse_dqn_variant(o.text("variant")));
  c.frames = o.integer("steps");
  c.eval_every = o.integer("sample-every");
  c.target_network = o.boolean("target-network");
  c.double_q = o.boolean("double");
  c.dueling = o.boolean("dueling");
  c.loss = o.text("loss");
  c.gamma = o.real("gamma");
  c.batch = o.integer("batch");
  c.replay_size = o.integer("replay-size");
  c.learning_starts = o.integer("learning-starts");
  c.train_freq = o.integer("train-freq");
  c.gradient_steps = o.integer("gradient-steps");
  c.target_update = o.integer("target-update");
  c.tau = o.real("tau");
  c.eps_start = o.real("eps-start");
  c.eps_end = o.real("eps-end");
  c.eps_decay = o.integer("eps-decay");
  c.clip_grad = o.real("clip-grad");
  c.optimizer = o.text("optimizer");
  c.lr = o.real("lr");
  c.lr_end = o.real("lr-end");
  c.adam_eps = o.real("adam-eps");
  c.rms_alpha = o.real("rms-alpha");
  c.rms_eps = o.real("rms-eps");
  c.rms_centered = o.boolean("rms-centered");
  c.rms_eps_inside_sqrt = o.boolean("rms-eps-inside-sqrt");
  c.hidden = o.integer("hidden");
  c.conv_channels = o.integer("conv-channels");
  const std::string st = o.text("storage");
  c.storage = st == "bits" ? ObsStorage::kBits : st == "uint8" ? ObsStorage::kUInt8 : ObsStorage::kFloat32;
  c.eval_episodes = o.integer("eval-episodes");
  c.eval_epsilon = o.real("eval-epsilon");
  c.eval_max_frames = o.integer("eval-max-frames");
  c.threads = o.integer("threads");
  DUEL_CHECK(c.replay_size >= c.batch, "dqn: --replay-size ", c.replay_size, " cannot hold a --batch of ", c.batch);
  return c;
}

train::ModelInfo dqn_model() {
  train::ModelInfo info;
  info.name = "dqn";
  info.section = "6.1-6.4";
  info.paper = "Mnih et al. 2013/2015, van Hasselt et al. 2016, Wang et al. 2016: DQN, Nature, Double, Dueling";
  info.summary = "deep Q-learning on CartPole and MinAtar (--env), four variants (--variant)";
  info.generator = false;
  info.defaults = {.steps = 50000, .log_every = 1000, .sample_every = 2500, .checkpoint_every = 50000,
                   .step_name = "frame"};
  auto [table, presets] = dqn_options();
  info.options = table;
  info.presets = presets;
  info.test_options = {{"env", "breakout"}, {"variant", "dueling"}, {"learning-starts", "2"}, {"replay-size", "16"}, {"batch", "4"}, {"hidden", "8"}, {"conv-channels", "2"}, {"eval-episodes", "1"}, {"eval-max-frames", "20"}};
  info.make = [](const Options& o) { return std::make_unique<DqnModel>(o); };
  return info;
}

}  // namespace duel::rl
