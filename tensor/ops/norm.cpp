// Normalisation layers.
//
// batch_norm (training): the forward is fused (statistics + normalise in two
// passes). The backward has two forms:
//   * no graph recorded (the usual training step): one fused kernel;
//   * create_graph (WGAN-GP's gradient penalty): the same formula written in
//     engine ops, with the batch mean and inverse standard deviation
//     RECOMPUTED from x by differentiable ops. Feeding the saved statistics in
//     as constants would give a correct first derivative and a wrong second
//     one, because they depend on x.
// layer_norm and instance_norm are composed of differentiable ops.
// Kernels, through DUEL_KERNEL (kernels/dispatch.h): CPU kernels/cpu/batch_norm.cpp; sim
// and CUDA kernels/cuda/batch_norm.cu, whose CUDA entry points hand over to cuDNN when
// cuda:batch_norm=cudnn (kernels/impl.h). This file does not know which implementation runs.
//
// batch_norm(), front to back:
//   check_batch_norm_args     shapes and dtypes, errors naming the op
//   batch_norm_eval           eval mode: a per-channel affine map in engine ops
//   batch_norm_train          training mode: the fused forward kernel (statistics + normalise),
//                             update_running_stats, and the backward node:
//     batch_norm_backward_fused      no graph recorded: one kernel
//     batch_norm_backward_composite  create_graph: engine ops (differentiable again)
#include "autograd/node.h"
#include "kernels/cpu/batch_norm.h"
#include "kernels/dispatch.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/nn_ops.h"
#include "tensor/ops/reduction.h"

namespace duel {
namespace {

bool force_composite_batch_norm = false;

// all dims but the channel dim 1
Dims non_channel_dims(const Tensor& x) {
  Dims d{0};
  for (int64_t i = 2; i < x.dim(); ++i) d.push_back(i);
  return d;
}

Shape channel_shape(const Tensor& x) {
  Shape s(x.dim(), 1);
  s[1] = x.size(1);
  return s;
}

// The training-mode backward written in differentiable ops.
TensorList batch_norm_backward_composite(const Tensor& g, const Tensor& x, const Tensor& weight, double eps,
                                         const NeedsGrad& needs) {
  Dims dims = non_channel_dims(x);
  Shape cs = channel_shape(x);
  Tensor mu = mean(x, dims, true);
  Tensor xc = x - mu;
  Tensor invstd = rsqrt(mean(xc * xc, dims, true) + eps);
  Tensor xhat = xc * invstd;
  Tensor gxhat = weight.defined() ? g * weight.reshape(cs) : g;
  Tensor gx;
  if (needs[0])
    gx = invstd * (gxhat - mean(gxhat, dims, true) - xhat * mean(gxhat * xhat, dims, true));
  Tensor gw = needs[1] ? sum(g * xhat, dims) : Tensor();
  Tensor gb = needs[2] ? sum(g, dims) : Tensor();
  return {gx, gw, gb};
}

}  // namespace

namespace detail {
void set_force_composite_batch_norm(bool on) { force_composite_batch_norm = on; }
}  // namespace detail

namespace {

void check_batch_norm_args(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                           const Tensor& running_var) {
  DUEL_CHECK(x.dim() >= 2, "batch_norm: expected an input [N, C, ...] with at least 2 dims, got shape ",
             shape_str(x.sizes()));
  DUEL_CHECK(is_floating(x.dtype()), "batch_norm: expected a floating input, got ", dtype_name(x.dtype()));
  const int64_t C = x.size(1);
  for (const Tensor* t : {&weight, &bias, &running_mean, &running_var})
    if (t->defined())
      DUEL_CHECK(t->dim() == 1 && t->size(0) == C, "batch_norm: per-channel parameter of shape ",
                 shape_str(t->sizes()), " does not match ", C, " channels of input ", shape_str(x.sizes()));
}

// y = (x - running_mean) / sqrt(running_var + eps) * weight + bias: engine ops, so every
// backend and every order of gradient comes for free.
Tensor batch_norm_eval(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                       const Tensor& running_var, double eps) {
  DUEL_CHECK(running_mean.defined() && running_var.defined(),
             "batch_norm: eval mode needs running_mean and running_var");
  Shape cs = channel_shape(x);
  Tensor y = (x - running_mean.reshape(cs)) * rsqrt(running_var.reshape(cs) + eps);
  if (weight.defined()) y = y * weight.reshape(cs);
  if (bias.defined()) y = y + bias.reshape(cs);
  return y;
}

// running = (1 - momentum) running + momentum batch, with the UNBIASED batch variance (as
// PyTorch does), from the kernel's mean and invstd = 1 / sqrt(biased var + eps).
void update_running_stats(const Tensor& running_mean, const Tensor& running_var, const Tensor& mu,
                          const Tensor& invstd, double momentum, double eps, double count) {
  NoGradGuard ng;
  if (running_mean.defined()) {
    Tensor rm = running_mean;
    rm.mul_(1.0 - momentum).add_(mu.to(rm.dtype()), momentum);
  }
  if (running_var.defined()) {
    Tensor var_unbiased = (pow(invstd, -2.0) - eps) * (count / (count - 1));
    Tensor rv = running_var;
    rv.mul_(1.0 - momentum).add_(var_unbiased.to(rv.dtype()), momentum);
  }
}

// The training-mode backward in one kernel, from the saved batch statistics.
TensorList batch_norm_backward_fused(const Tensor& g, const Tensor& x, const Tensor& w, const Tensor& mu,
                                     const Tensor& invstd, const NeedsGrad& needs) {
  const int64_t N = x.size(0), C = x.size(1), S = x.numel() / std::max<int64_t>(1, N * C);
  Tensor gc = g.contiguous(), xc = x.contiguous();
  Tensor gx = needs[0] ? empty(x.sizes(), TensorOptions(g.dtype(), g.device())) : Tensor();
  Tensor gw = needs[1] ? empty({C}, TensorOptions(g.dtype(), g.device())) : Tensor();
  Tensor gb = needs[2] ? empty({C}, TensorOptions(g.dtype(), g.device())) : Tensor();
  Tensor wc = w.defined() ? w.contiguous() : Tensor();
  DUEL_DISPATCH_FLOATING(g.dtype(), "batch_norm_backward", [&] {
    using T = scalar_t;
    DUEL_KERNEL(g.device(), batch_norm_backward<T>, gc.data<T>(), xc.data<T>(), mu.data<T>(), invstd.data<T>(),
                wc.defined() ? wc.data<T>() : nullptr, N, C, S, gx.defined() ? gx.data<T>() : nullptr,
                gw.defined() ? gw.data<T>() : nullptr, gb.defined() ? gb.data<T>() : nullptr);
  });
  return {gx, gw, gb};
}

Tensor batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, double momentum, double eps) {
  const int64_t N = x.size(0), C = x.size(1), S = x.numel() / std::max<int64_t>(1, N * C);
  DUEL_CHECK(N * S > 1, "batch_norm: expected more than 1 value per channel when training, got input shape ",
             shape_str(x.sizes()));
  Tensor xc = x.contiguous();
  const TensorOptions opts(x.dtype(), x.device());
  Tensor mu = empty({C}, opts), invstd = empty({C}, opts), y = empty(x.sizes(), opts);
  Tensor wc = weight.defined() ? weight.contiguous() : Tensor();
  Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  DUEL_DISPATCH_FLOATING(x.dtype(), "batch_norm", [&] {
    using T = scalar_t;
    DUEL_KERNEL(x.device(), batch_norm_forward<T>, xc.data<T>(), wc.defined() ? wc.data<T>() : nullptr,
                bc.defined() ? bc.data<T>() : nullptr, N, C, S, eps, mu.data<T>(), invstd.data<T>(), y.data<T>());
  });
  update_running_stats(running_mean, running_var, mu, invstd, momentum, eps, double(N * S));

  SavedTensor sx(x, "batch_norm"), sw(weight, "batch_norm");
  return autograd::record("batch_norm", y, {x, weight, bias},
                          [sx, sw, mu, invstd, eps](const Tensor& g, const NeedsGrad& needs) {
                            if (GradMode::is_enabled() || force_composite_batch_norm)
                              return batch_norm_backward_composite(g, sx.get(), sw.get(), eps, needs);
                            return batch_norm_backward_fused(g, sx.get(), sw.get(), mu, invstd, needs);
                          });
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  check_batch_norm_args(x, weight, bias, running_mean, running_var);
  if (!training) return batch_norm_eval(x, weight, bias, running_mean, running_var, eps);
  return batch_norm_train(x, weight, bias, running_mean, running_var, momentum, eps);
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  const int64_t k = (int64_t)normalized_shape.size();
  DUEL_CHECK(k >= 1 && k <= x.dim(), "layer_norm: normalized_shape ", shape_str(normalized_shape),
             " does not fit input of shape ", shape_str(x.sizes()));
  for (int64_t i = 0; i < k; ++i)
    DUEL_CHECK(x.size(x.dim() - k + i) == normalized_shape[i], "layer_norm: normalized_shape ",
               shape_str(normalized_shape), " does not match the trailing dims of input ", shape_str(x.sizes()));
  for (const Tensor* t : {&weight, &bias})
    if (t->defined())
      DUEL_CHECK(t->sizes() == normalized_shape, "layer_norm: weight/bias of shape ", shape_str(t->sizes()),
                 " should have shape ", shape_str(normalized_shape));
  Dims dims;
  for (int64_t i = x.dim() - k; i < x.dim(); ++i) dims.push_back(i);
  Tensor mu = mean(x, dims, true);
  Tensor xc = x - mu;
  Tensor y = xc * rsqrt(mean(xc * xc, dims, true) + eps);
  if (weight.defined()) y = y * weight;
  if (bias.defined()) y = y + bias;
  return y;
}

Tensor instance_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  DUEL_CHECK(x.dim() >= 3, "instance_norm: expected an input [N, C, spatial...], got shape ", shape_str(x.sizes()));
  Dims dims;
  for (int64_t i = 2; i < x.dim(); ++i) dims.push_back(i);
  Tensor mu = mean(x, dims, true);
  Tensor xc = x - mu;
  Tensor y = xc * rsqrt(mean(xc * xc, dims, true) + eps);
  Shape cs = channel_shape(x);
  if (weight.defined()) y = y * weight.reshape(cs);
  if (bias.defined()) y = y + bias.reshape(cs);
  return y;
}

}  // namespace duel
