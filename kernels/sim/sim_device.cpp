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
//
// Device memory is the emulator's guarded buffers (each one ends against a PROT_NONE page,
// so an out-of-bounds access faults), one per tensor, NOT cached by default: a caching
// allocator would hand out rounded-up blocks and recycle them, and out-of-bounds accesses
// inside the rounding or into a recycled block would go unnoticed. set_device_caching(true)
// (or DUEL_SIM_CACHE=1) puts the generic caching allocator (kernels/caching_allocator.h) in
// front of them, exactly as on the `cuda` device, keyed by the current sim stream; that is
// how the allocator's tensor-level behaviour is tested without a GPU.
//
// Streams (kernels/cuda/stream.h): the emulator runs every launch to completion before
// returning, so all streams are one serial queue; streams are ids, synchronize() is a no-op.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "kernels/caching_allocator.h"
#include "kernels/cuda/stream.h"
#include "kernels/sim/runtime.h"
#include "tensor/error.h"
#include "tensor/storage.h"

namespace duel::sim {
namespace {

struct SimRawMemory final : RawDeviceMemory {
  void* raw_allocate(size_t nbytes) override { return device_malloc(nbytes); }
  void raw_free(void* ptr, size_t) noexcept override {
    try {
      device_free(ptr);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "duel: %s\n", e.what());
    }
  }
};

SimRawMemory& raw_memory() {
  static SimRawMemory* m = new SimRawMemory();  // never destroyed: tensors may outlive statics
  return *m;
}
CachingAllocator& caching() {
  static CachingAllocator* c = new CachingAllocator(raw_memory(), "sim");
  return *c;
}
std::atomic<int> g_caching{-1};  // -1: not yet read from DUEL_SIM_CACHE

bool caching_on() {
  int v = g_caching.load();
  if (v < 0) {
    const char* e = std::getenv("DUEL_SIM_CACHE");
    v = (e && *e && *e != '0') ? 1 : 0;
    int expected = -1;
    g_caching.compare_exchange_strong(expected, v);
    v = g_caching.load();
  }
  return v == 1;
}

std::atomic<uint64_t> g_next_stream_id{1};
thread_local Stream t_current_stream;

struct SimAllocator final : Allocator {
  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    if (caching_on())
      return caching().allocate(nbytes, reinterpret_cast<const void*>(static_cast<uintptr_t>(t_current_stream.id())));
    return device_malloc(nbytes);
  }
  void deallocate(void* ptr, size_t) override {
    if (!ptr) return;
    // A block allocated while caching was on goes back to the cache even if it was turned off since.
    if (caching().owns(ptr)) {
      try {
        caching().deallocate(ptr);
      } catch (const std::exception& e) {  // never throw from a destructor path
        std::fprintf(stderr, "duel: %s\n", e.what());
      }
      return;
    }
    device_free(ptr);
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

// The emulator throws LaunchError / KernelError from the launch itself (synchronously,
// naming the kernel and the DUEL_LAUNCH site), so there is nothing left to check.
void check_launch(const char*, const char*, int) {}

void set_device_caching(bool on) { g_caching.store(on ? 1 : 0); }
bool device_caching() { return caching_on(); }
void empty_device_cache() { caching().empty_cache(); }
CachingAllocatorStats device_cache_stats() { return caching().stats(); }

// ---------------------------------------------------------------------- streams ----
struct Stream::State {
  uint64_t id = 0;
};

Stream Stream::create() {
  auto st = std::make_shared<State>();
  st->id = g_next_stream_id.fetch_add(1);
  return Stream(std::move(st));
}
void Stream::synchronize() const {}  // every launch has finished when it returns
void* Stream::handle() const { return state_ ? reinterpret_cast<void*>(static_cast<uintptr_t>(state_->id)) : nullptr; }
uint64_t Stream::id() const { return state_ ? state_->id : 0; }

Stream current_stream() { return t_current_stream; }
void* current_stream_handle() { return t_current_stream.handle(); }
void set_current_stream(const Stream& s) { t_current_stream = s; }
void device_synchronize() {}

}  // namespace duel::sim
