// The `sim` device of the tensor API: tensors whose storage lives in the SIMT
// emulator's device memory (kernels/sim/runtime.h) and whose ops run the CUDA kernel
// sources of kernels/cuda/ on the CPU (namespace duel::sim, see kernels/cuda/kernels.h).
//
//   Tensor x = zeros({2, 3}, TensorOptions(kFloat32, Device("sim")));
//   Tensor y = cpu_tensor.to(Device("sim"));
//
// The allocator is registered at static-initialisation time. In a static libduel.a an
// object file is only linked when something references it: every sim kernel's host
// wrapper calls duel::sim::check_launch (defined below), and the tensor front-ends
// reference the sim kernels through DUEL_KERNEL, so any program that creates a tensor
// links this file too.
#include "kernels/sim/runtime.h"
#include "tensor/error.h"
#include "tensor/storage.h"

namespace duel::sim {
namespace {

struct SimAllocator final : Allocator {
  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    return device_malloc(nbytes);
  }
  void deallocate(void* ptr, size_t) override {
    if (ptr) device_free(ptr);
  }
  void copy_to_host(void* host_dst, const void* device_src, size_t nbytes) override {
    if (nbytes) memcpy_dtoh(host_dst, device_src, nbytes);
  }
  void copy_from_host(void* device_dst, const void* host_src, size_t nbytes) override {
    if (nbytes) memcpy_htod(device_dst, host_src, nbytes);
  }
};

SimAllocator sim_allocator;

const bool registered = [] {
  register_allocator(DeviceType::Sim, &sim_allocator);
  return true;
}();

}  // namespace

// The emulator throws LaunchError / KernelError from the launch itself (synchronously),
// so there is nothing left to check when it returns.
void check_launch(const char*) {}

}  // namespace duel::sim
