// Portability header for duel's CUDA kernel sources (kernels/cuda/*.cu).
//
// Every kernel source is compiled twice:
//   * by nvcc (__CUDACC__ defined) for real GPUs, and
//   * by g++ with DUEL_SIM defined, for the SIMT emulator in kernels/sim/, which runs
//     the very same kernel bodies on the CPU (one fiber per CUDA thread).
// The sources stay plain CUDA except for the two things nvcc alone understands:
//
//   DUEL_LAUNCH(kernel, grid, block, shmem_bytes, stream)(args...);
//       == kernel<<<grid, block, shmem_bytes, stream>>>(args...)
//       A template kernel must be parenthesised: DUEL_LAUNCH((k<float, 4>), g, b, 0, s)(x, n);
//       (nvcc accepts `(k<float, 4>)<<<...>>>`; a function pointer to a kernel works as well.)
//
//   DUEL_DYNAMIC_SHARED(T, name);      (inside a kernel / __device__ function body)
//       == extern __shared__ T name[];  but declares `T* name` (all dynamic shared
//       memory of a block starts at the same 16-byte aligned address, as in CUDA).
//
//   DUEL_SET_MAX_DYNAMIC_SHARED(kernel, bytes)   host side, before a launch that needs
//       more than 48 KiB of dynamic shared memory (cudaFuncSetAttribute on the GPU).
//
// Error checks (see also DUEL_CHECK_LAUNCH in utils.cuh, after every launch):
//   DUEL_CUDA_CHECK(cudaMemcpyAsync(...));   (nvcc only; kernels/cuda/cuda_check.h) throws
//       duel::Error naming the CUDA error (text and name), the expression and the file:line.
// Kernels are launched on the current stream (kernels/cuda/stream.h): pass launch_stream()
// (utils.cuh) as DUEL_LAUNCH's stream argument.
//
// Static `__shared__ T x[N];`, `__syncthreads()`, `__shfl_*_sync`, votes, atomics,
// threadIdx/blockIdx/blockDim/gridDim, warpSize and the usual math intrinsics are
// written exactly as in CUDA; under DUEL_SIM they come from kernels/sim/sim.h.
// A TU compiled for the emulator must not include <cuda_runtime.h>.
//
// Qualifier macros usable in shared (host + device) headers:
//   DUEL_GLOBAL, DUEL_DEVICE, DUEL_HOST_DEVICE, DUEL_FORCEINLINE, DUEL_RESTRICT.
//
// One library can hold both builds of a kernel source (the CUDA backend and the
// emulator), so a source puts its kernels and host wrappers in
//   namespace duel::DUEL_BACKEND_NAMESPACE { ... }
// which is duel::cuda under nvcc and duel::sim under the emulator (the namespaces
// kernels/dispatch.h calls into); otherwise both builds would define the same symbols.
#pragma once

#if defined(__CUDACC__)
// ------------------------------------------------------------------------ nvcc ----
#include <cuda_runtime.h>

#include "kernels/cuda/cuda_check.h"  // DUEL_CUDA_CHECK

#define DUEL_BACKEND_NAMESPACE cuda
#define DUEL_GLOBAL __global__
#define DUEL_DEVICE __device__
#define DUEL_HOST_DEVICE __host__ __device__
#define DUEL_FORCEINLINE __forceinline__
#define DUEL_RESTRICT __restrict__

#define DUEL_LAUNCH(kernel, grid, block, shmem_bytes, stream) kernel<<<(grid), (block), (shmem_bytes), (stream)>>>

#define DUEL_DYNAMIC_SHARED(T, name)                                   \
  extern __shared__ __align__(16) unsigned char duel_dynamic_smem_[]; \
  T* name = reinterpret_cast<T*>(duel_dynamic_smem_)

#define DUEL_SET_MAX_DYNAMIC_SHARED(kernel, bytes) \
  DUEL_CUDA_CHECK(cudaFuncSetAttribute((kernel), cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)))

#elif defined(DUEL_SIM)
// ------------------------------------------------------------- SIMT emulator ----
#include "kernels/sim/sim.h"

#define DUEL_BACKEND_NAMESPACE sim
#define DUEL_GLOBAL __global__
#define DUEL_DEVICE __device__
#define DUEL_HOST_DEVICE __host__ __device__
#define DUEL_FORCEINLINE __forceinline__
#define DUEL_RESTRICT __restrict__

// The emulator also records where the launch is written, for its error messages.
#define DUEL_LAUNCH(kernel, grid, block, shmem_bytes, stream) \
  ::duel::sim::detail::make_launcher(#kernel, kernel, (grid), (block), (shmem_bytes), (stream), __FILE__, __LINE__)

#define DUEL_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(::duel::sim::detail::dynamic_shared())

#define DUEL_SET_MAX_DYNAMIC_SHARED(kernel, bytes) \
  ::duel::sim::set_max_dynamic_shared_bytes(reinterpret_cast<const void*>(kernel), (bytes))

#else
#error "kernels/cuda/common.cuh: compile with nvcc, or with DUEL_SIM defined for the SIMT emulator"
#endif
