#include "tensor/storage.h"

#include <array>
#include <cstdlib>
#include <cstring>
#include <string>

namespace duel {
namespace {

// CPU memory. Blocks of up to kCpuCacheMin bytes come straight from aligned_alloc: glibc's
// heap reuses freed blocks of those sizes by itself. Larger blocks go through the generic
// caching allocator (kernels/caching_allocator.h, classes of 2 MiB): glibc serves a request
// above its mmap threshold (32 MiB at most) with a fresh mmap and gives it back with munmap
// on free, so every new large output would page-fault and zero-fill all its pages again
// (docs/performance.md, "CPU caching allocator"); the cache hands the same, already mapped,
// block to the next request of the same class instead. Its size is capped: DUEL_CPU_CACHE_MB
// (default 1024; 0 turns it off) or set_cpu_cache_limit(). Off by default under
// AddressSanitizer, which must see every free to find use-after-free bugs.
constexpr size_t kCpuCacheMin = size_t{4} << 20;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

void* aligned_or_null(size_t nbytes) {
  return std::aligned_alloc(64, (nbytes + 63) / 64 * 64);  // 64-byte alignment for SIMD loads
}

struct CpuRawMemory final : RawDeviceMemory {
  void* raw_allocate(size_t nbytes) override { return aligned_or_null(nbytes); }
  void raw_free(void* ptr, size_t) noexcept override { std::free(ptr); }
};

size_t initial_cpu_cache_limit() {
  if (const char* env = std::getenv("DUEL_CPU_CACHE_MB")) return parse_cpu_cache_mb(env);
  return kAsan ? 0 : size_t{1024} << 20;
}

// Built on first use and never destroyed: tensors held by static objects may be freed after
// this file's globals are gone at exit.
CachingAllocator& cpu_cache() {
  static CachingAllocator* cache = [] {
    static CpuRawMemory* raw = new CpuRawMemory;
    auto* c = new CachingAllocator(*raw, "cpu allocator");
    c->set_max_cached_bytes(initial_cpu_cache_limit());
    return c;
  }();
  return *cache;
}

struct CpuAllocator final : Allocator {
  static bool cached_size(size_t nbytes) { return nbytes > kCpuCacheMin; }

  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    if (cached_size(nbytes)) return cpu_cache().allocate(nbytes);
    void* p = aligned_or_null(nbytes);
    if (!p) {
      cpu_cache().empty_cache();
      p = aligned_or_null(nbytes);
    }
    if (!p) DUEL_FAIL("cpu allocator: out of memory allocating ", nbytes, " bytes");
    return p;
  }
  void deallocate(void* ptr, size_t nbytes) override {
    if (!ptr) return;
    if (cached_size(nbytes)) cpu_cache().deallocate(ptr);
    else std::free(ptr);
  }
  void copy_to_host(void* dst, const void* src, size_t n) override {
    if (n) std::memcpy(dst, src, n);
  }
  void copy_from_host(void* dst, const void* src, size_t n) override {
    if (n) std::memcpy(dst, src, n);
  }
};

CpuAllocator cpu_allocator;
std::array<Allocator*, 3> allocators = {&cpu_allocator, nullptr, nullptr};

}  // namespace

size_t parse_cpu_cache_mb(const char* text) {
  char* end = nullptr;
  const long long mb = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || mb < 0 || mb > (1LL << 30))
    DUEL_FAIL("DUEL_CPU_CACHE_MB='", text, "': expected a whole number of MiB from 0 to 2^30 (0 turns the cache off)");
  return static_cast<size_t>(mb) << 20;
}

CachingAllocatorStats cpu_allocator_stats() { return cpu_cache().stats(); }
void cpu_empty_cache() { cpu_cache().empty_cache(); }
void set_cpu_cache_limit(size_t bytes) { cpu_cache().set_max_cached_bytes(bytes); }
size_t cpu_cache_limit() { return cpu_cache().max_cached_bytes(); }

void register_allocator(DeviceType type, Allocator* allocator) {
  allocators[static_cast<size_t>(type)] = allocator;
}

Allocator& allocator_for(Device device) {
  Allocator* a = allocators[static_cast<size_t>(device.type)];
  if (!a) {
    if (device.type == DeviceType::CUDA)
      DUEL_FAIL("no CUDA device available: duel was built without the CUDA backend or no GPU/driver "
                "is present (device ", device.str(), "); use device cpu or sim");
    DUEL_FAIL("device ", device.str(), " is not available in this build");
  }
  return *a;
}

Storage::Storage(size_t n, Device d) : nbytes(n), device(d) {
  try {
    data = allocator_for(d).allocate(n);
  } catch (const Error& e) {
    if (d.is_cpu()) throw;
    DUEL_FAIL(e.what(), " (allocating ", n, " bytes on ", d.str(), ")");
  }
}

Storage::Storage(void* external, size_t n, Device d) : data(external), nbytes(n), device(d), owns(false) {}

Storage::~Storage() {
  if (owns && data) allocator_for(device).deallocate(data, nbytes);
}

Device::Device(const std::string& spec) {
  std::string name = spec;
  int idx = 0;
  auto colon = spec.find(':');
  if (colon != std::string::npos) {
    name = spec.substr(0, colon);
    idx = std::atoi(spec.c_str() + colon + 1);
  }
  if (name == "cpu") type = DeviceType::CPU;
  else if (name == "sim") type = DeviceType::Sim;
  else if (name == "cuda") type = DeviceType::CUDA;
  else DUEL_FAIL("device: unknown device '", spec, "' (expected cpu, sim, cuda or cuda:N)");
  index = idx;
}

std::string Device::str() const {
  switch (type) {
    case DeviceType::CPU: return "cpu";
    case DeviceType::Sim: return "sim";
    case DeviceType::CUDA: return "cuda:" + std::to_string(index);
  }
  return "?";
}

}  // namespace duel
