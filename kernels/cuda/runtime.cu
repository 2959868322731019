// CUDA build of the runtime probe (see runtime.h).
#include "kernels/cuda/runtime.h"

#include <cuda_runtime.h>

#include <string>

namespace duel::cuda {
namespace {

struct Probe {
  int count = 0;
  std::string reason;
};

const Probe& probe() noexcept {
  static const Probe p = [] {
    Probe r;
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
      const char* msg = cudaGetErrorString(err);
      r.reason = std::string("cudaGetDeviceCount failed: ") + (msg ? msg : "unknown error") + " (" +
                 (cudaGetErrorName(err) ? cudaGetErrorName(err) : "?") + ")";
      (void)cudaGetLastError();  // reset the last-error slot (non-sticky error)
      r.count = 0;
    } else if (n <= 0) {
      r.reason = "no CUDA-capable device is detected";
      r.count = 0;
    } else {
      r.count = n;
    }
    return r;
  }();
  return p;
}

}  // namespace

int device_count() noexcept { return probe().count; }

bool is_available() noexcept { return probe().count > 0; }

std::string unavailable_reason() { return probe().reason; }

}  // namespace duel::cuda
