// Softmax / log-softmax kernels for the CPU. See softmax.cpp for the
// parallelisation.
#pragma once
#include <cstdint>

namespace duel::cpu {

// x, y viewed as [outer, D, inner] (contiguous row-major); normalises over D:
//   softmax:     y = exp(x - max) / sum exp(x - max)
//   log_softmax: y = x - max - log(sum exp(x - max))
// (max and sum over D, separately for every (outer, inner)). The max is
// subtracted first, so large inputs do not overflow. y is overwritten; y may
// equal x (in-place).
template <class T>
void softmax_forward(const T* x, T* y, int64_t outer, int64_t D, int64_t inner, bool log_softmax);

// Matching backward passes (helpers for autograd), y = the forward output:
//   softmax:     gx = y * (gy - sum_D(gy * y))
//   log_softmax: gx = gy - exp(y) * sum_D(gy)
// gx is overwritten; gx may equal gy.
template <class T>
void softmax_backward(const T* gy, const T* y, T* gx, int64_t outer, int64_t D, int64_t inner,
                      bool log_softmax);

}  // namespace duel::cpu
