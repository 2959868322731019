// Routes a kernel call to the backend of the tensors' device. Every backend
// implements the same function names in its own namespace (duel::cpu,
// duel::cuda, duel::sim), so an op front-end names a kernel once.
#pragma once
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

#define DUEL_KERNEL(DEVICE, NAME, ...)                                \
  do {                                                                \
    switch ((DEVICE).type) {                                          \
      case ::duel::DeviceType::CPU: ::duel::cpu::NAME(__VA_ARGS__); break; \
      default: ::duel::detail::no_backend(#NAME, (DEVICE));           \
    }                                                                 \
  } while (0)
