// Normalisation layers: BatchNorm1d, BatchNorm2d, InstanceNorm2d, LayerNorm.
// State-dict keys as PyTorch: weight, bias, running_mean, running_var, num_batches_tracked.
#pragma once
#include <functional>

#include "nn/module.h"

namespace duel::nn {

// Batch normalisation over all dims but the channel dim 1.
// training: normalises with the batch statistics and (track_running_stats)
// updates running_mean / running_var (unbiased) with `momentum`:
//   running = (1 - momentum) * running + momentum * batch_stat;
// eval: normalises with the running statistics (or with batch statistics when
// track_running_stats is false, as PyTorch). affine adds weight (ones) and bias (zeros).
class BatchNorm : public Module {
 public:
  BatchNorm(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true,
            bool track_running_stats = true);
  Tensor forward(const Tensor& x) override;
  void reset_running_stats();
  void reset_parameters();
  std::string extra_repr() const override;

  int64_t num_features;
  double eps, momentum;
  bool affine, track_running_stats;
  Tensor weight, bias;                                      // [C] (undefined without affine)
  Tensor running_mean, running_var, num_batches_tracked;   // [C], [C], int64 0-d (undefined without tracking)

 protected:
  virtual void check_input(const Tensor& /*x*/) const {}
  Tensor synchronised_forward(const Tensor& x);
};

// Synchronised batch norm for data-parallel training (dist/dist.h, --sync-bn): when set, every
// BatchNorm in training mode takes its batch statistics (mean, biased variance for normalising,
// unbiased for the running variance) over the samples of all processes. `all_reduce_sum` sums
// a tensor over the processes and is differentiable (dist::all_reduce_sum), so the gradients
// flow through the shared statistics as in one process with the whole batch. Unset (the
// default): each process normalises with its own batch, as DDP does.
void set_batch_norm_sync(std::function<Tensor(const Tensor&)> all_reduce_sum);

// Input [N, C] or [N, C, L].
class BatchNorm1d : public BatchNorm {
 public:
  using BatchNorm::BatchNorm;

 protected:
  void check_input(const Tensor& x) const override;
};

// Input [N, C, H, W].
class BatchNorm2d : public BatchNorm {
 public:
  using BatchNorm::BatchNorm;

 protected:
  void check_input(const Tensor& x) const override;
};

// Per-sample, per-channel normalisation over H, W; input [N, C, H, W] (or [C, H, W]).
// Defaults as PyTorch: affine = false, track_running_stats = false. With
// track_running_stats, training also updates running_mean/var (the instance
// statistics averaged over the batch, variance unbiased) and eval normalises
// with them (num_batches_tracked exists for PyTorch key compatibility and, as
// in PyTorch, is never advanced).
class InstanceNorm2d : public Module {
 public:
  InstanceNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = false,
                 bool track_running_stats = false);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t num_features;
  double eps, momentum;
  bool affine, track_running_stats;
  Tensor weight, bias;
  Tensor running_mean, running_var, num_batches_tracked;
};

// Normalises over the trailing dims `normalized_shape`; weight ones, bias zeros of that shape.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Shape normalized_shape;
  double eps;
  bool elementwise_affine;
  Tensor weight, bias;
};

}  // namespace duel::nn
