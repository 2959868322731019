// What a model of the zoo provides to the shared training loop (train/fit.h) and to the
// `duel` command: its checkpointed state, one training step, its latest losses, a periodic
// snapshot (sample pictures, evaluation) and, for generators, samples.
//
// A model never handles resume, cadence, progress bars, the final checkpoint, signals or
// divergence: fit() does, the same way for every model.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "train/options.h"
#include "train/run.h"

namespace duel::train {

using Metrics = std::vector<std::pair<std::string, double>>;

struct EvalRequest {
  int64_t n = 0;             // samples (generators) or episodes (agents); 0 = the model's default
  std::string judge_path;    // "" = gan::default_judge_path()
  // `duel eval --birthday`: the birthday-paradox support estimate instead (gan/birthday.h)
  bool birthday = false;
  int64_t birthday_batches = 0;  // batches per s (0 = the test's default)
  int64_t birthday_s_max = 0;    // largest batch size tried (0 = default)
  std::string birthday_out;      // picture of the closest pairs ("" = <run>/birthday_pairs.png)
};

class Model {
 public:
  virtual ~Model() = default;

  // Everything a checkpoint saves and restores (networks, optimizers, random generators,
  // data position, counters), each under its name.
  virtual void state(Checkpointable& s) = 0;
  // One training iteration; `step` counts the iterations done before it (0, 1, ...).
  virtual void step(int64_t step) = 0;
  // The latest losses and statistics: logged to metrics.jsonl every --log-every steps, shown
  // on the progress bar, and checked for NaN/inf (a non-finite value stops the run).
  virtual Metrics values() = 0;
  // Values to log right after this step, whatever the cadence (an episode's return when an
  // episode ended); none by default.
  virtual Metrics events() { return {}; }
  // Every --sample-every steps and at the end: pictures and evaluations; the returned values
  // are logged at `step` (the number of iterations done).
  virtual Metrics snapshot(Run& run, int64_t step) {
    (void)run, (void)step;
    return {};
  }
  // Data-parallel: called on every rank just before rank 0 writes a checkpoint (a collective
  // point: every rank calls it at the same step), for a model whose checkpoint must hold state
  // the other ranks have (char-rnn's carried hidden states); nothing by default.
  virtual void before_checkpoint() {}
  // After the state was restored from a checkpoint at `step` (before the first step).
  virtual void resumed(Run& run, int64_t step) { (void)run, (void)step; }
  // After the loop (completed or interrupted): plots, a summary line.
  virtual void finish(Run& run, bool completed) { (void)run, (void)completed; }
  // The series drawn into losses.png at the end (and by `duel report`).
  virtual std::vector<std::string> plotted() const { return {}; }

  // ---- for `duel sample` and `duel eval` (the state is loaded from the run's checkpoint) ----
  // n samples: images [n, C, H, W] or points [n, 2]. Models that generate nothing throw.
  virtual Tensor sample(int64_t n, Generator& gen);
  // `duel sample`: writes n samples to `path`, by default as a picture (an image grid of
  // sample(), or a scatter of 2-D points); text models write text. The file's extension when
  // the user names none: sample_file_extension().
  virtual void write_samples(int64_t n, Generator& gen, const std::string& path);
  virtual std::string sample_file_extension() const { return ".png"; }
  // Prints the model's evaluation of a trained run.
  virtual void evaluate(Run& run, const EvalRequest& request) = 0;
};

}  // namespace duel::train
