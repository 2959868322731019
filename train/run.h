// A training run: its folder, configuration, metrics log, checkpoints and the
// signal handling that makes runs resumable.
//
// Every run writes to its own folder:
//   config.txt      the options it was started with (key = value)
//   metrics.jsonl   one JSON object per logged step
//   checkpoint.duel the latest checkpoint (written atomically; verified on load)
//   samples_*.png   sample grids / pictures, losses.png the loss curves
//
// Resuming: starting a run whose folder holds a checkpoint continues from it
// (model, optimizer state, random-generator state, data position, step), so a
// run killed at any moment, even with kill -9, loses at most the steps since
// its last checkpoint. Ctrl-C (SIGINT) and SIGTERM set a flag that the training
// loop checks: it then writes a checkpoint and exits cleanly.
#pragma once
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/module.h"
#include "nn/optim.h"
#include "tensor/random.h"
#include "tensor/serialize.h"

namespace duel::train {

// Options common to every model (the command line fills them; models read their own extras).
struct RunOptions {
  std::string model;
  std::string out_dir;                   // default runs/<model>
  std::string device = "cpu";
  uint64_t seed = 0;
  int64_t steps = 0;                     // 0 = the model's default
  int64_t log_every = 50;
  int64_t sample_every = 500;
  int64_t checkpoint_every = 0;          // 0 = the model's default (checkpoint_interval)
  bool resume = true;                    // continue from out_dir/checkpoint.duel if present
  bool quiet = false;
  std::map<std::string, std::string> extra;  // model-specific --key value options

  // Steps between checkpoints: --checkpoint-every if given, else the model's default (the GANs
  // use 200 iterations; dqn 50000 frames, since its checkpoint carries the replay buffer).
  int64_t checkpoint_interval(int64_t model_default) const { return checkpoint_every > 0 ? checkpoint_every : model_default; }

  std::string get(const std::string& key, const std::string& fallback) const;
  double get(const std::string& key, double fallback) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
};

// Things a checkpoint saves and restores together.
struct Checkpointable {
  std::vector<std::pair<std::string, nn::Module*>> modules;
  std::vector<std::pair<std::string, optim::Optimizer*>> optimizers;
  std::vector<std::pair<std::string, Generator*>> generators;
};

class Run {
 public:
  explicit Run(RunOptions options);
  ~Run();

  const RunOptions& options() const { return opt_; }
  const std::string& dir() const { return opt_.out_dir; }
  std::string path(const std::string& file) const { return opt_.out_dir + "/" + file; }
  Device device() const { return Device(opt_.device); }

  // Saves modules, optimizers, generators, `step` and extra metadata atomically.
  void save_checkpoint(const Checkpointable& state, int64_t step, std::map<std::string, std::string> meta = {});
  // Restores them if a checkpoint exists and resume is on; returns the step to continue from
  // (0 when starting fresh). Throws a clear error if the checkpoint belongs to another model.
  int64_t maybe_resume(const Checkpointable& state, std::map<std::string, std::string>* meta = nullptr);

  // Appends {"step": step, key: value...} to metrics.jsonl.
  void log_metrics(int64_t step, const std::vector<std::pair<std::string, double>>& values);
  // Draws the logged series whose names are given into losses.png.
  void plot_metrics(const std::vector<std::string>& names, const std::string& file = "losses.png",
                    const std::string& title = "") const;

  // True once SIGINT/SIGTERM arrived (the loop should checkpoint and return).
  static bool interrupted();
  // For tests: stop as if interrupted after `step` (negative = never).
  static void set_stop_after(int64_t step);
  static bool should_stop(int64_t step);

 private:
  RunOptions opt_;
  std::ofstream metrics_;
};

// Reads metrics.jsonl back: name -> (steps, values).
std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> read_metrics(const std::string& path);

}  // namespace duel::train
