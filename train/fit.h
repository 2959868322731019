// The one training loop of the zoo. For every model, GAN or DQN:
//
//   options   given (command line) > stored in the run's checkpoint > presets > defaults;
//             a resumed run refuses options given with a value other than the checkpoint's
//   resume    state restored from the run folder's checkpoint, metrics.jsonl cut back to it
//   loop      for step = start .. steps-1:
//               model.step(step)
//               every --log-every:        values() logged, shown, checked for NaN/inf
//               every --sample-every:     snapshot() (pictures, evaluation), logged
//               every --checkpoint-every: atomic checkpoint (weights checked finite first)
//   end       final checkpoint, plots, summary; Ctrl-C/SIGTERM checkpoint and stop early
//
// A run that diverges (a non-finite loss or weight) stops with an error naming the step and
// the value; its last good checkpoint stays in place.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "train/model.h"
#include "train/registry.h"
#include "train/run.h"

namespace duel::train {

struct FitResult {
  int64_t step = 0;        // iterations done
  bool completed = false;  // reached --steps
  int signal = 0;          // SIGINT/SIGTERM that stopped it, 0 otherwise
};

// Trains the model named by run.options().model (registry), resuming from the run's folder.
FitResult fit(Run& run);
// Trains a model described by `info` (with_common_options applied), registered or not.
FitResult fit(Run& run, const ModelInfo& info);

// Resolves the run's options against the model's declared ones: the command-line (extra and
// the non-zero typed fields of RunOptions) win, then `stored` (a resumed checkpoint's), then
// presets and defaults. When `resuming`, a given option that differs from the stored value is
// an error listing every such option. Writes the resolved common options back into `ro`.
Options resolve_run_options(const ModelInfo& info, RunOptions& ro, const std::map<std::string, std::string>& stored,
                            bool resuming);

// For `duel sample` / `duel eval`: rebuilds the model of a trained run from the options its
// checkpoint stores and loads its networks. Reads the folder, writes nothing.
std::unique_ptr<Model> load_trained_model(Run& run, Options* options = nullptr);

}  // namespace duel::train
