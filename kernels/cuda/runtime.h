// CUDA runtime probing for duel. Safe to call on machines without a GPU or
// driver: failures are reported through the return values, never by crashing.
// Always declared; defined in runtime.cu (CUDA builds) or runtime_nocuda.cpp.
#pragma once
#include <string>

namespace duel::cuda {

// Number of visible CUDA devices; 0 if CUDA is unavailable for any reason.
int device_count() noexcept;

// True when at least one CUDA device can be used.
bool is_available() noexcept;

// Why CUDA is unavailable (e.g. "CUDA driver version is insufficient ...",
// "no CUDA-capable device is detected", "built without CUDA support").
// Empty when is_available() is true.
std::string unavailable_reason();

}  // namespace duel::cuda
