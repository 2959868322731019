// 2-D max / average pooling, forward and backward (NCHW, contiguous), with the
// semantics of kernels/cpu/pool.h (padding, dilation, ceil-mode windows that run past
// the edge, count_include_pad, NaN propagation, PyTorch's argmax indices).
//
// Forward (max and avg): ONE THREAD PER OUTPUT ELEMENT (n, c, oh, ow), grid-stride over
// N*C*outH*outW, 256 threads per block. The thread clips its window to the image once
// (window_taps, as on the CPU) and loops over the in-image taps. Consecutive threads
// are consecutive ow: output writes are coalesced; input reads of a warp touch a few
// rows of one plane (stride `strideW` apart), mostly served by L1. No shared memory:
// windows overlap only by a few elements, so staging tiles would not pay off.
//
// Backward (max and avg) is written as a GATHER, not the CPU's scatter: ONE THREAD PER
// INPUT ELEMENT (n, c, h, w) enumerates the windows that contain it (for each tap i of
// the kernel, oh = (h + padH - i*dilH) / strideH when that divides exactly and lands in
// [0, outH); likewise ow) and sums their contributions: for avg pooling gy / divisor of
// the window, for max pooling gy where the window's stored argmax index equals this
// element. Every gx element is written exactly once by its own thread: no atomics, no
// zero-initialisation pass, and a deterministic result. Windows are visited in
// increasing (oh, ow) order, the order in which the CPU backend accumulates, so float
// results match the CPU bit for bit.
#include "kernels/cuda/utils.cuh"

namespace duel::DUEL_BACKEND_NAMESPACE {
namespace {

// In-image taps of a window starting at `start` (see kernels/cpu/pool.cpp).
struct WindowTaps {
  int64_t first, taps, padded_taps;
};

DUEL_DEVICE DUEL_FORCEINLINE WindowTaps window_taps(int64_t start, int64_t k, int64_t dil, int64_t size, int64_t pad) {
  WindowTaps t;
  int64_t i_lo = start >= 0 ? 0 : (-start + dil - 1) / dil;
  int64_t i_hi = start > size - 1 ? 0 : ((size - 1 - start) / dil + 1 < k ? (size - 1 - start) / dil + 1 : k);
  if (i_lo > i_hi) i_lo = i_hi;
  t.first = start + i_lo * dil;
  t.taps = i_hi - i_lo;
  const int64_t limit = size + pad - 1 - start;
  t.padded_taps = limit < 0 ? 0 : (limit / dil + 1 < k ? limit / dil + 1 : k);
  return t;
}

DUEL_DEVICE DUEL_FORCEINLINE int64_t avg_divisor(const Pool2dGeometry& g, int64_t oh, int64_t ow) {
  const WindowTaps th = window_taps(oh * g.strideH - g.padH, g.kH, g.dilH, g.H, g.padH);
  const WindowTaps tw = window_taps(ow * g.strideW - g.padW, g.kW, g.dilW, g.W, g.padW);
  return g.count_include_pad ? th.padded_taps * tw.padded_taps : th.taps * tw.taps;
}

template <class T>
__global__ void max_pool_forward_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t* __restrict__ indices,
                                        Pool2dGeometry g, int64_t total) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t ow = i % g.outW, oh = (i / g.outW) % g.outH, plane = i / (g.outW * g.outH);
    const T* xp = x + plane * g.H * g.W;
    const WindowTaps th = window_taps(oh * g.strideH - g.padH, g.kH, g.dilH, g.H, g.padH);
    const WindowTaps tw = window_taps(ow * g.strideW - g.padW, g.kW, g.dilW, g.W, g.padW);
    T best = -dm::infinity<T>();
    int64_t best_index = th.taps > 0 && tw.taps > 0 ? th.first * g.W + tw.first : -1;
    bool done = false;
    for (int64_t a = 0; a < th.taps && !done; ++a) {
      const int64_t h = th.first + a * g.dilH;
      for (int64_t b = 0; b < tw.taps; ++b) {
        const int64_t w = tw.first + b * g.dilW;
        const T v = xp[h * g.W + w];
        if (v > best || dm::is_nan(v)) {
          best = v;
          best_index = h * g.W + w;
          if (dm::is_nan(v)) {
            done = true;
            break;
          }
        }
      }
    }
    y[i] = best;
    if (indices) indices[i] = best_index;
  }
}

template <class T>
__global__ void avg_pool_forward_kernel(const T* __restrict__ x, T* __restrict__ y, Pool2dGeometry g, int64_t total) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t ow = i % g.outW, oh = (i / g.outW) % g.outH, plane = i / (g.outW * g.outH);
    const T* xp = x + plane * g.H * g.W;
    const WindowTaps th = window_taps(oh * g.strideH - g.padH, g.kH, g.dilH, g.H, g.padH);
    const WindowTaps tw = window_taps(ow * g.strideW - g.padW, g.kW, g.dilW, g.W, g.padW);
    const int64_t divisor = g.count_include_pad ? th.padded_taps * tw.padded_taps : th.taps * tw.taps;
    T sum = T(0);
    for (int64_t a = 0; a < th.taps; ++a) {
      const T* row = xp + (th.first + a * g.dilH) * g.W + tw.first;
      for (int64_t b = 0; b < tw.taps; ++b) sum += row[b * g.dilW];
    }
    y[i] = divisor > 0 ? sum / T(divisor) : T(0);
  }
}

// Calls f(oh, ow) for every window that contains input pixel (h, w), in increasing
// (oh, ow) order.
template <class F>
DUEL_DEVICE DUEL_FORCEINLINE void for_each_window(const Pool2dGeometry& g, int64_t h, int64_t w, F f) {
  for (int64_t a = g.kH - 1; a >= 0; --a) {  // oh grows as the tap index a shrinks
    const int64_t th = h + g.padH - a * g.dilH;
    if (th < 0 || th % g.strideH != 0) continue;
    const int64_t oh = th / g.strideH;
    if (oh >= g.outH) continue;
    for (int64_t b = g.kW - 1; b >= 0; --b) {
      const int64_t tw = w + g.padW - b * g.dilW;
      if (tw < 0 || tw % g.strideW != 0) continue;
      const int64_t ow = tw / g.strideW;
      if (ow >= g.outW) continue;
      f(oh, ow);
    }
  }
}

template <class T>
__global__ void max_pool_backward_kernel(const T* __restrict__ gy, const int64_t* __restrict__ indices,
                                         T* __restrict__ gx, Pool2dGeometry g, int64_t total) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t w = i % g.W, h = (i / g.W) % g.H, plane = i / (g.W * g.H);
    const T* gyp = gy + plane * g.outH * g.outW;
    const int64_t* ip = indices + plane * g.outH * g.outW;
    const int64_t self = h * g.W + w;
    T sum = T(0);
    for_each_window(g, h, w, [&](int64_t oh, int64_t ow) {
      const int64_t o = oh * g.outW + ow;
      if (ip[o] == self) sum += gyp[o];
    });
    gx[i] = sum;
  }
}

template <class T>
__global__ void avg_pool_backward_kernel(const T* __restrict__ gy, T* __restrict__ gx, Pool2dGeometry g,
                                         int64_t total) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t w = i % g.W, h = (i / g.W) % g.H, plane = i / (g.W * g.H);
    const T* gyp = gy + plane * g.outH * g.outW;
    T sum = T(0);
    for_each_window(g, h, w, [&](int64_t oh, int64_t ow) {
      const int64_t divisor = avg_divisor(g, oh, ow);
      if (divisor > 0) sum += gyp[oh * g.outW + ow] / T(divisor);
    });
    gx[i] = sum;
  }
}

}  // namespace

template <class T>
void max_pool2d_forward(const T* x, T* y, int64_t* indices, const Pool2dGeometry& g) {
  const int64_t total = g.N * g.C * g.outH * g.outW;
  if (total <= 0) return;
  DUEL_LAUNCH((max_pool_forward_kernel<T>), grid_for(total), kThreads, 0, launch_stream())(x, y, indices, g, total);
  DUEL_CHECK_LAUNCH("max_pool_forward_kernel");
}

template <class T>
void max_pool2d_backward(const T* gy, const int64_t* indices, T* gx, const Pool2dGeometry& g) {
  const int64_t total = g.N * g.C * g.H * g.W;
  if (total <= 0) return;
  DUEL_LAUNCH((max_pool_backward_kernel<T>), grid_for(total), kThreads, 0, launch_stream())(gy, indices, gx, g, total);
  DUEL_CHECK_LAUNCH("max_pool_backward_kernel");
}

template <class T>
void avg_pool2d_forward(const T* x, T* y, const Pool2dGeometry& g) {
  const int64_t total = g.N * g.C * g.outH * g.outW;
  if (total <= 0) return;
  DUEL_LAUNCH((avg_pool_forward_kernel<T>), grid_for(total), kThreads, 0, launch_stream())(x, y, g, total);
  DUEL_CHECK_LAUNCH("avg_pool_forward_kernel");
}

template <class T>
void avg_pool2d_backward(const T* gy, T* gx, const Pool2dGeometry& g) {
  const int64_t total = g.N * g.C * g.H * g.W;
  if (total <= 0) return;
  DUEL_LAUNCH((avg_pool_backward_kernel<T>), grid_for(total), kThreads, 0, launch_stream())(gy, gx, g, total);
  DUEL_CHECK_LAUNCH("avg_pool_backward_kernel");
}

template void max_pool2d_forward<float>(const float*, float*, int64_t*, const Pool2dGeometry&);
template void max_pool2d_forward<double>(const double*, double*, int64_t*, const Pool2dGeometry&);
template void max_pool2d_backward<float>(const float*, const int64_t*, float*, const Pool2dGeometry&);
template void max_pool2d_backward<double>(const double*, const int64_t*, double*, const Pool2dGeometry&);
template void avg_pool2d_forward<float>(const float*, float*, const Pool2dGeometry&);
template void avg_pool2d_forward<double>(const double*, double*, const Pool2dGeometry&);
template void avg_pool2d_backward<float>(const float*, float*, const Pool2dGeometry&);
template void avg_pool2d_backward<double>(const double*, double*, const Pool2dGeometry&);

}  // namespace duel::DUEL_BACKEND_NAMESPACE
