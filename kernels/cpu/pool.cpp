// 2-D pooling on the CPU, multi-threaded with OpenMP.
//
// Memory layout: contiguous NCHW. Pooling never mixes channels or samples, so
// the natural unit of work is one (n, c) plane: x plane [H, W] -> y plane
// [outH, outW]. All kernels run `#pragma omp parallel for` over the N*C planes;
// each thread reads and writes only its own planes (the backward passes
// scatter into gx, but only within the plane they own), so there are no races
// and no atomics. Per plane, the window bounds are clipped to the image once
// per output row/column, and the inner loops run over in-image taps only.
#include "pool.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace duel::cpu {
namespace {

// In-image taps of the window starting at `start`: first tap `first`, count
// `taps` (stride `dil`), and `padded_taps` = taps inside [-pad, size + pad).
struct WindowTaps {
  int64_t first, taps, padded_taps;
};

inline WindowTaps window_taps(int64_t start, int64_t k, int64_t dil, int64_t size, int64_t pad) {
  WindowTaps t;
  // taps i with start + i*dil in [0, size)
  int64_t i_lo = start >= 0 ? 0 : (-start + dil - 1) / dil;
  int64_t i_hi = start > size - 1 ? 0 : std::min<int64_t>(k, (size - 1 - start) / dil + 1);
  if (i_lo > i_hi) i_lo = i_hi;
  t.first = start + i_lo * dil;
  t.taps = i_hi - i_lo;
  // taps i with start + i*dil < size + pad (start >= -pad always holds)
  const int64_t limit = size + pad - 1 - start;
  t.padded_taps = limit < 0 ? 0 : std::min<int64_t>(k, limit / dil + 1);
  return t;
}

}  // namespace

template <class T>
void max_pool2d_forward(const T* x, T* y, int64_t* indices, const Pool2dGeometry& g) {
  const int64_t planes = g.N * g.C;
  const int64_t in_plane = g.H * g.W, out_plane = g.outH * g.outW;
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) {
    const T* xp = x + plane * in_plane;
    T* yp = y + plane * out_plane;
    int64_t* ip = indices ? indices + plane * out_plane : nullptr;
    for (int64_t oh = 0; oh < g.outH; ++oh) {
      const WindowTaps th = window_taps(oh * g.strideH - g.padH, g.kH, g.dilH, g.H, g.padH);
      for (int64_t ow = 0; ow < g.outW; ++ow) {
        const WindowTaps tw = window_taps(ow * g.strideW - g.padW, g.kW, g.dilW, g.W, g.padW);
        T best = -std::numeric_limits<T>::infinity();
        // A window with no in-image tap (possible with dilation) yields -inf, index -1.
        int64_t best_index = th.taps > 0 && tw.taps > 0 ? th.first * g.W + tw.first : -1;
        for (int64_t i = 0; i < th.taps; ++i) {
          const int64_t h = th.first + i * g.dilH;
          const T* row = xp + h * g.W;
          for (int64_t j = 0; j < tw.taps; ++j) {
            const int64_t w = tw.first + j * g.dilW;
            const T v = row[w];
            if (v > best || std::isnan(v)) {
              best = v;
              best_index = h * g.W + w;
              if (std::isnan(v)) goto done;
            }
          }
        }
      done:
        yp[oh * g.outW + ow] = best;
        if (ip) ip[oh * g.outW + ow] = best_index;
      }
    }
  }
}

template <class T>
void max_pool2d_backward(const T* gy, const int64_t* indices, T* gx, const Pool2dGeometry& g) {
  const int64_t planes = g.N * g.C;
  const int64_t in_plane = g.H * g.W, out_plane = g.outH * g.outW;
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) {
    T* gxp = gx + plane * in_plane;
    const T* gyp = gy + plane * out_plane;
    const int64_t* ip = indices + plane * out_plane;
    std::fill(gxp, gxp + in_plane, T(0));
    for (int64_t o = 0; o < out_plane; ++o) {
      const int64_t index = ip[o];
      if (index >= 0 && index < in_plane) gxp[index] += gyp[o];
    }
  }
}

template <class T>
void avg_pool2d_forward(const T* x, T* y, const Pool2dGeometry& g) {
  const int64_t planes = g.N * g.C;
  const int64_t in_plane = g.H * g.W, out_plane = g.outH * g.outW;
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) {
    const T* xp = x + plane * in_plane;
    T* yp = y + plane * out_plane;
    for (int64_t oh = 0; oh < g.outH; ++oh) {
      const WindowTaps th = window_taps(oh * g.strideH - g.padH, g.kH, g.dilH, g.H, g.padH);
      for (int64_t ow = 0; ow < g.outW; ++ow) {
        const WindowTaps tw = window_taps(ow * g.strideW - g.padW, g.kW, g.dilW, g.W, g.padW);
        const int64_t divisor =
            g.count_include_pad ? th.padded_taps * tw.padded_taps : th.taps * tw.taps;
        T sum = T(0);
        for (int64_t i = 0; i < th.taps; ++i) {
          const T* row = xp + (th.first + i * g.dilH) * g.W + tw.first;
          for (int64_t j = 0; j < tw.taps; ++j) sum += row[j * g.dilW];
        }
        yp[oh * g.outW + ow] = divisor > 0 ? sum / T(divisor) : T(0);
      }
    }
  }
}

template <class T>
void avg_pool2d_backward(const T* gy, T* gx, const Pool2dGeometry& g) {
  const int64_t planes = g.N * g.C;
  const int64_t in_plane = g.H * g.W, out_plane = g.outH * g.outW;
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) {
    T* gxp = gx + plane * in_plane;
    const T* gyp = gy + plane * out_plane;
    std::fill(gxp, gxp + in_plane, T(0));
    for (int64_t oh = 0; oh < g.outH; ++oh) {
      const WindowTaps th = window_taps(oh * g.strideH - g.padH, g.kH, g.dilH, g.H, g.padH);
      for (int64_t ow = 0; ow < g.outW; ++ow) {
        const WindowTaps tw = window_taps(ow * g.strideW - g.padW, g.kW, g.dilW, g.W, g.padW);
        const int64_t divisor =
            g.count_include_pad ? th.padded_taps * tw.padded_taps : th.taps * tw.taps;
        if (divisor <= 0) continue;
        const T share = gyp[oh * g.outW + ow] / T(divisor);
        for (int64_t i = 0; i < th.taps; ++i) {
          T* row = gxp + (th.first + i * g.dilH) * g.W + tw.first;
          for (int64_t j = 0; j < tw.taps; ++j) row[j * g.dilW] += share;
        }
      }
    }
  }
}

template void max_pool2d_forward<float>(const float*, float*, int64_t*, const Pool2dGeometry&);
template void max_pool2d_forward<double>(const double*, double*, int64_t*, const Pool2dGeometry&);
template void max_pool2d_backward<float>(const float*, const int64_t*, float*,
                                         const Pool2dGeometry&);
template void max_pool2d_backward<double>(const double*, const int64_t*, double*,
                                          const Pool2dGeometry&);
template void avg_pool2d_forward<float>(const float*, float*, const Pool2dGeometry&);
template void avg_pool2d_forward<double>(const double*, double*, const Pool2dGeometry&);
template void avg_pool2d_backward<float>(const float*, float*, const Pool2dGeometry&);
template void avg_pool2d_backward<double>(const double*, double*, const Pool2dGeometry&);

}  // namespace duel::cpu
