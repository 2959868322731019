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
// CPU kernels: kernels/cpu/batch_norm.cpp. CUDA: kernels/cuda/batch_norm.cu, or cuDNN
// when selected at run time (kernels/cudnn/cudnn_ops.h; see use_cudnn below).
#include "autograd/node.h"
#include "kernels/cpu/batch_norm.h"
#include "kernels/cudnn/cudnn_ops.h"
#include "kernels/dispatch.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/nn_ops.h"
#include "tensor/ops/reduction.h"

namespace duel {
namespace {

bool force_composite_batch_norm = false;

// The run-time backend switch: CUDA tensors go through cuDNN instead of
// kernels/cuda/batch_norm.cu after set_conv_backend(ConvBackend::Cudnn) or with DUEL_CUDNN=1
// (training forward incl. the running-statistics update, eval forward, the fused backward);
// cpu and sim tensors never do. The create_graph backward stays the composite below under
// either backend. cudnn::batch_norm_* return false (nothing done) when cuDNN cannot take
// the call (eps below CUDNN_BN_MIN_EPSILON); duel's kernels then run as usual.
bool use_cudnn(const Tensor& t) { return t.device().type == DeviceType::CUDA && conv_backend() == ConvBackend::Cudnn; }

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

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  DUEL_CHECK(x.dim() >= 2, "batch_norm: expected an input [N, C, ...] with at least 2 dims, got shape ",
             shape_str(x.sizes()));
  DUEL_CHECK(is_floating(x.dtype()), "batch_norm: expected a floating input, got ", dtype_name(x.dtype()));
  const int64_t C = x.size(1);
  for (const Tensor* t : {&weight, &bias, &running_mean, &running_var})
    if (t->defined())
      DUEL_CHECK(t->dim() == 1 && t->size(0) == C, "batch_norm: per-channel parameter of shape ",
                 shape_str(t->sizes()), " does not match ", C, " channels of input ", shape_str(x.sizes()));
  Shape cs = channel_shape(x);

  if (!training) {
    DUEL_CHECK(running_mean.defined() && running_var.defined(),
               "batch_norm: eval mode needs running_mean and running_var");
    if (use_cudnn(x)) {
      Tensor y = empty(x.sizes(), TensorOptions(x.dtype(), x.device()));
      if (cudnn::batch_norm_forward_inference(x.contiguous(), weight, bias, running_mean, running_var, eps, y)) {
        // Eval-mode batch norm is a per-channel affine map y = x * scale + shift; its backward
        // in engine ops (differentiable again). The statistics are copied now: the running
        // buffers may be updated in place before backward runs.
        Tensor scale = rsqrt(running_var.detach().to(x.dtype()) + eps);
        Tensor rmean = running_mean.detach().to(x.dtype()).clone();
        SavedTensor sx(x, "batch_norm"), sw(weight, "batch_norm");
        return autograd::record("batch_norm", y, {x, weight, bias},
                                [sx, sw, scale, rmean, cs](const Tensor& g, const NeedsGrad& needs) {
                                  const Dims dims = non_channel_dims(g);
                                  const Tensor& w = sw.get();
                                  Tensor sc = scale.reshape(cs);
                                  Tensor gx = needs[0] ? g * (w.defined() ? sc * w.reshape(cs) : sc) : Tensor();
                                  Tensor gw = needs[1] ? sum(g * ((sx.get() - rmean.reshape(cs)) * sc), dims) : Tensor();
                                  Tensor gb = needs[2] ? sum(g, dims) : Tensor();
                                  return TensorList{gx, gw, gb};
                                });
      }
    }
    Tensor y = (x - running_mean.reshape(cs)) * rsqrt(running_var.reshape(cs) + eps);
    if (weight.defined()) y = y * weight.reshape(cs);
    if (bias.defined()) y = y + bias.reshape(cs);
    return y;
  }

  const int64_t N = x.size(0), S = x.numel() / std::max<int64_t>(1, N * C);
  DUEL_CHECK(N * S > 1, "batch_norm: expected more than 1 value per channel when training, got input shape ",
             shape_str(x.sizes()));
  Tensor xc = x.contiguous();
  Tensor mu = empty({C}, TensorOptions(x.dtype(), x.device()));
  Tensor invstd = empty({C}, TensorOptions(x.dtype(), x.device()));
  Tensor y = empty(x.sizes(), TensorOptions(x.dtype(), x.device()));
  Tensor wc = weight.defined() ? weight.contiguous() : Tensor();
  Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  // cuDNN computes the statistics, normalises and updates the running statistics in one call
  const bool via_cudnn = use_cudnn(x) && cudnn::batch_norm_forward_training(xc, wc, bc, running_mean, running_var,
                                                                             momentum, eps, y, mu, invstd);
  if (!via_cudnn) {
    DUEL_DISPATCH_FLOATING(x.dtype(), "batch_norm", [&] {
      using T = scalar_t;
      DUEL_KERNEL(x.device(), batch_norm_stats<T>, xc.data<T>(), N, C, S, eps, mu.data<T>(), invstd.data<T>());
      DUEL_KERNEL(x.device(), batch_norm_apply<T>, xc.data<T>(), mu.data<T>(), invstd.data<T>(),
                  wc.defined() ? wc.data<T>() : nullptr, bc.defined() ? bc.data<T>() : nullptr, N, C, S, y.data<T>());
    });
  }

  if (!via_cudnn && (running_mean.defined() || running_var.defined())) {
    NoGradGuard ng;
    const double m = N * S;
    if (running_mean.defined()) {
      Tensor rm = running_mean;
      rm.mul_(1.0 - momentum).add_(mu.to(rm.dtype()), momentum);
    }
    if (running_var.defined()) {
      // running_var tracks the unbiased variance (as PyTorch does)
      Tensor var_unbiased = (pow(invstd, -2.0) - eps) * (m / (m - 1));
      Tensor rv = running_var;
      rv.mul_(1.0 - momentum).add_(var_unbiased.to(rv.dtype()), momentum);
    }
  }

  SavedTensor sx(x, "batch_norm"), sw(weight, "batch_norm");
  return autograd::record(
      "batch_norm", y, {x, weight, bias},
      [sx, sw, mu, invstd, eps, N, C, S](const Tensor& g, const NeedsGrad& needs) {
        const Tensor& xx = sx.get();
        const Tensor& w = sw.get();
        if (GradMode::is_enabled() || force_composite_batch_norm)
          return batch_norm_backward_composite(g, xx, w, eps, needs);
        Tensor gc = g.contiguous(), xcc = xx.contiguous();
        Tensor gx = needs[0] ? empty(xx.sizes(), TensorOptions(g.dtype(), g.device())) : Tensor();
        Tensor gw = needs[1] ? empty({C}, TensorOptions(g.dtype(), g.device())) : Tensor();
        Tensor gb = needs[2] ? empty({C}, TensorOptions(g.dtype(), g.device())) : Tensor();
        Tensor wcc = w.defined() ? w.contiguous() : Tensor();
        if (use_cudnn(g) && cudnn::batch_norm_backward(gc, xcc, wcc, mu, invstd, eps, gx, gw, gb))
          return TensorList{gx, gw, gb};
        DUEL_DISPATCH_FLOATING(g.dtype(), "batch_norm_backward", [&] {
          using T = scalar_t;
          DUEL_KERNEL(g.device(), batch_norm_backward<T>, gc.data<T>(), xcc.data<T>(), mu.data<T>(),
                      invstd.data<T>(), wcc.defined() ? wcc.data<T>() : nullptr, N, C, S,
                      gx.defined() ? gx.data<T>() : nullptr, gw.defined() ? gw.data<T>() : nullptr,
                      gb.defined() ? gb.data<T>() : nullptr);
        });
        return TensorList{gx, gw, gb};
      });
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
