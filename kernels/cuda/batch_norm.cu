// Batch normalisation over x viewed as [N, C, S] (contiguous; S = H*W, or 1 for
// [N, C]): per-channel statistics, the affine apply, and the training-mode backward,
// with the semantics of kernels/cpu/batch_norm.h.
//
// batch_norm_stats: ONE BLOCK PER CHANNEL (grid-stride over channels; blockDim = N*S
//   rounded up to a multiple of 32, at most 256). The channel's N*S elements are
//   walked as a flat index j = n*S + s, thread t taking j = t, t + blockDim, ...:
//   consecutive threads read consecutive s inside one (n, c) plane (coalesced), jumping
//   C*S elements between planes. Numerically stable two-pass algorithm in double:
//   pass 1 sums x (block_reduce: warp __shfl_down_sync trees + one shared slot per
//   warp) -> mean; pass 2 sums (x - mean)^2 -> biased variance. The block owns the whole
//   channel, so both passes see every element and no cross-block merge is needed (the
//   second read mostly hits L2). Thread 0 writes mean[c] and 1/sqrt(var + eps).
//
// batch_norm_apply: elementwise, ONE THREAD PER ELEMENT (grid-stride, 256 threads per
//   block), fully coalesced; channel c = (i / S) % C; the per-channel scale
//   invstd*weight is recomputed per element (two loads from a C-sized array that stays
//   in L1) rather than precomputed in a separate launch. Arithmetic as the CPU:
//   y = (x - mean) * T(invstd * weight) + bias, centring before scaling.
//
// batch_norm_backward: ONE BLOCK PER CHANNEL, like the stats. Pass 1 reduces sum(gy)
//   and sum(gy * (x - mean)) in double (two block reductions); every thread then
//   derives the same three per-channel coefficients, thread 0 stores gbias/gweight, and
//   pass 2 writes gx = (x - mean) * slope + gy * k + offset over the same elements. One
//   launch and no scratch memory: the block that reduced the channel applies it. gx may
//   equal gy: each element is read and then written by one thread, after the pass-1
//   reduction has completed (barrier).
//
// Parallelism is C blocks for the reductions: enough for the usual C >= 32 conv layers;
// for very few channels with huge N*S a split into several blocks per channel with a
// Chan merge of the partial (count, mean, M2) triples would be the next step.
#include "kernels/cuda/utils.cuh"
#if defined(__CUDACC__)
#include "kernels/cudnn/cudnn_ops.h"
#endif

namespace duel::DUEL_BACKEND_NAMESPACE {
namespace {

template <class T>
__global__ void bn_stats_kernel(const T* __restrict__ x, int64_t N, int64_t C, int64_t S, double eps,
                                T* __restrict__ mean, T* __restrict__ invstd) {
  const int64_t count = N * S;
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {  // uniform across the block
    double sum = 0.0;
    for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
      const int64_t n = j / S, s = j % S;
      sum += static_cast<double>(x[(n * C + c) * S + s]);
    }
    sum = block_reduce(sum, SumOp{}, 0.0);
    const double m = count > 0 ? sum / static_cast<double>(count) : 0.0;
    double m2 = 0.0;
    for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
      const int64_t n = j / S, s = j % S;
      const double dev = static_cast<double>(x[(n * C + c) * S + s]) - m;
      m2 += dev * dev;
    }
    m2 = block_reduce(m2, SumOp{}, 0.0);
    if (threadIdx.x == 0) {
      const double var = count > 0 ? m2 / static_cast<double>(count) : 0.0;
      mean[c] = static_cast<T>(m);
      invstd[c] = static_cast<T>(1.0 / ::sqrt(var + eps));
    }
  }
}

template <class T>
__global__ void bn_apply_kernel(const T* x, const T* __restrict__ mean, const T* __restrict__ invstd,
                                const T* __restrict__ weight, const T* __restrict__ bias, int64_t C, int64_t S,
                                int64_t total, T* y) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t c = (i / S) % C;
    const T scale = static_cast<T>(static_cast<double>(invstd[c]) * (weight ? static_cast<double>(weight[c]) : 1.0));
    const T shift = bias ? bias[c] : T(0);
    y[i] = (x[i] - mean[c]) * scale + shift;
  }
}

template <class T>
__global__ void bn_backward_kernel(const T* gy, const T* __restrict__ x, const T* __restrict__ mean,
                                   const T* __restrict__ invstd, const T* __restrict__ weight, int64_t N, int64_t C,
                                   int64_t S, T* gx, T* __restrict__ gweight, T* __restrict__ gbias) {
  const int64_t count = N * S;
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
    const double m = static_cast<double>(mean[c]);
    double sum_gy = 0.0, sum_gy_xc = 0.0;
    for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
      const int64_t k = (j / S * C + c) * S + j % S;
      const double g = static_cast<double>(gy[k]);
      sum_gy += g;
      sum_gy_xc += g * (static_cast<double>(x[k]) - m);
    }
    sum_gy = block_reduce(sum_gy, SumOp{}, 0.0);
    sum_gy_xc = block_reduce(sum_gy_xc, SumOp{}, 0.0);
    const double istd = static_cast<double>(invstd[c]);
    if (threadIdx.x == 0) {
      if (gbias) gbias[c] = static_cast<T>(sum_gy);
      if (gweight) gweight[c] = static_cast<T>(sum_gy_xc * istd);
    }
    if (!gx) continue;
    // gx = k*gy - k/M*sum_gy - k*istd^2/M*sum_gy_xc*(x - mean),  k = w*istd
    const double kk = istd * (weight ? static_cast<double>(weight[c]) : 1.0);
    const double dc = static_cast<double>(count);
    const T coef_gy = static_cast<T>(kk);
    const T coef_x = static_cast<T>(count > 0 ? -kk * istd * istd * sum_gy_xc / dc : 0.0);
    const T coef_const = static_cast<T>(count > 0 ? -kk * sum_gy / dc : 0.0);
    const T mc = mean[c];
    for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
      const int64_t k = (j / S * C + c) * S + j % S;
      gx[k] = (x[k] - mc) * coef_x + gy[k] * coef_gy + coef_const;
    }
  }
}

}  // namespace

template <class T>
void batch_norm_stats(const T* x, int64_t N, int64_t C, int64_t S, double eps, T* mean, T* invstd) {
  if (C <= 0) return;
  DUEL_LAUNCH((bn_stats_kernel<T>), grid_for(C, 1), warp_multiple(N * S), 0, launch_stream())(x, N, C, S, eps, mean, invstd);
  DUEL_CHECK_LAUNCH("bn_stats_kernel");
}

template <class T>
void batch_norm_apply(const T* x, const T* mean, const T* invstd, const T* weight, const T* bias, int64_t N, int64_t C,
                      int64_t S, T* y) {
  const int64_t total = N * C * S;
  if (total <= 0) return;
  DUEL_LAUNCH((bn_apply_kernel<T>), grid_for(total), kThreads, 0, launch_stream())(x, mean, invstd, weight, bias, C, S, total,
                                                                          y);
  DUEL_CHECK_LAUNCH("bn_apply_kernel");
}

// stats + apply, or one cuDNN call (cuda:batch_norm=cudnn, kernels/impl.h)
template <class T>
void batch_norm_forward(const T* x, const T* weight, const T* bias, int64_t N, int64_t C, int64_t S, double eps,
                        T* mean, T* invstd, T* y) {
#if defined(__CUDACC__)
  if (cudnn::selected(cudnn::Op::BatchNorm) && cudnn::batch_norm_forward<T>(x, weight, bias, N, C, S, eps, mean, invstd, y))
    return;
#endif
  batch_norm_stats<T>(x, N, C, S, eps, mean, invstd);
  batch_norm_apply<T>(x, mean, invstd, weight, bias, N, C, S, y);
}

template <class T>
void batch_norm_backward(const T* gy, const T* x, const T* mean, const T* invstd, const T* weight, int64_t N,
                         int64_t C, int64_t S, T* gx, T* gweight, T* gbias) {
#if defined(__CUDACC__)
  if (cudnn::selected(cudnn::Op::BatchNorm) &&
      cudnn::batch_norm_backward<T>(gy, x, mean, invstd, weight, N, C, S, gx, gweight, gbias))
    return;  // cuda:batch_norm=cudnn
#endif
  if (C <= 0) return;
  DUEL_LAUNCH((bn_backward_kernel<T>), grid_for(C, 1), warp_multiple(N * S), 0, launch_stream())(
      gy, x, mean, invstd, weight, N, C, S, gx, gweight, gbias);
  DUEL_CHECK_LAUNCH("bn_backward_kernel");
}

template void batch_norm_stats<float>(const float*, int64_t, int64_t, int64_t, double, float*, float*);
template void batch_norm_stats<double>(const double*, int64_t, int64_t, int64_t, double, double*, double*);
template void batch_norm_apply<float>(const float*, const float*, const float*, const float*, const float*, int64_t,
                                      int64_t, int64_t, float*);
template void batch_norm_apply<double>(const double*, const double*, const double*, const double*, const double*,
                                       int64_t, int64_t, int64_t, double*);
template void batch_norm_forward<float>(const float*, const float*, const float*, int64_t, int64_t, int64_t, double,
                                        float*, float*, float*);
template void batch_norm_forward<double>(const double*, const double*, const double*, int64_t, int64_t, int64_t,
                                         double, double*, double*, double*);
template void batch_norm_backward<float>(const float*, const float*, const float*, const float*, const float*, int64_t,
                                         int64_t, int64_t, float*, float*, float*);
template void batch_norm_backward<double>(const double*, const double*, const double*, const double*, const double*,
                                          int64_t, int64_t, int64_t, double*, double*, double*);

}  // namespace duel::DUEL_BACKEND_NAMESPACE
