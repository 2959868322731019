// Vectorised math loops (kernels/cpu/simd_math.h).
#include "kernels/cpu/simd_math.h"

#include <cmath>

namespace duel::cpu {
namespace {

// the generic path's formulas, for the groups exp8 does not take
float exp_scalar(float v) { return std::exp(v); }
float sigmoid_scalar(float v) {
  if (v >= 0) return 1.0f / (1.0f + std::exp(-v));
  const float e = std::exp(v);
  return e / (1.0f + e);
}

// true when every lane has |x| <= 80 (no NaN)
__attribute__((target("avx2,fma"))) inline bool in_range(__m256 x) {
  const __m256 abs = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  return _mm256_movemask_ps(_mm256_cmp_ps(abs, _mm256_set1_ps(80.0f), _CMP_LE_OQ)) == 0xff;
}

}  // namespace

__attribute__((target("avx2,fma"))) void exp_avx2(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    if (in_range(v)) {
      _mm256_storeu_ps(y + i, exp8(v));
    } else {
      for (int64_t k = i; k < i + 8; ++k) y[k] = exp_scalar(x[k]);
    }
  }
  for (; i < n; ++i) y[i] = exp_scalar(x[i]);
}

__attribute__((target("avx2,fma"))) void sigmoid_avx2(const float* x, float* y, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    if (in_range(v)) {
      _mm256_storeu_ps(y + i, _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_xor_ps(v, sign)))));
    } else {
      for (int64_t k = i; k < i + 8; ++k) y[k] = sigmoid_scalar(x[k]);
    }
  }
  for (; i < n; ++i) y[i] = sigmoid_scalar(x[i]);
}

}  // namespace duel::cpu
