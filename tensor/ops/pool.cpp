// Pooling, upsampling and pixel shuffle.
//
// max_pool2d: the kernel returns values and argmax indices; a plain backward
//   runs the max_pool2d_backward kernel, and under create_graph the backward
//   scatters the gradient to the argmax positions with scatter_add, whose own
//   backward is gather, so second derivatives come for free.
// avg_pool2d: linear; a pair of primitives (forward and its adjoint), each
//   the other's backward.
// upsample_nearest2d, pixel_shuffle: pure views/expands + reshapes.
// upsample_bilinear2d: two matmuls with interpolation matrices.
// CPU kernels: kernels/cpu/pool.cpp.
#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "kernels/cpu/pool.h"
#include "kernels/dispatch.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/linalg.h"
#include "tensor/ops/nn_ops.h"
#include "tensor/ops/shape_ops.h"

namespace duel {
namespace {

Pool2dGeometry pool_geometry(const Tensor& x, const Pool2dOptions& o, const char* op) {
  DUEL_CHECK(x.dim() == 4, op, ": expected a 4-D input [N, C, H, W], got shape ", shape_str(x.sizes()));
  DUEL_CHECK(is_floating(x.dtype()), op, ": expected a floating input, got ", dtype_name(x.dtype()));
  Pool2dGeometry g;
  g.N = x.size(0), g.C = x.size(1), g.H = x.size(2), g.W = x.size(3);
  g.kH = o.kernel[0], g.kW = o.kernel[1];
  g.strideH = o.stride[0] > 0 ? o.stride[0] : o.kernel[0];
  g.strideW = o.stride[1] > 0 ? o.stride[1] : o.kernel[1];
  g.padH = o.padding[0], g.padW = o.padding[1];
  DUEL_CHECK(g.kH > 0 && g.kW > 0, op, ": kernel size must be positive");
  DUEL_CHECK(2 * g.padH <= g.kH && 2 * g.padW <= g.kW, op, ": padding (", g.padH, ", ", g.padW,
             ") must be at most half the kernel size (", g.kH, ", ", g.kW, ")");
  // a window larger than the padded input gives no output (C++ '/' truncates toward zero, so
  // the span must be checked before dividing, or (2 - 3) / 3 + 1 would give 1)
  const int64_t spanH = g.H + 2 * g.padH - g.kH, spanW = g.W + 2 * g.padW - g.kW;
  g.outH = spanH < 0 ? 0 : spanH / g.strideH + 1;
  g.outW = spanW < 0 ? 0 : spanW / g.strideW + 1;
  DUEL_CHECK(g.outH > 0 && g.outW > 0, op, ": input of shape ", shape_str(x.sizes()), " is smaller than the ", g.kH,
             "x", g.kW, " window");
  g.count_include_pad = o.count_include_pad;
  return g;
}

Tensor avg_pool2d_adjoint(const Tensor& gy, const Shape& input_shape, const Pool2dGeometry& g);

Tensor avg_pool2d_primitive(const Tensor& x, const Pool2dGeometry& g) {
  Tensor xc = x.contiguous();
  Tensor y = empty({g.N, g.C, g.outH, g.outW}, TensorOptions(x.dtype(), x.device()));
  DUEL_DISPATCH_FLOATING(x.dtype(), "avg_pool2d", [&] {
    DUEL_KERNEL(x.device(), avg_pool2d_forward<scalar_t>, xc.data<scalar_t>(), y.data<scalar_t>(), g);
  });
  Shape in = x.sizes();
  return autograd::record("avg_pool2d", y, {x}, [in, g](const Tensor& gg, const NeedsGrad&) {
    return TensorList{avg_pool2d_adjoint(gg, in, g)};
  });
}

Tensor avg_pool2d_adjoint(const Tensor& gy, const Shape& input_shape, const Pool2dGeometry& g) {
  Tensor gyc = gy.contiguous();
  Tensor gx = empty(input_shape, TensorOptions(gy.dtype(), gy.device()));
  DUEL_DISPATCH_FLOATING(gy.dtype(), "avg_pool2d_backward", [&] {
    DUEL_KERNEL(gy.device(), avg_pool2d_backward<scalar_t>, gyc.data<scalar_t>(), gx.data<scalar_t>(), g);
  });
  return autograd::record("avg_pool2d_backward", gx, {gy}, [g](const Tensor& gg, const NeedsGrad&) {
    return TensorList{avg_pool2d_primitive(gg, g)};
  });
}

// Interpolation matrix [out, in] of 1-D linear resampling (PyTorch's conventions).
Tensor interpolation_matrix(int64_t in, int64_t out, bool align_corners, const Tensor& like) {
  std::vector<double> m(out * in, 0.0);
  for (int64_t o = 0; o < out; ++o) {
    double src;
    if (align_corners) src = out > 1 ? (double)o * (in - 1) / (out - 1) : 0.0;
    else src = std::max(0.0, ((double)o + 0.5) * in / out - 0.5);
    int64_t i0 = std::min<int64_t>((int64_t)std::floor(src), in - 1);
    int64_t i1 = std::min<int64_t>(i0 + 1, in - 1);
    double w1 = src - i0;
    m[o * in + i0] += 1.0 - w1;
    m[o * in + i1] += w1;
  }
  return from_vector(m, {out, in}, TensorOptions(like.dtype(), like.device()));
}

}  // namespace

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, const Pool2dOptions& opt) {
  auto g = pool_geometry(x, opt, "max_pool2d");
  Tensor xc = x.contiguous();
  Tensor y = empty({g.N, g.C, g.outH, g.outW}, TensorOptions(x.dtype(), x.device()));
  Tensor idx = empty({g.N, g.C, g.outH, g.outW}, TensorOptions(kInt64, x.device()));
  DUEL_DISPATCH_FLOATING(x.dtype(), "max_pool2d", [&] {
    DUEL_KERNEL(x.device(), max_pool2d_forward<scalar_t>, xc.data<scalar_t>(), y.data<scalar_t>(),
                idx.data<int64_t>(), g);
  });
  Shape in = x.sizes();
  y = autograd::record("max_pool2d", y, {x}, [in, idx, g](const Tensor& gg, const NeedsGrad&) {
    if (!GradMode::is_enabled()) {  // first-order backward: the max_pool2d_backward kernel
      Tensor gyc = gg.contiguous();
      Tensor gx = empty(in, TensorOptions(gg.dtype(), gg.device()));
      DUEL_DISPATCH_FLOATING(gg.dtype(), "max_pool2d_backward", [&] {
        DUEL_KERNEL(gg.device(), max_pool2d_backward<scalar_t>, gyc.data<scalar_t>(), idx.data<int64_t>(),
                    gx.data<scalar_t>(), g);
      });
      return TensorList{gx};
    }
    // under create_graph: scatter the gradient to the argmax of each window, plane by plane
    // (a differentiable op, so the second derivative flows through it)
    Tensor flat_idx = idx.reshape({g.N, g.C, -1});
    Tensor z = zeros({g.N, g.C, g.H * g.W}, TensorOptions(gg.dtype(), gg.device()));
    return TensorList{scatter_add(z, 2, flat_idx, gg.reshape({g.N, g.C, -1})).reshape(in)};
  });
  return {y, idx};
}

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opt) { return max_pool2d_with_indices(x, opt).first; }

Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opt) {
  return avg_pool2d_primitive(x, pool_geometry(x, opt, "avg_pool2d"));
}

Tensor upsample_nearest2d(const Tensor& x, int64_t scale) {
  DUEL_CHECK(x.dim() == 4, "upsample_nearest2d: expected a 4-D input [N, C, H, W], got shape ", shape_str(x.sizes()));
  DUEL_CHECK(scale >= 1, "upsample_nearest2d: scale must be >= 1, got ", scale);
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  return x.reshape({N, C, H, 1, W, 1}).expand({N, C, H, scale, W, scale}).reshape({N, C, H * scale, W * scale});
}

Tensor upsample_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners) {
  DUEL_CHECK(x.dim() == 4, "upsample_bilinear2d: expected a 4-D input [N, C, H, W], got shape ", shape_str(x.sizes()));
  DUEL_CHECK(out_h > 0 && out_w > 0, "upsample_bilinear2d: output size must be positive, got ", out_h, "x", out_w);
  Tensor ah = interpolation_matrix(x.size(2), out_h, align_corners, x);
  Tensor aw = interpolation_matrix(x.size(3), out_w, align_corners, x);
  return matmul(matmul(ah, x), aw.t());
}

Tensor pixel_shuffle(const Tensor& x, int64_t r) {
  DUEL_CHECK(x.dim() == 4, "pixel_shuffle: expected a 4-D input [N, C*r*r, H, W], got shape ", shape_str(x.sizes()));
  DUEL_CHECK(r >= 1 && x.size(1) % (r * r) == 0, "pixel_shuffle: channels ", x.size(1),
             " must be divisible by upscale^2 = ", r * r);
  int64_t N = x.size(0), C = x.size(1) / (r * r), H = x.size(2), W = x.size(3);
  return x.reshape({N, C, r, r, H, W}).permute({0, 1, 4, 2, 5, 3}).reshape({N, C, H * r, W * r});
}

}  // namespace duel
