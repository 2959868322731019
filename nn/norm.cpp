#include "nn/norm.h"

#include <sstream>

#include "autograd/grad_mode.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/nn_ops.h"
#include "tensor/ops/reduction.h"
#include "tensor/ops/shape_ops.h"

namespace duel::nn {
namespace {
std::string fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
std::string tf(bool b) { return b ? "True" : "False"; }

std::function<Tensor(const Tensor&)>& batch_norm_sync() {
  static std::function<Tensor(const Tensor&)> sync;
  return sync;
}
}  // namespace

void set_batch_norm_sync(std::function<Tensor(const Tensor&)> all_reduce_sum) {
  batch_norm_sync() = std::move(all_reduce_sum);
}

// ---------------------------------------------------------------- BatchNorm

BatchNorm::BatchNorm(int64_t c, double eps, double momentum, bool affine, bool track)
    : num_features(c), eps(eps), momentum(momentum), affine(affine), track_running_stats(track) {
  DUEL_CHECK(c > 0, "BatchNorm: num_features must be positive, got ", c);
  if (affine) {
    weight = register_parameter("weight", ones({c}));
    bias = register_parameter("bias", zeros({c}));
  }
  if (track) {
    running_mean = register_buffer("running_mean", zeros({c}));
    running_var = register_buffer("running_var", ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, TensorOptions(kInt64)));
  }
}

void BatchNorm::reset_running_stats() {
  if (!track_running_stats) return;
  NoGradGuard ng;
  running_mean.zero_();
  running_var.fill_(1.0);
  num_batches_tracked.zero_();
}

void BatchNorm::reset_parameters() {
  reset_running_stats();
  if (!affine) return;
  NoGradGuard ng;
  weight.fill_(1.0);
  bias.zero_();
}

Tensor BatchNorm::forward(const Tensor& x) {
  check_input(x);
  DUEL_CHECK(x.dim() >= 2 && x.size(1) == num_features, type_name(), ": expected an input with ", num_features,
             " channels in dim 1, got shape ", shape_str(x.sizes()));
  if (training_ && track_running_stats) {
    NoGradGuard ng;
    num_batches_tracked.add_(1.0);
  }
  if (training_ && batch_norm_sync()) return synchronised_forward(x);
  // training: batch statistics (running ones updated when tracked); eval: running statistics,
  // or batch statistics when none are tracked (running_mean/var are then undefined)
  return batch_norm(x, weight, bias, running_mean, running_var, training_ || !track_running_stats, momentum, eps);
}

// Batch statistics over every process (set_batch_norm_sync), with differentiable ops: the sums
// go through the sync function, whose backward sums the gradients over the processes. Two
// passes (the mean, then the centred squares) as the fused kernel does, not E[x^2] - E[x]^2.
Tensor BatchNorm::synchronised_forward(const Tensor& x) {
  const auto& sync = batch_norm_sync();
  Dims reduce = {0};
  for (int64_t d = 2; d < x.dim(); ++d) reduce.push_back(d);
  Shape cs(x.dim(), 1);
  cs[1] = num_features;
  const double local_count = (double)(x.numel() / num_features);
  Tensor sums = sync(cat({sum(x, reduce), full({1}, local_count, TensorOptions(x.dtype(), x.device()))}, 0));
  const double n = sums.narrow(0, num_features, 1).item();
  DUEL_CHECK(n > 1, type_name(), ": expected more than 1 value per channel over all processes when training, got input shape ",
             shape_str(x.sizes()));
  Tensor mu = sums.narrow(0, 0, num_features) / n;
  Tensor xc = x - mu.reshape(cs);
  Tensor var = sync(sum(xc * xc, reduce)) / n;  // biased, for normalising
  Tensor y = xc * rsqrt(var + eps).reshape(cs);
  if (affine) y = y * weight.reshape(cs) + bias.reshape(cs);
  if (track_running_stats) {
    NoGradGuard ng;
    running_mean.mul_(1.0 - momentum).add_(mu.detach(), momentum);
    running_var.mul_(1.0 - momentum).add_(var.detach() * (n / (n - 1)), momentum);
  }
  return y;
}

std::string BatchNorm::extra_repr() const {
  return std::to_string(num_features) + ", eps=" + fmt(eps) + ", momentum=" + fmt(momentum) +
         ", affine=" + tf(affine) + ", track_running_stats=" + tf(track_running_stats);
}

void BatchNorm1d::check_input(const Tensor& x) const {
  DUEL_CHECK(x.dim() == 2 || x.dim() == 3, "BatchNorm1d: expected a 2-D [N, C] or 3-D [N, C, L] input, got shape ",
             shape_str(x.sizes()));
}

void BatchNorm2d::check_input(const Tensor& x) const {
  DUEL_CHECK(x.dim() == 4, "BatchNorm2d: expected a 4-D input [N, C, H, W], got shape ", shape_str(x.sizes()));
}

// ---------------------------------------------------------------- InstanceNorm2d

InstanceNorm2d::InstanceNorm2d(int64_t c, double eps, double momentum, bool affine, bool track)
    : num_features(c), eps(eps), momentum(momentum), affine(affine), track_running_stats(track) {
  DUEL_CHECK(c > 0, "InstanceNorm2d: num_features must be positive, got ", c);
  if (affine) {
    weight = register_parameter("weight", ones({c}));
    bias = register_parameter("bias", zeros({c}));
  }
  if (track) {
    running_mean = register_buffer("running_mean", zeros({c}));
    running_var = register_buffer("running_var", ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, TensorOptions(kInt64)));
  }
}

Tensor InstanceNorm2d::forward(const Tensor& input) {
  DUEL_CHECK(input.dim() == 3 || input.dim() == 4,
             "InstanceNorm2d: expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got shape ",
             shape_str(input.sizes()));
  Tensor x = input.dim() == 3 ? input.unsqueeze(0) : input;
  DUEL_CHECK(x.size(1) == num_features, "InstanceNorm2d: expected ", num_features, " channels, got input of shape ",
             shape_str(input.sizes()));
  Tensor y;
  if (training_ || !track_running_stats) {
    if (training_ && track_running_stats) {
      NoGradGuard ng;
      const int64_t hw = x.size(2) * x.size(3);
      DUEL_CHECK(hw > 1, "InstanceNorm2d: expected more than 1 spatial element per channel when training, got shape ",
                 shape_str(input.sizes()));
      Tensor xd = x.detach();
      Tensor mu = mean(mean(xd, {2, 3}), {0});                     // [C]
      Tensor v = mean(var(xd, {2, 3}, /*unbiased=*/true), {0});    // [C]
      running_mean.mul_(1.0 - momentum).add_(mu, momentum);
      running_var.mul_(1.0 - momentum).add_(v, momentum);
      // (num_batches_tracked is not advanced: PyTorch's InstanceNorm leaves it at 0)
    }
    y = instance_norm(x, weight, bias, eps);
  } else {
    Shape cs{1, num_features, 1, 1};
    y = (x - running_mean.reshape(cs)) * rsqrt(running_var.reshape(cs) + eps);
    if (affine) y = y * weight.reshape(cs) + bias.reshape(cs);
  }
  return input.dim() == 3 ? y.squeeze(0) : y;
}

std::string InstanceNorm2d::extra_repr() const {
  return std::to_string(num_features) + ", eps=" + fmt(eps) + ", momentum=" + fmt(momentum) +
         ", affine=" + tf(affine) + ", track_running_stats=" + tf(track_running_stats);
}

// ---------------------------------------------------------------- LayerNorm

LayerNorm::LayerNorm(Shape shape, double eps, bool affine)
    : normalized_shape(std::move(shape)), eps(eps), elementwise_affine(affine) {
  DUEL_CHECK(!normalized_shape.empty(), "LayerNorm: normalized_shape must not be empty");
  if (affine) {
    weight = register_parameter("weight", ones(normalized_shape));
    bias = register_parameter("bias", zeros(normalized_shape));
  }
}

Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, normalized_shape, weight, bias, eps); }

std::string LayerNorm::extra_repr() const {
  std::string s = "(";
  for (size_t i = 0; i < normalized_shape.size(); ++i) s += (i ? ", " : "") + std::to_string(normalized_shape[i]);
  if (normalized_shape.size() == 1) s += ",";
  return s + "), eps=" + fmt(eps) + ", elementwise_affine=" + tf(elementwise_affine);
}

}  // namespace duel::nn
