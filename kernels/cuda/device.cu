// The `cuda` device of the tensor API (nvcc build only): an Allocator for
// DeviceType::CUDA on top of cudaMalloc/cudaFree/cudaMemcpy, registered at static
// initialisation, and check_launch() for the kernels' host wrappers.
//
// No CUDA call runs at static-initialisation time: the allocator checks
// duel::cuda::is_available() (kernels/cuda/runtime.h) at the first allocation, so a
// program built with CUDA runs fine on a machine without a GPU as long as it does not
// ask for a `cuda` tensor, and then gets the reason (no driver, no device, ...).
//
// Kernels run on the legacy default stream; cudaMemcpy (host <-> device) synchronises
// with it, so a tensor read back on the host always sees the finished kernels.
//
// Under the emulator (DUEL_SIM) this file compiles to nothing: the sim device lives in
// kernels/sim/sim_device.cpp.
#include "kernels/cuda/common.cuh"

#if defined(__CUDACC__)
#include <cstdlib>

#include "kernels/cuda/runtime.h"
#include "kernels/cuda/utils.cuh"
#include "tensor/storage.h"

namespace duel::cuda {
namespace {

void check(cudaError_t err, const char* what, size_t nbytes = 0) {
  if (err == cudaSuccess) return;
  const char* msg = cudaGetErrorString(err);
  (void)cudaGetLastError();  // clear a non-sticky error
  DUEL_FAIL("cuda: ", what, nbytes ? " (" : "", nbytes ? std::to_string(nbytes) + " bytes)" : std::string(),
            " failed: ", msg ? msg : "unknown error");
}

struct CudaAllocator final : Allocator {
  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    if (!is_available()) DUEL_FAIL("no CUDA device available: ", unavailable_reason(), "; use device cpu or sim");
    void* p = nullptr;
    check(cudaMalloc(&p, nbytes), "cudaMalloc", nbytes);
    return p;
  }
  void deallocate(void* ptr, size_t) override {
    if (ptr) (void)cudaFree(ptr);  // never throw from a destructor path
  }
  void copy_to_host(void* host_dst, const void* device_src, size_t nbytes) override {
    if (nbytes) check(cudaMemcpy(host_dst, device_src, nbytes, cudaMemcpyDeviceToHost), "cudaMemcpy D2H", nbytes);
  }
  void copy_from_host(void* device_dst, const void* host_src, size_t nbytes) override {
    if (nbytes) check(cudaMemcpy(device_dst, host_src, nbytes, cudaMemcpyHostToDevice), "cudaMemcpy H2D", nbytes);
  }
};

CudaAllocator cuda_allocator;

const bool registered = [] {
  register_allocator(DeviceType::CUDA, &cuda_allocator);
  return true;
}();

bool sync_after_launch() {
  static const bool on = [] {
    const char* e = std::getenv("DUEL_CUDA_SYNC");
    return e && *e && *e != '0';
  }();
  return on;
}

}  // namespace

void check_launch(const char* kernel) {
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess && sync_after_launch()) err = cudaDeviceSynchronize();
  if (err != cudaSuccess) DUEL_FAIL("cuda: kernel ", kernel, " failed: ", cudaGetErrorString(err));
}

}  // namespace duel::cuda
#endif  // __CUDACC__
