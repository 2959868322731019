// Vectorised math for the CPU kernels: exp of 8 floats with AVX2 and FMA, and the loops built
// on it. Compiled with __attribute__((target(...))) and chosen at run time (have_avx2_fma()),
// like the GEMM's kernels, so one binary runs on every x86-64 CPU.
#pragma once
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

namespace duel::cpu {

// The numerically stable logistic function, the generic (scalar) path of every sigmoid.
template <class T>
inline T sigmoid_scalar(T v) {
  if (v >= 0) return T(1) / (T(1) + std::exp(-v));
  const T e = std::exp(v);
  return e / (T(1) + e);
}

inline bool have_avx2_fma() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}

// exp of 8 floats: x = n ln 2 + r with |r| <= ln 2 / 2, e^r by Cephes expf's degree-6
// polynomial, 2^n through the exponent bits. Within 2 ulp of expf on [-87.3, 88.3]; below
// -87.3 exactly 0 (expf gives denormals there: a softmax term under 1e-38 of its row's
// largest), so -inf and masked logits (-1e9) get probability 0; NaN stays NaN.
__attribute__((target("avx2,fma"))) inline __m256 exp8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.3365447505531f);  // ln of the smallest normal float
  const __m256 nan_lanes = _mm256_cmp_ps(x, x, _CMP_UNORD_Q), zero_lanes = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  __m256 v = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.3762626647949f));
  const __m256 n = _mm256_floor_ps(_mm256_fmadd_ps(v, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  v = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), v);  // r = x - n ln 2, ln 2 in two parts
  v = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), v);
  const __m256 z = _mm256_mul_ps(v, v);
  __m256 y = _mm256_set1_ps(1.9875691500E-4f);
  y = _mm256_fmadd_ps(y, v, _mm256_set1_ps(1.3981999507E-3f));
  y = _mm256_fmadd_ps(y, v, _mm256_set1_ps(8.3334519073E-3f));
  y = _mm256_fmadd_ps(y, v, _mm256_set1_ps(4.1665795894E-2f));
  y = _mm256_fmadd_ps(y, v, _mm256_set1_ps(1.6666665459E-1f));
  y = _mm256_fmadd_ps(y, v, _mm256_set1_ps(5.0000001201E-1f));
  y = _mm256_add_ps(_mm256_fmadd_ps(y, z, v), _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 r = _mm256_andnot_ps(zero_lanes, _mm256_mul_ps(y, _mm256_castsi256_ps(e)));
  return _mm256_blendv_ps(r, x, nan_lanes);
}

// y[i] = exp(x[i]) and y[i] = 1 / (1 + exp(-x[i])) for n floats, within 2 and 3 ulp of the
// exact values. Groups of 8 with every |x| <= 80 take exp8; any other group (where exp
// overflows, underflows to denormals, or meets a NaN) and the last n % 8 take the scalar
// formulas of the generic path, so the results at the extremes are the scalar path's.
void exp_avx2(const float* x, float* y, int64_t n);
void sigmoid_avx2(const float* x, float* y, int64_t n);
// y[i] = tanh(x[i]) for n floats, within 3 ulp of the exact value (tested against double):
// for |x| < 0.625 Cephes tanhf's odd polynomial x + x^3 P(x^2) (no cancellation near 0), above
// it 1 - 2 / (exp(2|x|) + 1) with exp8, and the sign of x. Groups with |x| > 40 (tanh is +-1
// there in float) or a NaN, and the last n % 8, take std::tanh.
void tanh_avx2(const float* x, float* y, int64_t n);

// y = sigmoid(x) and y = tanh(x) for n values: float with AVX2 + FMA through the loops above,
// otherwise (double, or a CPU without them) the scalar formulas.
template <class T>
void sigmoid_n(const T* x, T* y, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    if (have_avx2_fma()) return sigmoid_avx2(x, y, n);
  }
  for (int64_t k = 0; k < n; ++k) y[k] = sigmoid_scalar(x[k]);
}
template <class T>
void tanh_n(const T* x, T* y, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    if (have_avx2_fma()) return tanh_avx2(x, y, n);
  }
  for (int64_t k = 0; k < n; ++k) y[k] = std::tanh(x[k]);
}

}  // namespace duel::cpu
