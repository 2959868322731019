#include "gan/common.h"

#include "data/idx.h"
#include "data/image.h"
#include "tensor/ops/elementwise.h"

namespace duel::gan {

DataSource::DataSource(const std::string& name, int64_t batch_size, uint64_t seed, Device device)
    : name_(name), batch_(batch_size), device_(device), gen_(seed * 7919 + 17) {
  if (name == "fashion-mnist") {
    ImageDataset ds = load_fashion_mnist("train");
    DataLoaderOptions o;
    o.batch_size = batch_size;
    o.seed = seed;
    o.drop_last = true;
    o.device = device;
    loader_ = std::make_unique<DataLoader>(ds.images, Tensor(), o);
  } else {
    toy_ = ToyDistribution::from_name(name);  // throws listing the valid names
  }
}

Tensor DataSource::next() {
  if (toy_) return toy_->sample(batch_, gen_).to(device_);
  auto b = loader_->next();
  if (!b) b = loader_->next();  // end of epoch: the next call starts the next epoch
  return b->inputs;
}

std::string DataSource::position() const { return loader_ ? loader_->position().str() : ""; }
void DataSource::set_position(const std::string& pos) {
  if (loader_ && !pos.empty()) loader_->set_position(LoaderPosition::parse(pos));
}

Tensor DataSource::evaluation_set(int64_t n) const {
  if (toy_) {
    Generator g(4242);
    return toy_->sample(n, g);
  }
  return load_fashion_mnist("test", "", true, n).images;
}

Tensor sample_noise(int64_t n, int64_t dim, Generator& gen, Device device, bool image_shape) {
  Shape s = image_shape ? Shape{n, dim, 1, 1} : Shape{n, dim};
  return randn(s, TensorOptions(kFloat32, device), &gen);
}

void save_samples(Run& run, const DataSource& data, const Tensor& samples, int64_t step, const Tensor& field,
                  const std::string& field_name) {
  char name[64];
  std::snprintf(name, sizeof name, "samples_%07lld.png", (long long)step);
  if (data.is_image()) {
    save_image_grid(run.path(name), samples.to(kCPU), 8, 2, 2);
    save_image_grid(run.path("samples_latest.png"), samples.to(kCPU), 8, 2, 2);
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

void load_module(const Run& run, const std::string& prefix, nn::Module& module) {
  Checkpoint ck = load_checkpoint(run.path("checkpoint.duel"));
  nn::StateDict d;
  for (auto& [k, t] : ck.tensors)
    if (k.rfind(prefix + ".", 0) == 0) d[k.substr(prefix.size() + 1)] = t;
  DUEL_CHECK(!d.empty(), "load_module: ", ck.path, " holds no module '", prefix, "'");
  module.load_state_dict(d);
}

std::vector<std::pair<std::string, double>> toy_metrics(const DataSource& data, const Tensor& samples) {
  if (data.is_image() || !data.toy().has_modes()) return {};
  ModeCoverage mc = mode_coverage(samples.to(kCPU), data.toy().centres(), data.toy().mode_std());
  return {{"modes_covered", (double)mc.modes_covered}, {"high_quality", mc.high_quality_fraction}};
}

}  // namespace duel::gan
