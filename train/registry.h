// The zoo's index: one entry per model with its name, survey section, paper, declared
// options and a factory. `duel list`, `duel train <model> --help`, `duel sample`, `duel eval`
// and docs/options.md are all generated from these entries; cli/ names no model.
//
// Adding a model: write gan/<name>.cpp with its options, networks and step(), give it an
// entry function (ModelInfo <name>_model()), and add that function to models() in
// train/registry.cpp.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "train/model.h"
#include "train/options.h"

namespace duel::train {

// Defaults of the options every model has (its steps, cadences and checkpoint interval).
struct RunDefaults {
  int64_t steps = 1000;
  int64_t log_every = 50;
  int64_t sample_every = 500;
  int64_t checkpoint_every = 200;
  std::string step_name = "iteration";  // what one step is ("iteration", "frame")
};

struct ModelInfo {
  std::string name;     // command-line name
  std::string section;  // survey section ("3.2.3"), "-" for tools
  std::string paper;    // authors, year, title
  std::string summary;  // one line
  bool generator = true;  // draws samples (duel sample, FCD)
  // The model's own options; models() puts the common ones (seed, steps, device, --out,
  // cadences, --no-resume, --quiet) in front, with this model's defaults, so that in a
  // registered entry this is the whole table that --help prints and a run stores.
  OptionTable options;
  std::vector<Preset> presets;  // defaults that depend on another option (--data, --env)
  RunDefaults defaults;
  // Tiny settings under which a few steps take well under a second (tests/train/test_zoo.cpp
  // trains, resumes and samples every registered model with them, on a tiny data set).
  std::map<std::string, std::string> test_options;
  std::function<std::unique_ptr<Model>(const Options&)> make;
};

const std::vector<ModelInfo>& models();
// `info` with the common options put in front of its own and its presets added: what models()
// does to each entry. For models outside the registry (an embedding program's own, tests),
// trained with fit(run, info).
ModelInfo with_common_options(ModelInfo info);
const ModelInfo& find_model(const std::string& name);  // throws listing the valid names

}  // namespace duel::train
