#include "train/fit.h"

#include <chrono>
#include <cmath>
#include <ctime>
#include <cstdio>

#include "data/image.h"
#include "dist/dist.h"
#include "kernels/cpu/fp_env.h"
#include "nn/norm.h"
#include "train/progress.h"

namespace duel::train {
namespace {

// The common options as given through RunOptions' typed fields (zero/empty = not given).
std::map<std::string, std::string> given_options(const RunOptions& ro) {
  std::map<std::string, std::string> g = ro.extra;
  auto put = [&](const char* k, int64_t v) {
    if (v != 0 && !g.count(k)) g[k] = std::to_string(v);
  };
  put("steps", ro.steps);
  put("log-every", ro.log_every);
  put("sample-every", ro.sample_every);
  put("checkpoint-every", ro.checkpoint_every);
  if (ro.seed != 0 && !g.count("seed")) g["seed"] = std::to_string(ro.seed);
  if (!ro.device.empty() && !g.count("device")) g["device"] = ro.device;
  return g;
}

// Every parameter and buffer of the checkpointed modules is finite.
std::string first_non_finite(const Checkpointable& s) {
  for (auto& [name, m] : s.modules)
    for (auto& [k, t] : m->state_dict()) {
      if (!is_floating(t.dtype())) continue;
      for (double v : t.to_vector<double>())
        if (!std::isfinite(v)) return name + "." + k;
    }
  return "";
}

std::string describe_values(const Metrics& v) {
  std::string s;
  for (auto& [k, x] : v) {
    char b[96];
    std::snprintf(b, sizeof b, "%s%s = %.6g", s.empty() ? "" : ", ", k.c_str(), x);
    s += b;
  }
  return s;
}

// ---- data-parallel runs (dist/dist.h, docs/distributed.md) ----

// Rank 0's modules and optimizer states, copied to every rank. The names and shapes are
// compared first: ranks that built different models (other options) stop with an error.
void broadcast_state(const Checkpointable& s) {
  std::string layout;
  std::vector<Tensor> tensors;
  auto describe = [&](const std::string& key, const Tensor& t) {
    layout += key + " " + shape_str(t.sizes()) + " " + dtype_name(t.dtype()) + "\n";
    tensors.push_back(t);
  };
  std::vector<nn::StateDict> optimizer_states;
  for (auto& [name, m] : s.modules)
    for (auto& [k, t] : m->state_dict()) describe(name + "." + k, t);
  for (auto& [name, o] : s.optimizers) {
    optimizer_states.push_back(o->state_dict());
    for (auto& [k, t] : optimizer_states.back()) describe(name + "." + k, t);
  }
  std::string root_layout = layout;
  dist::broadcast(root_layout);
  DUEL_CHECK(root_layout == layout, "data-parallel run: rank ", dist::rank(),
             " built a model whose state differs from rank 0's (every rank must run the same command and read "
             "the same checkpoint); rank 0 has:\n",
             root_layout, "rank ", dist::rank(), " has:\n", layout);
  for (Tensor& t : tensors) dist::broadcast_(t);
  // optimizer states: their state_dict holds copies of the step counters and learning rates
  for (size_t i = 0; i < s.optimizers.size(); ++i) s.optimizers[i].second->load_state_dict(optimizer_states[i]);
}

// The model's values averaged over the ranks, under rank 0's names (a value another rank
// lacks, e.g. a return before its first episode ended, is averaged over the ranks that have it).
Metrics average_over_ranks(const Metrics& local) {
  std::string names;
  for (auto& [k, v] : local) names += k + "\n";
  dist::broadcast(names);
  std::vector<std::string> keys;
  for (size_t at = 0, nl; (nl = names.find('\n', at)) != std::string::npos; at = nl + 1)
    keys.push_back(names.substr(at, nl - at));
  std::vector<double> sums(2 * keys.size(), 0.0);
  for (size_t i = 0; i < keys.size(); ++i)
    for (auto& [k, v] : local)
      if (k == keys[i]) {
        sums[2 * i] = v;
        sums[2 * i + 1] = 1;
      }
  sums = dist::all_reduce_sum(sums);
  Metrics out;
  for (size_t i = 0; i < keys.size(); ++i) out.push_back({keys[i], sums[2 * i] / std::max(1.0, sums[2 * i + 1])});
  return out;
}

}  // namespace

Options resolve_run_options(const ModelInfo& info, RunOptions& ro, const std::map<std::string, std::string>& stored,
                            bool resuming) {
  std::map<std::string, std::string> given = given_options(ro);
  Options o = info.options.resolve(given, resuming ? stored : std::map<std::string, std::string>{}, info.name);
  if (resuming) {
    std::string diffs;
    for (auto& opt : info.options.options()) {
      if (!opt.stored || opt.may_change_on_resume || !o.given(opt.name)) continue;
      auto it = stored.find(opt.name);
      if (it == stored.end()) continue;
      std::string before;
      try {
        before = opt.validate(it->second);
      } catch (const Error&) {
        before = it->second;
      }
      if (before != o.text(opt.name)) diffs += "\n  --" + opt.name + " " + o.text(opt.name) + " (the run has " + before + ")";
    }
    DUEL_CHECK(diffs.empty(), info.name, ": the run in '", ro.out_dir,
               "' was trained with other options; resuming would mix two configurations:", diffs,
               "\nrun the same command as before (options not given are taken from the run), or start a new run "
               "with --out DIR or --no-resume");
  }
  ro.steps = o.integer("steps");
  ro.seed = (uint64_t)o.integer("seed");
  ro.device = o.text("device");
  ro.log_every = o.integer("log-every");
  ro.sample_every = o.integer("sample-every");
  ro.checkpoint_every = o.integer("checkpoint-every");
  return o;
}

FitResult fit(Run& run) { return fit(run, find_model(run.options().model)); }

FitResult fit(Run& run, const ModelInfo& info) {
  RunOptions& ro = run.mutable_options();
  DUEL_CHECK(ro.model == info.name, "fit: the run is of model '", ro.model, "', the model given is '", info.name, "'");
  // Denormal floats flushed to zero while training, unless --keep-denormals: the optimizers'
  // decaying averages otherwise reach that range and every operation on them is slow (on x86).
  FlushDenormalGuard denormals(ro.flush_denormal);
  // Data-parallel (mpirun): every rank trains, rank 0 alone writes; the ranks agree on resuming.
  const bool distributed = dist::is_distributed(), writer = dist::is_root();
  const bool resuming = ro.resume && run.has_checkpoint();
  if (distributed) {
    std::vector<double> r = dist::all_reduce_sum({resuming ? 1.0 : 0.0});
    DUEL_CHECK(r[0] == 0 || r[0] == dist::world_size(), "data-parallel run: rank ", dist::rank(),
               resuming ? " sees " : " does not see ", run.path("checkpoint.duel"), " but ",
               resuming ? dist::world_size() - (int)r[0] : (int)r[0], " other rank(s) ", resuming ? "do not" : "do",
               "; the run folder must be on a file system every rank sees");
  }
  std::map<std::string, std::string> stored;
  if (resuming) {
    auto meta = read_checkpoint_meta(run.path("checkpoint.duel"));
    DUEL_CHECK(meta["model"] == ro.model, "resume: ", run.path("checkpoint.duel"), " is a checkpoint of model '",
               meta["model"], "', not '", ro.model, "'; use another --out folder or --no-resume");
    stored = Options::parse_serialized(meta["options"]);
    if (stored.empty())
      std::printf("warning: %s stores no options (an older checkpoint); the options given now are used\n",
                  run.path("checkpoint.duel").c_str());
  }
  Options options = resolve_run_options(info, ro, stored, resuming);
  Device(ro.device);  // a device name that cannot be used fails here, before anything is written

  std::unique_ptr<Model> model = info.make(options);
  Checkpointable state;
  model->state(state);
  int64_t start = 0;
  std::map<std::string, std::string> meta;
  if (resuming) start = run.load_checkpoint_into(state, &meta);
  // CPU seconds spent on the run so far, over all its sessions (kept in the checkpoint's metadata)
  double cpu_before = 0;
  if (meta.count("cpu_seconds")) parse_finite_double(meta["cpu_seconds"], cpu_before);
  const std::clock_t cpu_start = std::clock();
  auto cpu_seconds = [&] { return cpu_before + double(std::clock() - cpu_start) / CLOCKS_PER_SEC; };
  DUEL_CHECK(start <= ro.steps || !resuming, info.name, ": the run in '", ro.out_dir, "' is at ", info.defaults.step_name,
             " ", start, ", past --steps ", ro.steps, "; give a larger --steps to train further");
  if (writer)
    run.open_for_training(options.serialize(), start);
  else
    run.install_signal_handlers();
  // The hooks through which optimizer steps (and, with --sync-bn, batch norms) reach the other
  // ranks: on while training, off around what rank 0 does alone (snapshots) and after the loop.
  auto ranks_in_step = [&](bool on) {
    optim::set_gradient_sync(on ? optim::GradientSync(dist::all_reduce_gradients) : nullptr);
    nn::set_batch_norm_sync(on && ro.sync_batch_norm ? [](const Tensor& x) { return dist::all_reduce_sum(x); }
                                                     : std::function<Tensor(const Tensor&)>());
  };
  if (distributed) {
    broadcast_state(state);
    ranks_in_step(true);
  }
  if (resuming) {
    model->resumed(run, start);
    if (!ro.quiet) std::printf("resumed %s from %s %lld\n", run.dir().c_str(), info.defaults.step_name.c_str(), (long long)start);
  }

  std::unique_ptr<ProgressBar> bar;
  if (!ro.quiet && writer) bar = std::make_unique<ProgressBar>(info.name, ro.steps, start);
  int64_t last_checkpoint = resuming ? start : -1;
  auto checkpoint = [&](int64_t at) {
    if (distributed) model->before_checkpoint();
    if (!writer) {
      last_checkpoint = at;  // every rank counts the checkpoints, so that all call the final one alike
      return;
    }
    std::string bad = first_non_finite(state);
    DUEL_CHECK(bad.empty(), info.name, ": training diverged: ", bad, " is not finite at ", info.defaults.step_name, " ",
               at, "; the last good checkpoint",
               last_checkpoint >= 0 ? " (" + std::to_string(last_checkpoint) + ")" : std::string(" (none)"),
               " is kept in ", run.path("checkpoint.duel"));
    run.save_checkpoint(state, at, {{"cpu_seconds", std::to_string(cpu_seconds())}});
    last_checkpoint = at;
  };

  int64_t step = start;
  double step_seconds = 0;  // in model->step() alone (data-parallel summary)
  const int64_t bytes_start = dist::bytes_all_reduced();
  const int64_t collectives_start = dist::collectives();
  for (; step < ro.steps; ++step) {
    bool stop = Run::should_stop(step);
    if (distributed) stop = dist::all_reduce_sum({stop ? 1.0 : 0.0})[0] > 0;  // all ranks stop at one step
    if (stop) break;
    const auto step_start = std::chrono::steady_clock::now();
    model->step(step);
    step_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count();
    const int64_t done = step + 1;
    Metrics e = model->events();
    if (!e.empty() && writer) run.log_metrics(done, e);
    if (done % ro.log_every == 0 || done == ro.steps) {
      Metrics v = model->values();
      if (distributed) v = average_over_ranks(v);
      for (auto& [k, x] : v)
        DUEL_CHECK(std::isfinite(x), info.name, ": training diverged: ", k, " = ", x, " at ", info.defaults.step_name,
                   " ", done, " (", describe_values(v), "); the last good checkpoint",
                   last_checkpoint >= 0 ? " (" + std::to_string(last_checkpoint) + ")" : std::string(" (none)"),
                   " is kept in ", run.path("checkpoint.duel"), "; try a lower learning rate");
      if (writer) run.log_metrics(done, v);
      if (bar) bar->update(done, v);
    }
    if (writer && (done % ro.sample_every == 0 || done == ro.steps)) {
      if (distributed) ranks_in_step(false);  // rank 0 alone: nothing in here may wait for the others
      Metrics m = model->snapshot(run, done);
      if (distributed) ranks_in_step(true);
      if (!m.empty()) {
        run.log_metrics(done, m);
        if (bar) bar->print_line(info.defaults.step_name + " " + std::to_string(done) + ": " + describe_values(m));
      }
    }
    if (done % ro.checkpoint_every == 0) checkpoint(done);
  }
  if (last_checkpoint != step) checkpoint(step);
  if (bar) bar->finish();
  if (dist::using_mpi() && writer && !ro.quiet && step > start) {
    const double steps_run = double(step - start);
    std::printf("data-parallel: %d ranks, %.4f MB of gradients all-reduced per %s in %.2f collectives, %.2f ms per "
                "%s on rank 0 (training steps only)\n",
                dist::world_size(), double(dist::bytes_all_reduced() - bytes_start) / steps_run / 1e6,
                info.defaults.step_name.c_str(), double(dist::collectives() - collectives_start) / steps_run,
                1e3 * step_seconds / steps_run, info.defaults.step_name.c_str());
  }
  const bool completed = step >= ro.steps;
  if (distributed) {
    ranks_in_step(false);
    optim::set_gradient_sync(dist::all_reduce_gradients);  // as dist::init left it, for the program's own steps
  }
  if (!writer) return {step, completed, Run::interrupt_signal()};
  if (step >= ro.steps) run.log_metrics(step, {{"cpu_seconds", cpu_seconds()}});
  if (!model->plotted().empty()) run.plot_metrics(model->plotted());
  model->finish(run, completed);
  if (!completed && !ro.quiet)
    std::printf("interrupted at %s %lld; checkpoint saved, run the same command to resume\n",
                info.defaults.step_name.c_str(), (long long)step);
  return {step, completed, Run::interrupt_signal()};
}

std::unique_ptr<Model> load_trained_model(Run& run, Options* options_out) {
  const ModelInfo& info = find_model(run.options().model);
  DUEL_CHECK(run.has_checkpoint(), "run '", run.dir(), "' has no checkpoint yet; train it first");
  auto meta = read_checkpoint_meta(run.path("checkpoint.duel"));
  RunOptions& ro = run.mutable_options();
  ro.extra.clear();
  Options options = resolve_run_options(info, ro, Options::parse_serialized(meta["options"]), true);
  std::unique_ptr<Model> model = info.make(options);
  Checkpointable state;
  model->state(state);
  run.load_modules(state);
  if (options_out) *options_out = options;
  return model;
}

Tensor Model::sample(int64_t, Generator&) { DUEL_FAIL("this model does not generate samples"); }

void Model::write_samples(int64_t n, Generator& gen, const std::string& path) {
  Tensor s = sample(n, gen);
  if (s.dim() == 4) save_image_grid(path, s, 8, 2, 2);
  else plot_scatter_with_contour(path, Tensor(), {{"generated", s, 0x2ca02c}}, {.x_min = -2, .x_max = 2, .y_min = -2, .y_max = 2});
}

}  // namespace duel::train
