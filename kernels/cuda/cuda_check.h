// DUEL_CUDA_CHECK(expr): checks a CUDA runtime call and throws duel::Error naming the CUDA
// error (text and name), the expression and the file:line of the call:
//   cuda: cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, s) failed at
//   kernels/cuda/device.cu:118: an illegal memory access was encountered (cudaErrorIllegalAddress)
// For CUDA code only (nvcc, or a host compiler with the toolkit's headers): kernel sources
// get it through kernels/cuda/common.cuh. Launch errors are checked by DUEL_CHECK_LAUNCH
// (kernels/cuda/utils.cuh), which names the kernel and the launch site the same way.
#pragma once
#include <cuda_runtime.h>

namespace duel::cuda {
// Clears a non-sticky error (so later calls are not blamed for it), then throws. Defined in
// kernels/cuda/device.cu.
[[noreturn]] void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line);
}  // namespace duel::cuda

#define DUEL_CUDA_CHECK(expr)                                                    \
  do {                                                                           \
    const cudaError_t duel_cuda_err_ = (expr);                                   \
    if (duel_cuda_err_ != cudaSuccess)                                           \
      ::duel::cuda::throw_cuda_error(duel_cuda_err_, #expr, __FILE__, __LINE__); \
  } while (0)
