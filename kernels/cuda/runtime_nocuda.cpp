// CPU-only build of the runtime probe (see runtime.h); compiled when duel is
// configured without CUDA (DUEL_CUDA=OFF or no nvcc found).
#include "kernels/cuda/runtime.h"

namespace duel::cuda {

int device_count() noexcept { return 0; }

bool is_available() noexcept { return false; }

std::string unavailable_reason() { return "duel was built without CUDA support (DUEL_CUDA=OFF)"; }

}  // namespace duel::cuda
