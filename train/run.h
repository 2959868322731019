// A training run: its folder, configuration, metrics log, checkpoints and the
// signal handling that makes runs resumable.
//
// Every run writes to its own folder:
//   config.txt      the resolved options (name = value), written atomically once they are valid
//   metrics.jsonl   one JSON object per logged step
//   checkpoint.duel the latest checkpoint (written atomically; verified on load); its metadata
//                   holds the model name, the step and the options, so a run folder can be
//                   sampled, evaluated and resumed from the checkpoint alone
//   run.lock        held (flock) by the one `duel train` working in the folder
//   samples_*.png   sample grids / pictures, losses.png the loss curves
//
// Resuming: starting a run whose folder holds a checkpoint continues from it (model,
// optimizer state, random-generator state, data position, named counters, step), so a run
// killed at any moment, even with kill -9, loses at most the steps since its last checkpoint.
// Options not given again are taken from the checkpoint; options given with another value are
// refused (train/fit.h). Ctrl-C (SIGINT) and SIGTERM set a flag that the training loop checks:
// it then writes a checkpoint, and the command exits with 130 or 143 as a shell expects.
#pragma once
#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/module.h"
#include "nn/optim.h"
#include "tensor/random.h"
#include "tensor/serialize.h"

namespace duel::train {

// Options common to every model. The command line fills them (train/fit.h resolves the zero
// values to the model's defaults); `extra` holds the model's own --name value options, which
// are validated against the model's declared options (train/registry.h) before anything runs.
struct RunOptions {
  std::string model;
  std::string out_dir;                   // default runs/<model>
  std::string device;                    // "" = the model's default (cpu)
  uint64_t seed = 0;
  int64_t steps = 0;                     // 0 = the model's default
  int64_t log_every = 0;                 // 0 = the model's default
  int64_t sample_every = 0;              // 0 = the model's default
  int64_t checkpoint_every = 0;          // 0 = the model's default
  bool resume = true;                    // continue from out_dir/checkpoint.duel if present
  bool quiet = false;
  bool sync_batch_norm = false;          // data-parallel runs: batch norm over all ranks (--sync-bn)
  bool flush_denormal = true;            // flush denormal floats to zero while training (kernels/cpu/fp_env.h)
  std::map<std::string, std::string> extra;  // model-specific --key value options (raw text)
};

// Everything a checkpoint saves and restores, each under its name:
//
//   Checkpointable s;
//   s.add("G", *G);  s.add("opt_G", opt_G);  s.add("noise", noise);
//   s.add("frame", frame_, 0, max_frames);     // a named counter with its valid range
//   s.add_tensors("replay", save_fn, load_fn); // anything else, as named tensors
struct Checkpointable {
  struct Integer {
    int64_t* value;
    int64_t lo, hi;
  };
  struct TensorGroup {
    std::function<std::map<std::string, Tensor>()> save;
    std::function<void(const std::map<std::string, Tensor>&)> load;
  };
  std::vector<std::pair<std::string, nn::Module*>> modules;
  std::vector<std::pair<std::string, optim::Optimizer*>> optimizers;
  std::vector<std::pair<std::string, Generator*>> generators;
  std::vector<std::pair<std::string, Integer>> integers;
  std::vector<std::pair<std::string, double*>> reals;
  std::vector<std::pair<std::string, std::string*>> texts;  // stored in the metadata
  std::vector<std::pair<std::string, TensorGroup>> groups;

  void add(const std::string& name, nn::Module& m) { modules.push_back({name, &m}); }
  void add(const std::string& name, optim::Optimizer& o) { optimizers.push_back({name, &o}); }
  void add(const std::string& name, Generator& g) { generators.push_back({name, &g}); }
  void add(const std::string& name, int64_t& v, int64_t lo, int64_t hi) { integers.push_back({name, {&v, lo, hi}}); }
  void add(const std::string& name, double& v) { reals.push_back({name, &v}); }
  void add(const std::string& name, std::string& v) { texts.push_back({name, &v}); }
  void add_tensors(const std::string& prefix, std::function<std::map<std::string, Tensor>()> save,
                   std::function<void(const std::map<std::string, Tensor>&)> load) {
    groups.push_back({prefix, {std::move(save), std::move(load)}});
  }
};

class Run {
 public:
  explicit Run(RunOptions options);
  ~Run();
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  const RunOptions& options() const { return opt_; }
  RunOptions& mutable_options() { return opt_; }
  const std::string& dir() const { return opt_.out_dir; }
  std::string path(const std::string& file) const { return opt_.out_dir + "/" + file; }
  Device device() const { return Device(opt_.device.empty() ? "cpu" : opt_.device); }
  bool has_checkpoint() const;

  // For training: creates the folder, takes its lock (a second `duel train` on the same folder
  // fails at once), removes temporary files left by a killed writer, writes config.txt
  // atomically and opens metrics.jsonl, dropping lines past `resumed_step` (a resumed run
  // repeats those steps) or starting it afresh when resumed_step is 0. Installs the
  // SIGINT/SIGTERM handlers.
  void open_for_training(const std::string& config_text, int64_t resumed_step);
  // Only the SIGINT/SIGTERM handlers (the ranks other than 0 of a data-parallel run, which
  // write nothing).
  void install_signal_handlers();

  // Saves the state, `step`, the options and extra metadata atomically.
  void save_checkpoint(const Checkpointable& state, int64_t step, std::map<std::string, std::string> meta = {});
  // Restores `state` from the folder's checkpoint; returns its step. Every field is checked
  // (presence, shape, range) before anything is changed where that is possible; a checkpoint
  // of another model is refused with a clear error.
  int64_t load_checkpoint_into(const Checkpointable& state, std::map<std::string, std::string>* meta = nullptr) const;
  // Loads only the modules (for sampling and evaluation).
  void load_modules(const Checkpointable& state) const;

  // Appends {"step": step, key: value...} to metrics.jsonl.
  void log_metrics(int64_t step, const std::vector<std::pair<std::string, double>>& values);
  // Draws the logged series whose names are given into losses.png.
  void plot_metrics(const std::vector<std::string>& names, const std::string& file = "losses.png",
                    const std::string& title = "") const;

  // The options text stored with the run (set by train/fit before the first checkpoint).
  std::string config_text;

  // True once SIGINT/SIGTERM arrived (the loop should checkpoint and return).
  static bool interrupted();
  static int interrupt_signal();  // the signal that arrived (0 when none)
  // For tests: stop as if interrupted after `step` (negative = never).
  static void set_stop_after(int64_t step);
  static bool should_stop(int64_t step);

 private:
  RunOptions opt_;
  std::ofstream metrics_;
  int lock_fd_ = -1;
  bool handlers_ = false;
};

// One line of metrics.jsonl as log_metrics writes it: {"step": N, "key": number or null, ...}.
struct MetricsLine {
  double step = 0;
  std::vector<std::pair<std::string, double>> values;  // in the line's order, nulls left out
};
// Parses a line strictly; false for anything else (a torn line, text that is not a flat object
// of numbers), with *error saying where and what when given.
bool parse_metrics_line(const std::string& line, MetricsLine& out, std::string* error = nullptr);

// Reads metrics.jsonl back: name -> (steps, values). Lines that do not parse (torn) are skipped.
std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> read_metrics(const std::string& path);

}  // namespace duel::train
