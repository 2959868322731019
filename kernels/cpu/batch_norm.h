// Batch normalisation kernels for the CPU. x is viewed as [N, C, S] (NCHW with
// S = H*W, or [N, C] with S = 1), contiguous row-major; statistics are per
// channel c over the N*S elements of that channel. See batch_norm.cpp for the
// parallelisation.
#pragma once
#include <cstdint>

namespace duel::cpu {

// Per-channel batch statistics of x[N, C, S]:
//   mean[c]   = mean of channel c
//   invstd[c] = 1 / sqrt(var[c] + eps), var = biased variance (divide by N*S).
// Accumulates in double with per-(n, c)-plane two-pass sums merged by Chan's
// formula (numerically stable). mean[C] and invstd[C] are overwritten.
template <class T>
void batch_norm_stats(const T* x, int64_t N, int64_t C, int64_t S, double eps, T* mean, T* invstd);

// y[N, C, S] = (x - mean[c]) * invstd[c] * weight[c] + bias[c].
// weight / bias may be nullptr (meaning 1 / 0). y is overwritten; y may equal x
// (in-place).
template <class T>
void batch_norm_apply(const T* x, const T* mean, const T* invstd, const T* weight, const T* bias,
                      int64_t N, int64_t C, int64_t S, T* y);

// The training-mode forward: batch_norm_stats, then batch_norm_apply (the fused entry the
// front-end dispatches; the CUDA backend may run it as one cuDNN call, kernels/impl.h).
template <class T>
void batch_norm_forward(const T* x, const T* weight, const T* bias, int64_t N, int64_t C, int64_t S, double eps,
                        T* mean, T* invstd, T* y);

// Training-mode backward (mean/invstd are the batch statistics of x, as from
// batch_norm_stats; their dependence on x is included). With
// xhat = (x - mean) * invstd and M = N*S:
//   gbias[c]   = sum gy
//   gweight[c] = sum gy * xhat
//   gx         = weight*invstd/M * (M*gy - gbias[c] - xhat*gweight[c])
// weight may be nullptr (= 1). Any of gx / gweight / gbias may be nullptr (not
// needed). All outputs are overwritten. gx may equal gy (in-place).
template <class T>
void batch_norm_backward(const T* gy, const T* x, const T* mean, const T* invstd, const T* weight,
                         int64_t N, int64_t C, int64_t S, T* gx, T* gweight, T* gbias);

}  // namespace duel::cpu
