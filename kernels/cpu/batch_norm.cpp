// Batch normalisation on the CPU, multi-threaded with OpenMP.
//
// Memory layout: x is [N, C, S], contiguous, so channel c is N separate runs
// ("planes") of S contiguous values, one per sample. Everything here is
// memory-bound, so the goal is to touch x (and gy) as few times as possible
// with long contiguous inner loops:
//
//   stats     1 pass over x: per (n, c) plane, a thread computes the plane's
//             sum and its sum of squared deviations from the plane mean (the
//             plane is re-read from L1/L2, not memory). Plane results are then
//             merged per channel with Chan's parallel-variance formula, in
//             double, which is as stable as a global two-pass algorithm.
//   apply     1 pass: y = (x - mean[c]) * scale[c] + bias[c], scale = invstd*weight
//             folded per channel up front.
//   backward  2 passes: (1) per-plane sums of gy and gy*(x - mean), merged per
//             channel; (2) gx = (x - mean[c])*b[c] + d[c] + gy*a[c] with a, b, d
//             folded per channel.
//
// Parallelisation: the reductions run `omp parallel for` over the N*C planes
// (balanced even when C < threads, e.g. C = 1), writing per-plane partials to
// a small scratch vector, then a parallel loop over channels merges them. The
// elementwise passes run over planes as well; when planes are tiny (S small,
// e.g. BatchNorm1d with S = 1) they run over samples n instead, with the
// inner loop over the contiguous C*S values of one sample so it vectorises.
#include "batch_norm.h"

#include <cmath>
#include <vector>

namespace duel::cpu {
namespace {

// Planes shorter than this are processed a whole sample (C*S values) at a time.
constexpr int64_t kSmallPlane = 32;

// out = (x - center[c]) * x_scale[c] + offset[c] (+ gy * gy_scale[c] when gy
// is given) over [N, C, S]. Centring before scaling keeps float accuracy when
// |mean| >> std.
template <class T>
void per_channel_affine(const T* x, const T* center, const T* x_scale, const T* offset,
                        const T* gy, const T* gy_scale, int64_t N, int64_t C, int64_t S, T* out) {
  auto plane_kernel = [&](int64_t plane, int64_t c) {
    const T* px = x + plane * S;
    T* po = out + plane * S;
    const T m = center[c], a = x_scale[c], d = offset[c];
    if (gy) {
      const T* pg = gy + plane * S;
      const T b = gy_scale[c];
#pragma omp simd
      for (int64_t s = 0; s < S; ++s) po[s] = (px[s] - m) * a + pg[s] * b + d;
    } else {
#pragma omp simd
      for (int64_t s = 0; s < S; ++s) po[s] = (px[s] - m) * a + d;
    }
  };
  if (S < kSmallPlane) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) plane_kernel(n * C + c, c);
    return;
  }
  const int64_t planes = N * C;
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) plane_kernel(plane, plane % C);
}

}  // namespace

template <class T>
void batch_norm_stats(const T* x, int64_t N, int64_t C, int64_t S, double eps, T* mean,
                      T* invstd) {
  const int64_t planes = N * C;
  const int64_t count = N * S;
  if (count == 0) {
    for (int64_t c = 0; c < C; ++c) {
      mean[c] = T(0);
      invstd[c] = T(1.0 / std::sqrt(eps));
    }
    return;
  }
  std::vector<double> plane_mean(static_cast<size_t>(planes)), plane_m2(static_cast<size_t>(planes));
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) {
    const T* p = x + plane * S;
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int64_t s = 0; s < S; ++s) sum += double(p[s]);
    const double m = S > 0 ? sum / double(S) : 0.0;
    double m2 = 0.0;
#pragma omp simd reduction(+ : m2)
    for (int64_t s = 0; s < S; ++s) {
      const double dev = double(p[s]) - m;
      m2 += dev * dev;
    }
    plane_mean[plane] = m;
    plane_m2[plane] = m2;
  }
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    // All planes have the same size S, so the global mean is the mean of the
    // plane means, and M2 = sum M2_plane + S * sum (mean_plane - mean)^2.
    double sum = 0.0;
    for (int64_t n = 0; n < N; ++n) sum += plane_mean[n * C + c];
    const double m = sum / double(N);
    double m2 = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const double dev = plane_mean[n * C + c] - m;
      m2 += plane_m2[n * C + c] + double(S) * dev * dev;
    }
    const double var = m2 / double(count);
    mean[c] = T(m);
    invstd[c] = T(1.0 / std::sqrt(var + eps));
  }
}

template <class T>
void batch_norm_apply(const T* x, const T* mean, const T* invstd, const T* weight, const T* bias,
                      int64_t N, int64_t C, int64_t S, T* y) {
  std::vector<T> scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    const double k = double(invstd[c]) * (weight ? double(weight[c]) : 1.0);
    scale[c] = T(k);
    shift[c] = bias ? bias[c] : T(0);
  }
  per_channel_affine<T>(x, mean, scale.data(), shift.data(), nullptr, nullptr, N, C, S, y);
}

template <class T>
void batch_norm_forward(const T* x, const T* weight, const T* bias, int64_t N, int64_t C, int64_t S, double eps,
                        T* mean, T* invstd, T* y) {
  batch_norm_stats<T>(x, N, C, S, eps, mean, invstd);
  batch_norm_apply<T>(x, mean, invstd, weight, bias, N, C, S, y);
}

template <class T>
void batch_norm_backward(const T* gy, const T* x, const T* mean, const T* invstd, const T* weight,
                         int64_t N, int64_t C, int64_t S, T* gx, T* gweight, T* gbias) {
  const int64_t planes = N * C;
  const double count = double(N * S);
  // Pass 1: per-plane sum(gy) and sum(gy * (x - mean)).
  std::vector<double> plane_gy(static_cast<size_t>(planes)), plane_gy_xc(static_cast<size_t>(planes));
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) {
    const int64_t c = plane % C;
    const T* pg = gy + plane * S;
    const T* px = x + plane * S;
    const double m = double(mean[c]);
    double sum_gy = 0.0, sum_gy_xc = 0.0;
#pragma omp simd reduction(+ : sum_gy, sum_gy_xc)
    for (int64_t s = 0; s < S; ++s) {
      const double g = double(pg[s]);
      sum_gy += g;
      sum_gy_xc += g * (double(px[s]) - m);
    }
    plane_gy[plane] = sum_gy;
    plane_gy_xc[plane] = sum_gy_xc;
  }
  std::vector<T> coef_gy(static_cast<size_t>(C)), coef_x(static_cast<size_t>(C)),
      coef_const(static_cast<size_t>(C));
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    double sum_gy = 0.0, sum_gy_xc = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      sum_gy += plane_gy[n * C + c];
      sum_gy_xc += plane_gy_xc[n * C + c];
    }
    const double istd = double(invstd[c]);
    if (gbias) gbias[c] = T(sum_gy);
    if (gweight) gweight[c] = T(sum_gy_xc * istd);
    // gx = k*gy - k/M*sum_gy - k*istd^2/M*sum_gy_xc*(x - mean),  k = w*istd
    const double k = istd * (weight ? double(weight[c]) : 1.0);
    const double slope = count > 0 ? -k * istd * istd * sum_gy_xc / count : 0.0;
    const double offset = count > 0 ? -k * sum_gy / count : 0.0;
    coef_gy[c] = T(k);
    coef_x[c] = T(slope);
    coef_const[c] = T(offset);
  }
  // Pass 2: gx = (x - mean)*slope + offset + gy*k.
  if (gx)
    per_channel_affine<T>(x, mean, coef_x.data(), coef_const.data(), gy, coef_gy.data(), N, C, S,
                          gx);
}

template void batch_norm_stats<float>(const float*, int64_t, int64_t, int64_t, double, float*, float*);
template void batch_norm_stats<double>(const double*, int64_t, int64_t, int64_t, double, double*,
                                       double*);
template void batch_norm_apply<float>(const float*, const float*, const float*, const float*,
                                      const float*, int64_t, int64_t, int64_t, float*);
template void batch_norm_apply<double>(const double*, const double*, const double*, const double*,
                                       const double*, int64_t, int64_t, int64_t, double*);
template void batch_norm_forward<float>(const float*, const float*, const float*, int64_t, int64_t, int64_t, double,
                                        float*, float*, float*);
template void batch_norm_forward<double>(const double*, const double*, const double*, int64_t, int64_t, int64_t,
                                         double, double*, double*, double*);
template void batch_norm_backward<float>(const float*, const float*, const float*, const float*,
                                         const float*, int64_t, int64_t, int64_t, float*, float*,
                                         float*);
template void batch_norm_backward<double>(const double*, const double*, const double*,
                                          const double*, const double*, int64_t, int64_t, int64_t,
                                          double*, double*, double*);

}  // namespace duel::cpu
