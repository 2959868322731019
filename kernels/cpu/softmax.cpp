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
//
// float rows (inner == 1) take an AVX2/FMA path where the CPU has it (chosen at run time,
// like the GEMM's kernels): 8 lanes of max, of a polynomial exp and of the scaling. Language
// models' and policies' output layers (a 5000-word vocabulary, 4168 chess moves) spend most
// of their softmax time in exp, which the scalar path calls once per element.
#include "softmax.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/cpu/simd_math.h"

namespace duel::cpu {
namespace {
constexpr int64_t kInnerBlock = 256;

// One row of D floats: y = softmax(x) or log_softmax(x), as the scalar loop below computes it
// (max, then sum of exp(x - max) in double, then scale or subtract the log of the sum).
__attribute__((target("avx2,fma"))) void softmax_row_avx2(const float* x, float* y, int64_t D, bool log_softmax) {
  float max_value = -std::numeric_limits<float>::infinity();
  int64_t d = 0;
  if (D >= 8) {
    __m256 m = _mm256_loadu_ps(x);
    for (d = 8; d + 8 <= D; d += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + d));
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, m);
    for (float l : lanes) max_value = std::max(max_value, l);
  }
  for (; d < D; ++d) max_value = std::max(max_value, x[d]);
  if (std::isinf(max_value) && max_value < 0) max_value = 0.0f;  // all -inf: avoid NaN from -inf - -inf
  const __m256 mx = _mm256_set1_ps(max_value);
  __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
  for (d = 0; d + 8 <= D; d += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + d), mx));
    if (!log_softmax) _mm256_storeu_ps(y + d, e);
    acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  alignas(32) double parts[4];
  _mm256_store_pd(parts, _mm256_add_pd(acc0, acc1));
  double sum = (parts[0] + parts[1]) + (parts[2] + parts[3]);
  for (int64_t r = d; r < D; ++r) {
    const float e = std::exp(x[r] - max_value);
    if (!log_softmax) y[r] = e;
    sum += double(e);
  }
  if (log_softmax) {
    const float log_sum = float(std::log(sum));
    const __m256 ls = _mm256_set1_ps(log_sum);
    for (d = 0; d + 8 <= D; d += 8) _mm256_storeu_ps(y + d, _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + d), mx), ls));
    for (; d < D; ++d) y[d] = (x[d] - max_value) - log_sum;
  } else {
    const __m256 scale = _mm256_set1_ps(float(1.0 / sum));
    for (d = 0; d + 8 <= D; d += 8) _mm256_storeu_ps(y + d, _mm256_mul_ps(_mm256_loadu_ps(y + d), scale));
    for (; d < D; ++d) y[d] *= float(1.0 / sum);
  }
}
}  // namespace

template <class T>
void softmax_forward(const T* x, T* y, int64_t outer, int64_t D, int64_t inner, bool log_softmax) {
  if (outer <= 0 || D <= 0 || inner <= 0) return;
  if (inner == 1) {
    const bool simd = std::is_same_v<T, float> && have_avx2_fma();
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
      const T* xr = x + o * D;
      T* yr = y + o * D;
      if constexpr (std::is_same_v<T, float>) {
        if (simd) {
          softmax_row_avx2(xr, yr, D, log_softmax);
          continue;
        }
      }
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
