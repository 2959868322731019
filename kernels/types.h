// The kernel vocabulary every backend shares (cpu, sim, cuda, cuDNN): the op codes and the
// parameter structs that an op front-end (tensor/ops/*.cpp, nn/optim.cpp) fills once and
// hands to whichever implementation runs the op (kernels/dispatch.h). Nothing here belongs
// to one backend, so it lives in namespace duel, not duel::cpu or duel::cuda.
//
//   UnaryOp, UnaryParams, BinaryOp   elementwise op codes (kernels/elementwise_ops.h)
//   ReduceOp                          sum / max / min reductions
//   Conv2dGeometry                    one convolution (conv2d, its two gradients, conv_transpose2d)
//   Pool2dGeometry                    one max or average pooling
//   SgdUpdate, AdamUpdate, RmspropUpdate  the fused optimizer steps' hyper-parameters
//
// Plain C++ with no dependencies, so that .cu files, the emulator and cuDNN's wrapper can
// include it.
#pragma once
#include <cstdint>

#include "kernels/elementwise_ops.h"

namespace duel {

enum class ReduceOp { Sum, Max, Min };

// Geometry of one convolution, in the conv2d (not transposed) orientation.
//   input  x  [N, C, H, W]
//   weight w  [O, C / groups, kH, kW]
//   output y  [N, O, outH, outW]
// Output channels [g*O/groups, (g+1)*O/groups) see only input channels
// [g*C/groups, (g+1)*C/groups). Output pixel (oh, ow) reads input pixels
// (oh*strideH - padH + ki*dilH, ow*strideW - padW + kj*dilW); reads outside
// the image are zeros. Callers fill outH/outW; the usual value is
// (H + 2*padH - dilH*(kH-1) - 1) / strideH + 1, but any consistent H, W, outH,
// outW works (windows must lie inside the padded image); input pixels no
// window covers simply get zero gradient (conv_transpose output_padding).
struct Conv2dGeometry {
  int64_t N, C, H, W;  // input  [N, C, H, W]
  int64_t O, kH, kW;   // weight [O, C / groups, kH, kW]
  int64_t groups = 1;
  int64_t strideH = 1, strideW = 1, padH = 0, padW = 0, dilH = 1, dilW = 1;
  int64_t outH, outW;  // output [N, O, outH, outW]
};

// Geometry of one pooling op:
//   input  [N, C, H, W], output [N, C, outH, outW]
// Window of output (oh, ow): input rows oh*strideH - padH + i*dilH, i < kH
// (same for columns). Callers fill outH/outW (floor or ceil mode); windows
// may run past the bottom/right edge (ceil mode), those taps are ignored.
struct Pool2dGeometry {
  int64_t N, C, H, W, kH, kW, strideH, strideW, padH, padW, dilH = 1, dilW = 1, outH, outW;
  // avg pool only: divide by the window size including padding (PyTorch's
  // count_include_pad); otherwise by the number of in-image taps.
  bool count_include_pad = true;
};

// The fused optimizer updates' hyper-parameters (the rules: kernels/cpu/optim.h).
struct SgdUpdate {
  double lr = 0, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
  bool first_step = false;  // the momentum buffer is initialised with d (PyTorch: buf = d.clone())
};

struct AdamUpdate {
  double lr = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled_weight_decay = false;  // AdamW
  bool amsgrad = false;
  int64_t step = 1;  // t, after the increment (>= 1): bias corrections 1 - b^t
};

struct RmspropUpdate {
  double lr = 0, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0;
  bool centered = false;
  bool eps_inside_sqrt = false;
};

}  // namespace duel
