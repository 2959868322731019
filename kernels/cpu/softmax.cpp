// Softmax / log-softmax on the CPU, multi-threaded with OpenMP.
//
// Memory layout: x is [outer, D, inner], contiguous; we normalise over D. Two
// cases:
//
//   inner == 1 (softmax over the last dim, the common case): each of the
//   `outer` rows is D contiguous values. A thread owns whole rows
//   (`omp parallel for` over rows) and does max -> sum of exp -> scale with
//   three sweeps over its row, which stays in L1/L2 for realistic D.
//
//   inner > 1 (e.g. softmax over channels of NCHW): the D values of one
//   softmax are `inner` apart, so instead of striding through memory a thread
//   takes a block of up to kInnerBlock adjacent inner positions and sweeps
//   the D rows of that block contiguously, keeping a running max / sum per
//   position in a small stack array (vectorisable, cache-friendly). Work is
//   split over (outer, inner-block) pairs so it parallelises even when
//   outer == 1.
//
// The max is subtracted before exp, so every term lies in (0, 1]; the sums
// of exponentials are accumulated in double so long rows (big vocabularies)
// lose no precision in float.
#include "softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace duel::cpu {
namespace {
constexpr int64_t kInnerBlock = 256;
}  // namespace

template <class T>
void softmax_forward(const T* x, T* y, int64_t outer, int64_t D, int64_t inner, bool log_softmax) {
  if (outer <= 0 || D <= 0 || inner <= 0) return;
  if (inner == 1) {
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
      const T* xr = x + o * D;
      T* yr = y + o * D;
      T max_value = -std::numeric_limits<T>::infinity();
      for (int64_t d = 0; d < D; ++d) max_value = std::max(max_value, xr[d]);
      if (std::isinf(max_value) && max_value < 0) max_value = T(0);  // all -inf: avoid NaN from -inf - -inf
      double sum = 0.0;
      if (log_softmax) {
        for (int64_t d = 0; d < D; ++d) sum += double(std::exp(xr[d] - max_value));
        // (x - max) - log(sum), not x - (max + log(sum)): the latter rounds at the scale of |max|
        const T log_sum = T(std::log(sum));
        for (int64_t d = 0; d < D; ++d) yr[d] = (xr[d] - max_value) - log_sum;
      } else {
        for (int64_t d = 0; d < D; ++d) {
          const T e = std::exp(xr[d] - max_value);
          yr[d] = e;
          sum += double(e);
        }
        const T scale = T(1.0 / sum);
        for (int64_t d = 0; d < D; ++d) yr[d] *= scale;
      }
    }
    return;
  }
  const int64_t blocks_per_outer = (inner + kInnerBlock - 1) / kInnerBlock;
  const int64_t tasks = outer * blocks_per_outer;
#pragma omp parallel for schedule(static)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t o = task / blocks_per_outer;
    const int64_t i0 = (task % blocks_per_outer) * kInnerBlock;
    const int64_t width = std::min(kInnerBlock, inner - i0);
    const T* xb = x + o * D * inner + i0;
    T* yb = y + o * D * inner + i0;
    T max_value[kInnerBlock];
    double sum[kInnerBlock];
    for (int64_t i = 0; i < width; ++i) {
      max_value[i] = -std::numeric_limits<T>::infinity();
      sum[i] = 0.0;
    }
    for (int64_t d = 0; d < D; ++d) {
      const T* xr = xb + d * inner;
      for (int64_t i = 0; i < width; ++i) max_value[i] = std::max(max_value[i], xr[i]);
    }
    for (int64_t i = 0; i < width; ++i)
      if (std::isinf(max_value[i]) && max_value[i] < 0) max_value[i] = T(0);
    if (log_softmax) {
      for (int64_t d = 0; d < D; ++d) {
        const T* xr = xb + d * inner;
        for (int64_t i = 0; i < width; ++i) sum[i] += double(std::exp(xr[i] - max_value[i]));
      }
      T log_sum[kInnerBlock];
      for (int64_t i = 0; i < width; ++i) log_sum[i] = T(std::log(sum[i]));
      for (int64_t d = 0; d < D; ++d) {
        const T* xr = xb + d * inner;
        T* yr = yb + d * inner;
        for (int64_t i = 0; i < width; ++i) yr[i] = (xr[i] - max_value[i]) - log_sum[i];
      }
    } else {
      for (int64_t d = 0; d < D; ++d) {
        const T* xr = xb + d * inner;
        T* yr = yb + d * inner;
        for (int64_t i = 0; i < width; ++i) {
          const T e = std::exp(xr[i] - max_value[i]);
          yr[i] = e;
          sum[i] += double(e);
        }
      }
      T scale[kInnerBlock];
      for (int64_t i = 0; i < width; ++i) scale[i] = T(1.0 / sum[i]);
      for (int64_t d = 0; d < D; ++d) {
        T* yr = yb + d * inner;
        for (int64_t i = 0; i < width; ++i) yr[i] *= scale[i];
      }
    }
  }
}

template <class T>
void softmax_backward(const T* gy, const T* y, T* gx, int64_t outer, int64_t D, int64_t inner,
                      bool log_softmax) {
  if (outer <= 0 || D <= 0 || inner <= 0) return;
  const int64_t blocks_per_outer = (inner + kInnerBlock - 1) / kInnerBlock;
  const int64_t tasks = outer * blocks_per_outer;
#pragma omp parallel for schedule(static)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t o = task / blocks_per_outer;
    const int64_t i0 = (task % blocks_per_outer) * kInnerBlock;
    const int64_t width = std::min(kInnerBlock, inner - i0);
    const int64_t base = o * D * inner + i0;
    T dot[kInnerBlock];
    for (int64_t i = 0; i < width; ++i) dot[i] = T(0);
    // dot = sum_D gy*y (softmax) or sum_D gy (log_softmax)
    for (int64_t d = 0; d < D; ++d) {
      const T* g = gy + base + d * inner;
      const T* yr = y + base + d * inner;
      if (log_softmax)
        for (int64_t i = 0; i < width; ++i) dot[i] += g[i];
      else
        for (int64_t i = 0; i < width; ++i) dot[i] += g[i] * yr[i];
    }
    for (int64_t d = 0; d < D; ++d) {
      const T* g = gy + base + d * inner;
      const T* yr = y + base + d * inner;
      T* out = gx + base + d * inner;
      if (log_softmax)
        for (int64_t i = 0; i < width; ++i) out[i] = g[i] - std::exp(yr[i]) * dot[i];
      else
        for (int64_t i = 0; i < width; ++i) out[i] = yr[i] * (g[i] - dot[i]);
    }
  }
}

template void softmax_forward<float>(const float*, float*, int64_t, int64_t, int64_t, bool);
template void softmax_forward<double>(const double*, double*, int64_t, int64_t, int64_t, bool);
template void softmax_backward<float>(const float*, const float*, float*, int64_t, int64_t, int64_t,
                                      bool);
template void softmax_backward<double>(const double*, const double*, double*, int64_t, int64_t,
                                       int64_t, bool);

}  // namespace duel::cpu
