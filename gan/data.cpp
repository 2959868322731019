#include "gan/data.h"

#include <algorithm>
#include <cstdio>

#include "data/image.h"
#include "dist/dist.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/shape_ops.h"

namespace duel::gan {

const std::vector<std::string>& data_source_names() {
  static const std::vector<std::string> names = {"fashion-mnist", "8gaussians", "25gaussians", "swissroll"};
  return names;
}

const std::vector<std::string>& toy_data_names() {
  static const std::vector<std::string> names = {"8gaussians", "25gaussians", "swissroll"};
  return names;
}

DataSource::DataSource(const std::string& name, int64_t batch_size, uint64_t seed, Device device)
    : name_(name),
      batch_(batch_size),
      seed_(seed),
      device_(device),
      gen_(seed * 7919 + 17),
      position_("0:0"),
      ranks_(dist::world_size()),
      rank_(dist::rank()) {
  DUEL_CHECK(batch_size >= 1, "data: the batch size must be at least 1, got ", batch_size);
  if (name != "fashion-mnist") toy_ = ToyDistribution::from_name(name);  // throws listing the valid names
}

DataSource DataSource::labelled(int64_t per_class, uint64_t subset_seed, int64_t batch_size, uint64_t seed, Device device) {
  DUEL_CHECK(per_class >= 1, "data: the labelled subset needs at least 1 image per class, got ", per_class);
  DataSource d("fashion-mnist", batch_size, seed, device);
  d.per_class_ = per_class;
  d.subset_seed_ = subset_seed;
  return d;
}

void DataSource::open() {
  if (toy_ || loader_) return;
  ImageDataset ds = load_fashion_mnist("train");
  if (per_class_ > 0) ds = labelled_subset(ds, per_class_, subset_seed_);
  const int64_t global = batch_ * ranks_;
  DUEL_CHECK(ds.size() >= global, "data: --batch ", batch_, ranks_ > 1 ? " times " + std::to_string(ranks_) + " ranks" : "",
             " is larger than the data set (", ds.size(),
             per_class_ > 0 ? " labelled images" : " images in " + fashion_mnist_dir(), "); use a batch of at most ",
             ds.size() / ranks_);
  DataLoaderOptions o;
  o.batch_size = global;
  o.seed = seed_;
  o.drop_last = true;
  o.device = device_;
  loader_ = std::make_unique<DataLoader>(ds.images, ds.labels, o);
  // position_ counts per-rank batches (`batch_` images each), the same with any number of ranks:
  // a run resumed on another number of ranks continues at the first global batch not begun
  LoaderPosition p = LoaderPosition::parse(position_);
  if (ranks_ > 1) {
    const int64_t b = (p.batch + ranks_ - 1) / ranks_;
    if (b * ranks_ != p.batch && rank_ == 0)
      std::printf("data: resumed on %d ranks at %lld images into epoch %lld, not a whole global batch of %lld: "
                  "skipping %lld images\n",
                  ranks_, (long long)(p.batch * batch_), (long long)p.epoch, (long long)global,
                  (long long)((b * ranks_ - p.batch) * batch_));
    p.batch = std::min(b, loader_->batches_per_epoch());
  }
  loader_->set_position(p);
}

Tensor DataSource::shard(const Tensor& global) const {
  if (ranks_ == 1 || !global.defined()) return global;
  return global.narrow(0, rank_ * batch_, batch_).contiguous();
}

// With several ranks every rank draws the whole global batch (the same on all) and keeps its
// own `batch_` rows, so the ranks together see exactly what one process with the global batch
// would see.
LabelledBatch DataSource::next_labelled() {
  if (toy_) return {shard(toy_->sample(batch_ * ranks_, gen_)).to(device_), Tensor()};
  open();
  auto b = loader_->next();
  if (!b) b = loader_->next();  // end of epoch: the next call starts the next epoch
  DUEL_CHECK(b.has_value(), "data: no batch of ", batch_ * ranks_, " from ", name_);
  LoaderPosition p = loader_->position();
  p.batch *= ranks_;
  position_ = p.str();
  return {shard(b->inputs), shard(b->labels)};
}

void DataSource::add_to(train::Checkpointable& s, const std::string& name) {
  s.add(name, gen_);
  s.add(name + "_position", position_);
}

Tensor DataSource::evaluation_set(int64_t n) const {
  if (toy_) {
    Generator g(4242);
    return toy_->sample(n, g);
  }
  return load_fashion_mnist("test", "", true, n).images;
}

ImageDataset labelled_subset(const ImageDataset& data, int64_t per_class, uint64_t seed) {
  DUEL_CHECK(per_class >= 1, "labelled_subset: expected at least 1 image per class, got ", per_class);
  Generator gen(seed);
  std::vector<int64_t> order = randperm(data.size(), &gen).to_vector<int64_t>();
  std::vector<int64_t> labels = data.labels.to_vector<int64_t>();
  std::vector<int64_t> count(10, 0), chosen;
  for (int64_t i : order) {
    int64_t c = labels[i];
    DUEL_CHECK(c >= 0 && c < 10, "labelled_subset: label ", c, " of image ", i, " is outside 0..9");
    if (count[c] < per_class) {
      ++count[c];
      chosen.push_back(i);
    }
  }
  for (int c = 0; c < 10; ++c)
    DUEL_CHECK(count[c] == per_class, "labelled_subset: class ", c, " has only ", count[c], " images, ", per_class,
               " asked for");
  std::sort(chosen.begin(), chosen.end());
  Tensor idx = from_buffer(chosen.data(), {(int64_t)chosen.size()}, kInt64);
  return {index_select(data.images, 0, idx), index_select(data.labels, 0, idx)};
}

Tensor sample_noise(int64_t n, int64_t dim, Generator& gen, Device device, bool image_shape) {
  Shape s = image_shape ? Shape{n, dim, 1, 1} : Shape{n, dim};
  return randn(s, TensorOptions(kFloat32, device), &gen);
}

Tensor sample_noise_shard(int64_t n, int64_t dim, Generator& gen, Device device, bool image_shape) {
  return draw_shard(n, [&](int64_t k) { return sample_noise(k, dim, gen, device, image_shape); });
}

Tensor draw_shard(int64_t n, const std::function<Tensor(int64_t)>& draw) {
  const int ranks = dist::world_size();
  if (ranks == 1) return draw(n);
  return draw(n * ranks).narrow(0, dist::rank() * n, n).contiguous();
}

void save_samples(train::Run& run, const DataSource& data, const Tensor& samples, int64_t step, const Tensor& field,
                  const std::string& field_name, int64_t columns) {
  char name[64];
  std::snprintf(name, sizeof name, "samples_%07lld.png", (long long)step);
  if (data.is_image()) {
    save_image_grid(run.path(name), samples.to(kCPU), (int)columns, 2, 2);
    save_image_grid(run.path("samples_latest.png"), samples.to(kCPU), (int)columns, 2, 2);
    return;
  }
  ScatterOptions so;
  so.x_min = so.y_min = -2.0;  // the toy data sets live in [-2, 2]^2 after scaling
  so.x_max = so.y_max = 2.0;
  so.title = run.options().model + " on " + data.name() + ", step " + std::to_string(step) +
             (field_name.empty() ? "" : " (" + field_name + ")");
  Tensor real = data.evaluation_set(512);
  std::vector<PointSet> pts = {{"real", real, 0xff7f0e}, {"generated", samples.to(kCPU), 0x2ca02c}};
  plot_scatter_with_contour(run.path(name), field, pts, so);
  plot_scatter_with_contour(run.path("samples_latest.png"), field, pts, so);
}

std::vector<std::pair<std::string, double>> toy_metrics(const DataSource& data, const Tensor& samples) {
  if (data.is_image() || !data.toy().has_modes()) return {};
  ModeCoverage mc = mode_coverage(samples.to(kCPU), data.toy().centres(), data.toy().mode_std());
  return {{"modes_covered", (double)mc.modes_covered}, {"high_quality", mc.high_quality_fraction}};
}

}  // namespace duel::gan
