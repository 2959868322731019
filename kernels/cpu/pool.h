// 2-D max / average pooling kernels for the CPU (NCHW, contiguous, row-major).
// See pool.cpp for the parallelisation.
#pragma once
#include <cstdint>

#include "kernels/types.h"  // Pool2dGeometry

namespace duel::cpu {


// y[N, C, outH, outW] = max over each window; padding acts as -inf, NaN
// propagates. indices[N, C, outH, outW] (may be nullptr) receives the argmax
// as a flat h*W + w inside its (n, c) plane, like PyTorch (a window with no
// in-image tap, only possible with dilation, gives -inf and index -1). y and
// indices are overwritten.
template <class T>
void max_pool2d_forward(const T* x, T* y, int64_t* indices, const Pool2dGeometry& g);

// gx[N, C, H, W] = scatter-add of gy[N, C, outH, outW] to the argmax positions
// stored in indices (as produced by max_pool2d_forward). gx is overwritten.
template <class T>
void max_pool2d_backward(const T* gy, const int64_t* indices, T* gx, const Pool2dGeometry& g);

// y[N, C, outH, outW] = mean over each window. Divisor: with
// count_include_pad, the number of window taps inside the padded image
// [-pad, size + pad) (PyTorch semantics, also under ceil mode); otherwise the
// number of taps inside the image. y is overwritten.
template <class T>
void avg_pool2d_forward(const T* x, T* y, const Pool2dGeometry& g);

// gx[N, C, H, W] = adjoint of avg_pool2d_forward applied to gy[N, C, outH, outW].
// gx is overwritten.
template <class T>
void avg_pool2d_backward(const T* gy, T* gx, const Pool2dGeometry& g);

}  // namespace duel::cpu
