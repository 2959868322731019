// Pieces every GAN shares: where the real samples come from (a toy 2-D
// mixture or Fashion-MNIST), the noise prior, and the periodic evaluation
// (sample pictures, mode coverage on the toy mixtures).
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "data/loader.h"
#include "data/toy.h"
#include "train/run.h"

namespace duel::gan {

using train::Checkpointable;
using train::Run;
using train::RunOptions;

// Real samples, batch by batch. Images are float32 [B, 1, 28, 28] in [-1, 1];
// toy samples float32 [B, 2].
class DataSource {
 public:
  // name: "fashion-mnist" or a toy distribution ("8gaussians", "25gaussians", "swissroll").
  DataSource(const std::string& name, int64_t batch_size, uint64_t seed, Device device);
  Tensor next();
  bool is_image() const { return !toy_.has_value(); }
  const std::string& name() const { return name_; }
  const ToyDistribution& toy() const { return *toy_; }
  Generator& generator() { return gen_; }  // the toy sampler's stream (checkpointed)
  // Data position for checkpoints (image data); toy data is covered by generator().
  std::string position() const;
  void set_position(const std::string& pos);
  // A fixed evaluation set of real samples (test split for images).
  Tensor evaluation_set(int64_t n) const;

 private:
  std::string name_;
  int64_t batch_;
  Device device_;
  std::optional<ToyDistribution> toy_;
  Generator gen_;
  std::unique_ptr<DataLoader> loader_;
};

// z ~ N(0, I), [n, dim] (or [n, dim, 1, 1] when `image_shape` is set).
Tensor sample_noise(int64_t n, int64_t dim, Generator& gen, Device device, bool image_shape = false);

// Writes the picture for `samples` at `step`: an image grid, or for toy data a
// scatter of real and generated points over `field` (e.g. the critic's values on grid_points).
void save_samples(Run& run, const DataSource& data, const Tensor& samples, int64_t step, const Tensor& field = {},
                  const std::string& field_name = "");

// Loads the module saved under `prefix` in the run's checkpoint (e.g. the generator "G").
void load_module(const Run& run, const std::string& prefix, nn::Module& module);

// Toy mixtures: modes covered and high-quality fraction (VEEGAN/PacGAN) of `samples`.
std::vector<std::pair<std::string, double>> toy_metrics(const DataSource& data, const Tensor& samples);

}  // namespace duel::gan
