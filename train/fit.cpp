#include "train/fit.h"

#include <cmath>
#include <ctime>
#include <cstdio>

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
  const bool resuming = ro.resume && run.has_checkpoint();
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
  run.open_for_training(options.serialize(), start);
  if (resuming) {
    model->resumed(run, start);
    if (!ro.quiet) std::printf("resumed %s from %s %lld\n", run.dir().c_str(), info.defaults.step_name.c_str(), (long long)start);
  }

  std::unique_ptr<ProgressBar> bar;
  if (!ro.quiet) bar = std::make_unique<ProgressBar>(info.name, ro.steps, start);
  int64_t last_checkpoint = resuming ? start : -1;
  auto checkpoint = [&](int64_t at) {
    std::string bad = first_non_finite(state);
    DUEL_CHECK(bad.empty(), info.name, ": training diverged: ", bad, " is not finite at ", info.defaults.step_name, " ",
               at, "; the last good checkpoint",
               last_checkpoint >= 0 ? " (" + std::to_string(last_checkpoint) + ")" : std::string(" (none)"),
               " is kept in ", run.path("checkpoint.duel"));
    run.save_checkpoint(state, at, {{"cpu_seconds", std::to_string(cpu_seconds())}});
    last_checkpoint = at;
  };

  int64_t step = start;
  for (; step < ro.steps; ++step) {
    if (Run::should_stop(step)) break;
    model->step(step);
    const int64_t done = step + 1;
    Metrics e = model->events();
    if (!e.empty()) run.log_metrics(done, e);
    if (done % ro.log_every == 0 || done == ro.steps) {
      Metrics v = model->values();
      for (auto& [k, x] : v)
        DUEL_CHECK(std::isfinite(x), info.name, ": training diverged: ", k, " = ", x, " at ", info.defaults.step_name,
                   " ", done, " (", describe_values(v), "); the last good checkpoint",
                   last_checkpoint >= 0 ? " (" + std::to_string(last_checkpoint) + ")" : std::string(" (none)"),
                   " is kept in ", run.path("checkpoint.duel"), "; try a lower learning rate");
      run.log_metrics(done, v);
      if (bar) bar->update(done, v);
    }
    if (done % ro.sample_every == 0 || done == ro.steps) {
      Metrics m = model->snapshot(run, done);
      if (!m.empty()) {
        run.log_metrics(done, m);
        if (bar) bar->print_line(info.defaults.step_name + " " + std::to_string(done) + ": " + describe_values(m));
      }
    }
    if (done % ro.checkpoint_every == 0) checkpoint(done);
  }
  if (last_checkpoint != step) checkpoint(step);
  if (bar) bar->finish();
  if (step >= ro.steps) run.log_metrics(step, {{"cpu_seconds", cpu_seconds()}});
  const bool completed = step >= ro.steps;
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

}  // namespace duel::train
