// Routes a kernel call to the backend of the tensors' device. Every backend
// implements the same function names in its own namespace (duel::cpu,
// duel::cuda, duel::sim), so an op front-end names a kernel once:
//
//   DUEL_KERNEL(x.device(), conv2d_forward<scalar_t>, xp, wp, yp, geometry);
//
// expands to a switch on the device type that calls
//   cpu  -> ::duel::cpu::conv2d_forward<scalar_t>(...)   (kernels/cpu/*.h)
//   sim  -> ::duel::sim::conv2d_forward<scalar_t>(...)   (kernels/cuda/*.cu run by the SIMT emulator)
//   cuda -> ::duel::cuda::conv2d_forward<scalar_t>(...)  (kernels/cuda/*.cu under nvcc; only when
//                                                         the build has CUDA, DUEL_WITH_CUDA)
// The sim and cuda names are declared in kernels/cuda/kernels.h (one list for both, the
// CPU signatures). Every name a front-end dispatches must therefore exist in all
// backends of the build; a missing one is a compile error at the front-end, not a
// run-time surprise.
#pragma once
// the cpu backend's declarations of the kernels that front-ends dispatch with a
// geometry or update struct (the others come with their op's own kernels/cpu/*.h)
#include "kernels/cpu/conv.h"
#include "kernels/cpu/optim.h"
#include "kernels/cpu/pool.h"
#include "kernels/cpu/reduction.h"
#include "kernels/cuda/kernels.h"
#include "tensor/device.h"
#include "tensor/error.h"

namespace duel::detail {
[[noreturn]] inline void no_backend(const char* kernel, Device d) {
  if (d.type == DeviceType::CUDA)
    DUEL_FAIL(kernel, ": no CUDA device available (this build has no CUDA kernels for tensors on ", d.str(),
              "); use device cpu or sim");
  DUEL_FAIL(kernel, ": no kernel for device ", d.str(), " in this build");
}
}  // namespace duel::detail

#if defined(DUEL_WITH_CUDA)
#define DUEL_KERNEL_CUDA_CASE_(NAME, ...) \
  case ::duel::DeviceType::CUDA: ::duel::cuda::NAME(__VA_ARGS__); break;
#else
#define DUEL_KERNEL_CUDA_CASE_(NAME, ...)
#endif

#define DUEL_KERNEL(DEVICE, NAME, ...)                                     \
  do {                                                                     \
    switch ((DEVICE).type) {                                               \
      case ::duel::DeviceType::CPU: ::duel::cpu::NAME(__VA_ARGS__); break; \
      case ::duel::DeviceType::Sim: ::duel::sim::NAME(__VA_ARGS__); break; \
      DUEL_KERNEL_CUDA_CASE_(NAME, __VA_ARGS__)                            \
      default: ::duel::detail::no_backend(#NAME, (DEVICE));                \
    }                                                                      \
  } while (0)
