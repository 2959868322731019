// Where a model's real samples come from, by name, with their labels: Fashion-MNIST (IDX
// files from Debian's dataset-fashion-mnist, or $DUEL_FASHION_MNIST_DIR) and the toy 2-D
// mixtures of the WGAN-GP paper. Also the pictures and toy metrics every GAN writes, and a
// labelled subset with a recorded seed for the semi-supervised models.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/idx.h"
#include "data/loader.h"
#include "data/toy.h"
#include "train/run.h"

namespace duel::gan {

// The names DataSource accepts (for option declarations).
const std::vector<std::string>& data_source_names();  // fashion-mnist, 8gaussians, 25gaussians, swissroll
const std::vector<std::string>& toy_data_names();     // the toy ones

struct LabelledBatch {
  Tensor x;  // images float32 [B, 1, 28, 28] in [-1, 1], or toy points [B, 2]
  Tensor y;  // int64 [B]: class ids (Fashion-MNIST); undefined for toy data
};

// Real samples, batch by batch. The data set is read on first use, so a model built only to
// sample or evaluate never reads it. Its position (epoch, batch) and the toy sampler's random
// stream are part of a checkpoint (add_to).
//
// Data-parallel (dist/dist.h): with N ranks the batch size is per rank; every rank draws the
// global batch of N * batch_size samples and returns its own shard of it (rank r: rows
// r * batch_size ...), so N ranks see what one process with the global batch would. The saved
// position counts per-rank batches, so a run resumes on any number of ranks.
class DataSource {
 public:
  DataSource(const std::string& name, int64_t batch_size, uint64_t seed, Device device);
  // Batches of the labelled subset only: `per_class` training images of each class chosen by
  // `subset_seed` (labelled_subset), reshuffled every epoch (the semi-supervised models).
  static DataSource labelled(int64_t per_class, uint64_t subset_seed, int64_t batch_size, uint64_t seed, Device device);
  Tensor next() { return next_labelled().x; }
  LabelledBatch next_labelled();
  bool is_image() const { return !toy_.has_value(); }
  const std::string& name() const { return name_; }
  const ToyDistribution& toy() const { return *toy_; }
  int64_t batch_size() const { return batch_; }
  // Registers the data position and the toy stream with a checkpoint, as `name` and
  // `name`_position (a model with two sources gives the second another name).
  void add_to(train::Checkpointable& s, const std::string& name = "data");
  // A fixed evaluation set of real samples (the test split for images).
  Tensor evaluation_set(int64_t n) const;

 private:
  void open();
  Tensor shard(const Tensor& global) const;  // this rank's rows of a global batch
  std::string name_;
  int64_t batch_;
  uint64_t seed_;
  Device device_;
  std::optional<ToyDistribution> toy_;
  Generator gen_;
  std::unique_ptr<DataLoader> loader_;
  std::string position_;  // "epoch:batch", kept current for checkpoints
  int64_t per_class_ = 0;  // > 0: the labelled subset only
  uint64_t subset_seed_ = 0;
  int ranks_ = 1, rank_ = 0;  // data-parallel: the world size and this process's rank
};

// `per_class` images of each class of `data`, chosen by a Philox permutation seeded with
// `seed` (the same seed gives the same subset; record it with the results).
ImageDataset labelled_subset(const ImageDataset& data, int64_t per_class, uint64_t seed);

// z ~ N(0, I), [n, dim] (or [n, dim, 1, 1] when `image_shape` is set).
Tensor sample_noise(int64_t n, int64_t dim, Generator& gen, Device device, bool image_shape = false);
// The same for a training batch of n per rank: with N data-parallel ranks, this rank's n rows of
// the N * n drawn (every rank draws them all from the same stream); sample_noise in one process.
Tensor sample_noise_shard(int64_t n, int64_t dim, Generator& gen, Device device, bool image_shape = false);
// Any per-sample draw of a training step (classes, codes, interpolation weights, binarisation
// noise) for n samples per rank: draw(N * n) on every rank, from the same stream position, and
// this rank's rows rank * n ... (rank + 1) * n of it; draw(n) in one process. So N ranks draw
// what one process with the global batch would, and the stream advances alike everywhere.
Tensor draw_shard(int64_t n, const std::function<Tensor(int64_t)>& draw);

// Writes the picture for `samples` at `step` (samples_<step>.png and samples_latest.png): an
// image grid of `columns` per row, or for toy data a scatter of real and generated points over
// `field` (e.g. the critic's values on grid_points).
void save_samples(train::Run& run, const DataSource& data, const Tensor& samples, int64_t step,
                  const Tensor& field = {}, const std::string& field_name = "", int64_t columns = 8);

// Toy mixtures: modes covered and high-quality fraction (VEEGAN/PacGAN) of `samples`.
std::vector<std::pair<std::string, double>> toy_metrics(const DataSource& data, const Tensor& samples);

}  // namespace duel::gan
