// A Storage is one allocation on one device. Tensors are views into a Storage
// (sizes, strides, offset), and several tensors may share one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/caching_allocator.h"
#include "tensor/device.h"

namespace duel {

// Per-device allocation hooks. The CPU allocator is built in; the CUDA backend
// and the SIMT emulator register theirs.
struct Allocator {
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr, size_t nbytes) = 0;
  // Copies between this device and host memory (both directions).
  virtual void copy_to_host(void* host_dst, const void* device_src, size_t nbytes) = 0;
  virtual void copy_from_host(void* device_dst, const void* host_src, size_t nbytes) = 0;
};
void register_allocator(DeviceType type, Allocator* allocator);

// The CPU allocator keeps freed blocks larger than 4 MiB for reuse (tensor/storage.cpp), so that
// a large output allocated every step is not page-faulted in again every step. At most
// cpu_cache_limit() bytes are kept: DUEL_CPU_CACHE_MB (default 1024; 0 turns the cache off; off
// by default under AddressSanitizer) or set_cpu_cache_limit(bytes).
CachingAllocatorStats cpu_allocator_stats();  // the large blocks only
void cpu_empty_cache();                      // gives every cached block back to the system
void set_cpu_cache_limit(size_t bytes);      // 0: cache nothing (and release what is cached)
size_t cpu_cache_limit();
// DUEL_CPU_CACHE_MB's value in bytes; throws naming the variable, the value and the valid range.
size_t parse_cpu_cache_mb(const char* text);
Allocator& allocator_for(Device device);  // throws a clear error when the device is unavailable

struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;
  // Bumped by every in-place write; autograd compares it with the value seen
  // when a tensor was saved for backward.
  uint64_t version = 0;
  bool owns = true;

  Storage(size_t nbytes, Device device);
  // Wraps memory owned by someone else (not freed here).
  Storage(void* external, size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

}  // namespace duel
