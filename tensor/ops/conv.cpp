// Convolutions as a closed set of three primitives:
//
//   conv2d             y  = conv(x, w)
//   conv2d_input_grad  gx = conv^T(gy, w)       (this is conv_transpose2d)
//   conv2d_weight_grad gw = corr(x, gy)
//
// All three are bilinear, and the backward of each is written with the other
// two, so gradients of any order through conv and conv_transpose need no
// further formulas:
//
//   conv(x, w):        dx = input_grad(g, w)     dw = weight_grad(x, g)
//   input_grad(gy, w): dgy = conv(g, w)          dw = weight_grad(g, gy)
//   weight_grad(x, gy): dx = input_grad(gy, g)   dgy = conv(x, g)
//
// conv1d / conv_transpose1d are the 2-D ops on a height-1 image.
// Kernels, through DUEL_KERNEL (kernels/dispatch.h): CPU kernels/cpu/conv.cpp (im2col +
// GEMM); sim and CUDA kernels/cuda/conv.cu, whose CUDA entry points hand over to cuDNN when
// cuda:conv2d=cudnn (kernels/impl.h). This file does not know which implementation runs.
#include "autograd/node.h"
#include "kernels/cpu/conv.h"
#include "kernels/dispatch.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/nn_ops.h"

namespace duel {
namespace {

int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil) {
  const int64_t span = in + 2 * pad - dil * (k - 1) - 1;
  // floor division: C++ '/' truncates toward zero, which would turn a window up to stride-1
  // larger than the padded input into an output of size 1
  return span < 0 ? 0 : span / stride + 1;
}

void check_options(const Conv2dOptions& o, const char* op) {
  for (int i = 0; i < 2; ++i) {
    DUEL_CHECK(o.stride[i] > 0, op, ": stride must be positive, got ", o.stride[i]);
    DUEL_CHECK(o.padding[i] >= 0, op, ": padding must be non-negative, got ", o.padding[i]);
    DUEL_CHECK(o.dilation[i] > 0, op, ": dilation must be positive, got ", o.dilation[i]);
    DUEL_CHECK(o.output_padding[i] >= 0, op, ": output_padding must be non-negative, got ", o.output_padding[i]);
  }
  DUEL_CHECK(o.groups > 0, op, ": groups must be positive, got ", o.groups);
}

// Geometry of the convolution that maps input_shape [N,C,H,W] to output [N,O,outH,outW] with weight [O,C/g,kH,kW].
Conv2dGeometry geometry(const Shape& input, const Shape& weight, const Shape& output, const Conv2dOptions& o) {
  Conv2dGeometry g;
  g.N = input[0], g.C = input[1], g.H = input[2], g.W = input[3];
  g.O = weight[0], g.kH = weight[2], g.kW = weight[3];
  g.groups = o.groups;
  g.strideH = o.stride[0], g.strideW = o.stride[1];
  g.padH = o.padding[0], g.padW = o.padding[1];
  g.dilH = o.dilation[0], g.dilW = o.dilation[1];
  g.outH = output[2], g.outW = output[3];
  return g;
}

void check_conv_shapes(const Shape& x, const Shape& w, const Conv2dOptions& o, const char* op) {
  DUEL_CHECK(x.size() == 4, op, ": expected a 4-D input [N, C, H, W], got shape ", shape_str(x));
  DUEL_CHECK(w.size() == 4, op, ": expected a 4-D weight [O, C/groups, kH, kW], got shape ", shape_str(w));
  DUEL_CHECK(x[1] == w[1] * o.groups, op, ": input of shape ", shape_str(x), " has ", x[1],
             " channels but the weight of shape ", shape_str(w), " with groups=", o.groups, " expects ",
             w[1] * o.groups);
  DUEL_CHECK(w[0] % o.groups == 0, op, ": out channels ", w[0], " must be divisible by groups ", o.groups);
}

void check_pair(const Tensor& a, const Tensor& b, const char* op) {
  DUEL_CHECK(a.device() == b.device(), op, ": expected tensors on the same device, got ", a.device().str(), " and ",
             b.device().str());
  DUEL_CHECK(a.dtype() == b.dtype() && is_floating(a.dtype()), op, ": expected two float32 or two float64 tensors, got ",
             dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
}

// out_hw: the output's spatial size when the caller knows it (the backward formulas: a
// conv_transpose's input size is not always recoverable from its output size, e.g. when
// output_padding >= stride); otherwise computed from the input size.
Tensor conv2d_primitive(const Tensor& x, const Tensor& w, const Conv2dOptions& o, const Shape& out_hw = {});

}  // namespace

Tensor conv2d_input_grad(const Tensor& gy, const Tensor& w, const Shape& input_shape, const Conv2dOptions& o) {
  check_pair(gy, w, "conv2d_input_grad");
  Tensor gyc = gy.contiguous(), wc = w.contiguous();
  Tensor gx = empty(input_shape, TensorOptions(gy.dtype(), gy.device()));
  auto g = geometry(input_shape, w.sizes(), gy.sizes(), o);
  DUEL_DISPATCH_FLOATING(gy.dtype(), "conv2d_input_grad", [&] {
    DUEL_KERNEL(gy.device(), conv2d_backward_input<scalar_t>, gyc.data<scalar_t>(), wc.data<scalar_t>(),
                gx.data<scalar_t>(), g);
  });
  SavedTensor sgy(gy, "conv2d_input_grad"), sw(w, "conv2d_input_grad");
  return autograd::record("conv2d_input_grad", gx, {gy, w}, [sgy, sw, o](const Tensor& gg, const NeedsGrad& needs) {
    const Shape& gys = sgy.get().sizes();
    Tensor d_gy = needs[0] ? conv2d_primitive(gg, sw.get(), o, {gys[2], gys[3]}) : Tensor();
    Tensor d_w = needs[1] ? conv2d_weight_grad(gg, sgy.get(), sw.get().sizes(), o) : Tensor();
    return TensorList{d_gy, d_w};
  });
}

Tensor conv2d_weight_grad(const Tensor& x, const Tensor& gy, const Shape& weight_shape, const Conv2dOptions& o) {
  check_pair(x, gy, "conv2d_weight_grad");
  Tensor xc = x.contiguous(), gyc = gy.contiguous();
  Tensor gw = empty(weight_shape, TensorOptions(x.dtype(), x.device()));
  auto g = geometry(x.sizes(), weight_shape, gy.sizes(), o);
  DUEL_DISPATCH_FLOATING(x.dtype(), "conv2d_weight_grad", [&] {
    DUEL_KERNEL(x.device(), conv2d_backward_weight<scalar_t>, xc.data<scalar_t>(), gyc.data<scalar_t>(),
                gw.data<scalar_t>(), g);
  });
  SavedTensor sx(x, "conv2d_weight_grad"), sgy(gy, "conv2d_weight_grad");
  return autograd::record("conv2d_weight_grad", gw, {x, gy}, [sx, sgy, o](const Tensor& gg, const NeedsGrad& needs) {
    Tensor d_x = needs[0] ? conv2d_input_grad(sgy.get(), gg, sx.get().sizes(), o) : Tensor();
    const Shape& gys = sgy.get().sizes();
    Tensor d_gy = needs[1] ? conv2d_primitive(sx.get(), gg, o, {gys[2], gys[3]}) : Tensor();
    return TensorList{d_x, d_gy};
  });
}

namespace {

Tensor conv2d_primitive(const Tensor& x, const Tensor& w, const Conv2dOptions& o, const Shape& out_hw) {
  check_pair(x, w, "conv2d");
  const Shape& xs = x.sizes();
  const Shape& ws = w.sizes();
  int64_t oh = out_hw.empty() ? conv_out_size(xs[2], ws[2], o.stride[0], o.padding[0], o.dilation[0]) : out_hw[0];
  int64_t ow = out_hw.empty() ? conv_out_size(xs[3], ws[3], o.stride[1], o.padding[1], o.dilation[1]) : out_hw[1];
  DUEL_CHECK(oh > 0 && ow > 0, "conv2d: input of shape ", shape_str(xs), " is too small for kernel ", ws[2], "x",
             ws[3], " with padding (", o.padding[0], ", ", o.padding[1], ") and dilation (", o.dilation[0], ", ",
             o.dilation[1], "): the output would be ", oh, "x", ow);
  Shape ys = {xs[0], ws[0], oh, ow};
  Tensor xc = x.contiguous(), wc = w.contiguous();
  Tensor y = empty(ys, TensorOptions(x.dtype(), x.device()));
  auto g = geometry(xs, ws, ys, o);
  DUEL_DISPATCH_FLOATING(x.dtype(), "conv2d", [&] {
    DUEL_KERNEL(x.device(), conv2d_forward<scalar_t>, xc.data<scalar_t>(), wc.data<scalar_t>(), y.data<scalar_t>(), g);
  });
  SavedTensor sx(x, "conv2d"), sw(w, "conv2d");
  return autograd::record("conv2d", y, {x, w}, [sx, sw, o](const Tensor& gg, const NeedsGrad& needs) {
    Tensor d_x = needs[0] ? conv2d_input_grad(gg, sw.get(), sx.get().sizes(), o) : Tensor();
    Tensor d_w = needs[1] ? conv2d_weight_grad(sx.get(), gg, sw.get().sizes(), o) : Tensor();
    return TensorList{d_x, d_w};
  });
}

Tensor add_channel_bias(const Tensor& y, const Tensor& bias, const char* op) {
  if (!bias.defined()) return y;
  DUEL_CHECK(bias.dim() == 1 && bias.size(0) == y.size(1), op, ": bias of shape ", shape_str(bias.sizes()),
             " does not match ", y.size(1), " output channels");
  Shape s(y.dim(), 1);
  s[1] = bias.size(0);
  return y + bias.reshape(s);
}

Conv2dOptions as_2d(const Conv1dOptions& o) {
  Conv2dOptions c;
  c.stride = {1, o.stride};
  c.padding = {0, o.padding};
  c.output_padding = {0, o.output_padding};
  c.dilation = {1, o.dilation};
  c.groups = o.groups;
  return c;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& opt) {
  check_options(opt, "conv2d");
  check_conv_shapes(x.sizes(), weight.sizes(), opt, "conv2d");
  return add_channel_bias(conv2d_primitive(x, weight, opt), bias, "conv2d");
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& opt) {
  check_options(opt, "conv_transpose2d");
  DUEL_CHECK(x.dim() == 4, "conv_transpose2d: expected a 4-D input [N, C, H, W], got shape ", shape_str(x.sizes()));
  DUEL_CHECK(weight.dim() == 4, "conv_transpose2d: expected a 4-D weight [C_in, C_out/groups, kH, kW], got shape ",
             shape_str(weight.sizes()));
  DUEL_CHECK(x.size(1) == weight.size(0), "conv_transpose2d: input of shape ", shape_str(x.sizes()), " has ",
             x.size(1), " channels but the weight of shape ", shape_str(weight.sizes()), " expects ", weight.size(0));
  DUEL_CHECK(weight.size(0) % opt.groups == 0, "conv_transpose2d: in channels ", weight.size(0),
             " must be divisible by groups ", opt.groups);
  for (int i = 0; i < 2; ++i)
    DUEL_CHECK(opt.output_padding[i] < std::max(opt.stride[i], opt.dilation[i]), "conv_transpose2d: output_padding (",
               opt.output_padding[i], ") must be smaller than stride or dilation");
  Shape out = {x.size(0), weight.size(1) * opt.groups, 0, 0};
  for (int i = 0; i < 2; ++i) {
    out[2 + i] = (x.size(2 + i) - 1) * opt.stride[i] - 2 * opt.padding[i] + opt.dilation[i] * (weight.size(2 + i) - 1) +
                 opt.output_padding[i] + 1;
    DUEL_CHECK(out[2 + i] > 0, "conv_transpose2d: output size would be ", out[2 + i], " for input ",
               shape_str(x.sizes()));
  }
  // conv_transpose2d(x, w) is the input gradient of the conv that maps `out` to x with weight w.
  return add_channel_bias(conv2d_input_grad(x, weight, out, opt), bias, "conv_transpose2d");
}

Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv1dOptions& opt) {
  DUEL_CHECK(x.dim() == 3 && weight.dim() == 3, "conv1d: expected input [N, C, L] and weight [O, C/groups, k], got ",
             shape_str(x.sizes()), " and ", shape_str(weight.sizes()));
  // checked here too, so that the message names the 3-D shapes the caller passed
  DUEL_CHECK(opt.groups > 0 && x.size(1) == weight.size(1) * opt.groups, "conv1d: input of shape ",
             shape_str(x.sizes()), " has ", x.size(1), " channels but the weight of shape ", shape_str(weight.sizes()),
             " with groups=", opt.groups, " expects ", weight.size(1) * opt.groups);
  return conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, as_2d(opt)).squeeze(2);
}

Tensor conv_transpose1d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv1dOptions& opt) {
  DUEL_CHECK(x.dim() == 3 && weight.dim() == 3,
             "conv_transpose1d: expected input [N, C, L] and weight [C_in, C_out/groups, k], got ",
             shape_str(x.sizes()), " and ", shape_str(weight.sizes()));
  DUEL_CHECK(x.size(1) == weight.size(0), "conv_transpose1d: input of shape ", shape_str(x.sizes()), " has ",
             x.size(1), " channels but the weight of shape ", shape_str(weight.sizes()), " expects ", weight.size(0));
  return conv_transpose2d(x.unsqueeze(2), weight.unsqueeze(2), bias, as_2d(opt)).squeeze(2);
}

}  // namespace duel
