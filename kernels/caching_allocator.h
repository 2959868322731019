// A generic caching allocator for device memory (header-only, no CUDA names), so that a
// training loop that frees and reallocates the same tensor sizes every step does not call
// cudaMalloc/cudaFree every step. The `cuda` device uses it on top of cudaMalloc
// (kernels/cuda/device.cu); the `sim` device can use it on top of the emulator's guarded
// buffers (off by default, kernels/sim/sim_device.cpp); the unit tests drive it with a fake
// backend (tests/test_caching_allocator.cpp).
//
// Size classes. A request of n bytes is rounded up to its class (round_size):
//   n <= 1 MiB (small):  a multiple of 512 B       (1 -> 512, 513 -> 1024, ...)
//   n >  1 MiB (large):  a multiple of 2 MiB       (1 MiB + 1 -> 2 MiB, 5 MiB -> 6 MiB)
// Every raw allocation has exactly its class size, and a cached block is reused only for
// a request of exactly the same class (no splitting or merging of blocks: simple, and the
// waste is bounded by the rounding: < 512 B small, < 2 MiB large).
//
// Streams. Each block remembers the stream it was allocated on (an opaque key; the
// devices pass the Stream's id, null for the default stream, because ids are never reused
// while a cudaStream_t value can be; blocks cached for a destroyed stream are therefore
// only given back by empty_cache()). A freed block goes back to the free list of
// (its stream, its class) and is only handed out again to a request on the same stream.
// Work on one stream runs in order, so a kernel queued after the reuse cannot overtake one
// queued before the free that still reads the old contents: no event or synchronisation
// is needed. The rule this imposes on callers: memory allocated on stream A and used by
// work on stream B must not be freed before that work is finished (synchronise B first).
// (PyTorch's record_stream() lifts this restriction with events; duel does not need it.)
//
// Out of memory. If the backend returns null, every cached block is released
// (empty_cache) and the raw allocation retried once; if it fails again, allocate throws
// duel::Error with the request, the class and the allocator's statistics.
//
// Cached bytes can be capped (set_max_cached_bytes; unlimited by default): a freed block that
// would take the cache over the cap goes straight back to the backend. The CPU device uses a
// cap, since its memory is shared with everything else on the machine (tensor/storage.cpp).
//
// Thread-safe (one mutex). A block is never handed out twice: the allocator keeps the
// set of blocks in use and deallocate() of a pointer it does not hold (a double free, a
// foreign pointer) throws instead of corrupting the free lists.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tensor/error.h"

namespace duel {

// The uncached allocation calls of a device (cudaMalloc/cudaFree, the emulator's guarded
// buffers, or a fake in tests).
struct RawDeviceMemory {
  virtual ~RawDeviceMemory() = default;
  // nbytes > 0. Returns null when the device is out of memory; throws on any other error.
  virtual void* raw_allocate(size_t nbytes) = 0;
  // Must not throw (it may run from a tensor's destructor).
  virtual void raw_free(void* ptr, size_t nbytes) noexcept = 0;
};

struct CachingAllocatorStats {
  size_t bytes_in_use = 0;       // class sizes of the blocks currently handed out
  size_t bytes_requested = 0;    // the sizes asked for by those blocks' owners (<= bytes_in_use)
  size_t bytes_cached = 0;       // class sizes of the free blocks kept for reuse
  size_t peak_bytes_in_use = 0;  // since construction or reset_peak()
  size_t blocks_in_use = 0;
  size_t blocks_cached = 0;
  uint64_t allocations = 0;      // allocate() calls that returned memory
  uint64_t cache_hits = 0;       // ... served from the cache
  uint64_t raw_allocations = 0;  // backend raw_allocate calls that succeeded
  uint64_t raw_frees = 0;        // backend raw_free calls
  uint64_t oom_retries = 0;      // times the cache was emptied to retry a failed raw allocation
};

class CachingAllocator {
 public:
  static constexpr size_t kSmallRound = 512;            // small classes: multiples of 512 B
  static constexpr size_t kSmallLimit = size_t{1} << 20;  // up to 1 MiB
  static constexpr size_t kLargeRound = size_t{2} << 20;  // large classes: multiples of 2 MiB

  // The class (the size actually allocated) of an n-byte request; n = 0 -> 0.
  static constexpr size_t round_size(size_t n) {
    if (n == 0) return 0;
    const size_t r = n <= kSmallLimit ? kSmallRound : kLargeRound;
    return (n + r - 1) / r * r;
  }

  // `name` prefixes error messages ("cuda", "sim", ...). The backend must outlive this.
  CachingAllocator(RawDeviceMemory& raw, std::string name) : raw_(raw), name_(std::move(name)) {}
  // Releases the cached blocks; blocks still in use are left alone (their owners free them
  // through the backend's lifetime, which usually means process exit).
  ~CachingAllocator() { empty_cache(); }
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // A block of at least nbytes for use on `stream` (null for nbytes == 0).
  void* allocate(size_t nbytes, const void* stream = nullptr) {
    if (nbytes == 0) return nullptr;
    const size_t cls = round_size(nbytes);
    std::lock_guard<std::mutex> lk(mu_);
    void* p = nullptr;
    auto it = free_.find({stream, cls});
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      if (it->second.empty()) free_.erase(it);
      stats_.bytes_cached -= cls;
      stats_.blocks_cached -= 1;
      stats_.cache_hits += 1;
    } else {
      p = raw_.raw_allocate(cls);
      if (!p && stats_.blocks_cached > 0) {
        release_cached_locked();
        stats_.oom_retries += 1;
        p = raw_.raw_allocate(cls);
      }
      if (!p)
        DUEL_FAIL(name_, ": out of memory allocating ", nbytes, " bytes (size class ", cls, " bytes); ",
                  stats_.bytes_in_use, " bytes in use in ", stats_.blocks_in_use, " blocks, ",
                  stats_.raw_allocations - stats_.raw_frees, " raw allocations live");
      stats_.raw_allocations += 1;
    }
    DUEL_CHECK(in_use_.emplace(p, Block{cls, nbytes, stream}).second, name_,
               ": internal error: block handed out twice");
    stats_.allocations += 1;
    stats_.blocks_in_use += 1;
    stats_.bytes_in_use += cls;
    stats_.bytes_requested += nbytes;
    if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
    return p;
  }

  // Returns a block to the free list of its stream and class. Throws duel::Error for a
  // pointer this allocator did not hand out or that was already freed. null is ignored.
  void deallocate(void* p) {
    if (!p) return;
    std::lock_guard<std::mutex> lk(mu_);
    auto it = in_use_.find(p);
    DUEL_CHECK(it != in_use_.end(), name_, ": deallocate of pointer ", p,
               " that is not an allocated block of this allocator (double free, or not allocated here)");
    const Block b = it->second;
    in_use_.erase(it);
    stats_.blocks_in_use -= 1;
    stats_.bytes_in_use -= b.size;
    stats_.bytes_requested -= b.requested;
    if (stats_.bytes_cached + b.size > max_cached_) {
      raw_.raw_free(p, b.size);
      stats_.raw_frees += 1;
      return;
    }
    free_[{b.stream, b.size}].push_back(p);
    stats_.blocks_cached += 1;
    stats_.bytes_cached += b.size;
  }

  // Caps the bytes kept in the cache (SIZE_MAX: no cap, the default; 0: nothing is cached).
  // If the cache already holds more, all of it is released.
  void set_max_cached_bytes(size_t bytes) {
    std::lock_guard<std::mutex> lk(mu_);
    max_cached_ = bytes;
    if (stats_.bytes_cached > max_cached_) release_cached_locked();
  }
  size_t max_cached_bytes() const {
    std::lock_guard<std::mutex> lk(mu_);
    return max_cached_;
  }

  // True if p is a block currently handed out by this allocator.
  bool owns(const void* p) const {
    std::lock_guard<std::mutex> lk(mu_);
    return in_use_.count(const_cast<void*>(p)) != 0;
  }
  // The stream a block in use was allocated on (null if p is not in use).
  const void* stream_of(const void* p) const {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = in_use_.find(const_cast<void*>(p));
    return it == in_use_.end() ? nullptr : it->second.stream;
  }

  // Gives every cached (free) block back to the backend. Blocks in use are not touched.
  // For CUDA, cudaFree synchronises the device, so no kernel can still use a released block.
  void empty_cache() {
    std::lock_guard<std::mutex> lk(mu_);
    release_cached_locked();
  }

  CachingAllocatorStats stats() const {
    std::lock_guard<std::mutex> lk(mu_);
    return stats_;
  }
  void reset_peak() {
    std::lock_guard<std::mutex> lk(mu_);
    stats_.peak_bytes_in_use = stats_.bytes_in_use;
  }

 private:
  struct Block {
    size_t size;       // class size (what the backend allocated)
    size_t requested;  // what the caller asked for
    const void* stream;
  };

  void release_cached_locked() {
    for (auto& [key, ptrs] : free_)
      for (void* p : ptrs) {
        raw_.raw_free(p, key.second);
        stats_.raw_frees += 1;
      }
    free_.clear();
    stats_.bytes_cached = 0;
    stats_.blocks_cached = 0;
  }

  RawDeviceMemory& raw_;
  std::string name_;
  mutable std::mutex mu_;
  std::unordered_map<void*, Block> in_use_;
  std::map<std::pair<const void*, size_t>, std::vector<void*>> free_;  // (stream, class) -> free blocks
  size_t max_cached_ = SIZE_MAX;
  CachingAllocatorStats stats_;
};

}  // namespace duel
