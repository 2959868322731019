// CUDA runtime probing for duel. Safe to call on machines without a GPU or
// driver: failures are reported through the return values, never by crashing.
// Always declared; defined in runtime.cu (CUDA builds) or runtime_nocuda.cpp.
#pragma once
#include <string>

#include "kernels/caching_allocator.h"

namespace duel::cuda {

// Number of visible CUDA devices; 0 if CUDA is unavailable for any reason.
int device_count() noexcept;

// True when at least one CUDA device can be used.
bool is_available() noexcept;

// Why CUDA is unavailable (e.g. "CUDA driver version is insufficient ...",
// "no CUDA-capable device is detected", "built without CUDA support").
// Empty when is_available() is true.
std::string unavailable_reason();

// The `cuda` tensor device's caching allocator (kernels/caching_allocator.h; streams:
// kernels/cuda/stream.h). empty_cache() hands every cached free block back to cudaFree;
// memory_stats() reports bytes in use / cached, raw cudaMalloc calls and cache hits.
// DUEL_CUDA_CACHE=0 turns caching off (every tensor is a cudaMalloc/cudaFree, e.g. for
// compute-sanitizer). Without CUDA: no-ops / zero statistics.
void empty_cache();
CachingAllocatorStats memory_stats();

}  // namespace duel::cuda
