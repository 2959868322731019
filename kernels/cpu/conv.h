// 2-D convolution kernels for the CPU (NCHW, contiguous, row-major).
//
// The three kernels below are everything autograd needs for conv2d and for
// conv_transpose2d: the transposed convolution's forward pass is
// conv2d_backward_input, its input gradient is conv2d_forward and its weight
// gradient is conv2d_backward_weight with the roles of x and gy swapped.
// See conv.cpp for the parallelisation and memory layout.
#pragma once
#include <cstdint>

#include "kernels/conv_algorithm.h"  // ConvAlgorithm
#include "kernels/types.h"           // Conv2dGeometry

namespace duel::cpu {

// Which path the float32 convolutions take (the cpu:conv2d row of kernels/impl.h; DUEL_IMPL
// sets it too): Implicit (the default), where the GEMM gathers the patches from the image into
// its packed panels and scatters the input gradient back as it goes, or Im2col, which writes
// the patch matrix first. float64 always runs Im2col (through Eigen's GEMM), and so does a
// float32 convolution when cpu:gemm is eigen (the reference), when one sample is split over
// threads (N = 1 with OpenMP), or when the offsets would not fit in 32 bits.
void set_conv_algorithm(ConvAlgorithm a);
ConvAlgorithm conv_algorithm();
namespace detail {
// How many convolution passes (forward, input or weight gradient) have taken the implicit path
// in this process: the tests check that the path they mean to test is the one that ran.
int64_t implicit_conv_passes();
}  // namespace detail


// y[N, O, outH, outW] = conv2d(x[N, C, H, W], w[O, C/groups, kH, kW]); no bias.
// y is overwritten. Buffers must not alias.
template <class T>
void conv2d_forward(const T* x, const T* w, T* y, const Conv2dGeometry& g);

// gx[N, C, H, W] = d<y, gy>/dx for y = conv2d(x, w), given gy[N, O, outH, outW]
// and w[O, C/groups, kH, kW]. gx is overwritten (pixels no window touches get
// 0). This is exactly conv_transpose2d's forward pass (with gy as its input).
template <class T>
void conv2d_backward_input(const T* gy, const T* w, T* gx, const Conv2dGeometry& g);

// gw[O, C/groups, kH, kW] = d<y, gy>/dw for y = conv2d(x, w), given
// x[N, C, H, W] and gy[N, O, outH, outW], summed over the batch.
// gw is overwritten (not accumulated).
template <class T>
void conv2d_backward_weight(const T* x, const T* gy, T* gw, const Conv2dGeometry& g);

}  // namespace duel::cpu
