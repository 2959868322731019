// Vectorised math loops (kernels/cpu/simd_math.h).
#include "kernels/cpu/simd_math.h"

#include <cmath>

namespace duel::cpu {
namespace {

// the generic path's formulas, for the groups exp8 does not take
float exp_scalar(float v) { return std::exp(v); }

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

__attribute__((target("avx2,fma"))) void tanh_avx2(const float* x, float* y, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f), sign = _mm256_set1_ps(-0.0f);
  const __m256 small = _mm256_set1_ps(0.625f), limit = _mm256_set1_ps(40.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 a = _mm256_andnot_ps(sign, v);  // |x|
    if (_mm256_movemask_ps(_mm256_cmp_ps(a, limit, _CMP_LE_OQ)) != 0xff) {  // |x| > 40 or NaN
      for (int64_t k = i; k < i + 8; ++k) y[k] = std::tanh(x[k]);
      continue;
    }
    // |x| >= 0.625: 1 - 2 / (e^{2|x|} + 1), with the sign of x
    const __m256 big = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(exp8(_mm256_add_ps(a, a)), one)));
    const __m256 big_signed = _mm256_or_ps(big, _mm256_and_ps(v, sign));
    // |x| < 0.625: x + x^3 P(x^2) (Cephes tanhf)
    const __m256 z = _mm256_mul_ps(v, v);
    __m256 p = _mm256_set1_ps(-5.70498872745E-3f);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954E-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531E-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036E-1f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422E-1f));
    __m256 poly = _mm256_fmadd_ps(_mm256_mul_ps(p, z), v, v);
    poly = _mm256_or_ps(_mm256_andnot_ps(sign, poly), _mm256_and_ps(v, sign));  // tanh(-0) = -0
    _mm256_storeu_ps(y + i, _mm256_blendv_ps(big_signed, poly, _mm256_cmp_ps(a, small, _CMP_LT_OQ)));
  }
  for (; i < n; ++i) y[i] = std::tanh(x[i]);
}

}  // namespace duel::cpu
