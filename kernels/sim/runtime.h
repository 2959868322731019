// Host-side API of duel's SIMT emulator (see kernels/sim/sim.h for how it works).
// Safe to include from any C++ file: it declares nothing outside duel::sim and no
// CUDA names (dim3, threadIdx, __shared__, ...), which only kernels/sim/sim.h adds.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/caching_allocator.h"

namespace duel::sim {

// ---------------------------------------------------------------- configuration ----
// Setting of a checking mode: Auto follows the schedule (on exactly when schedule_seed is
// non-zero, i.e. in the checking runs of the tests, and off under a debugger).
enum class Check : int8_t { Auto = -1, Off = 0, On = 1 };

struct Options {
  // 0: threads of a block run in index order and blocks in grid order (deterministic).
  // Non-zero: the order in which a block's threads run between barriers, the wake-up
  // order after warp collectives and the order of blocks are shuffled from this seed
  // (reproducible for a given seed and sequence of launches).
  uint64_t schedule_seed = 0;
  // Fill fresh device buffers (device_malloc) and, in every block, its dynamic shared
  // memory (at block start) and its static __shared__ variables (when the first thread
  // of the block passes their declaration) with 0xFF bytes (NaN as float/double/half, -1
  // as int), and return all-ones for a shuffle whose source lane does not take part.
  bool poison = false;
  // Race detector (kernels/sim/checks.h): every byte of shared memory and of the device
  // buffers a kernel's arguments point to that a CUDA thread changes is attributed to that
  // thread; two threads changing the same byte without a __syncthreads() between them
  // (or from two blocks of one launch) is a KernelError, unless both used atomics.
  // Catches lost updates (a non-atomic `+=` where several threads hit one element).
  // While on, blocks run on one OS thread (worker_threads is ignored).
  Check race_check = Check::Auto;
  // Warp run-ahead schedule: in blocks 0, 3, 6, ... (rotated by the seed) warps run one
  // after another in ascending order, each as far as it can get (through any number of
  // warp collectives, up to the next __syncthreads()), in blocks 1, 4, 7, ... in
  // descending order; the other blocks keep the thread-level schedule. Exposes a warp that
  // overwrites shared memory another warp has not read yet (a missing trailing barrier).
  Check run_ahead = Check::Auto;
  // OS threads that run blocks in parallel; 0 = std::thread::hardware_concurrency()
  // (at most 16); 1 = every block runs on the launching thread (easiest under gdb).
  int worker_threads = 0;
  // Stack of each emulated CUDA thread (fiber), with a PROT_NONE guard page below.
  size_t fiber_stack_bytes = 64 * 1024;
  // Device buffers are placed so that their end (rounded up to this power of two) meets
  // a PROT_NONE page; 1 = an access one byte past the end faults, 16 keeps float4/double2
  // alignment (an overrun of less than this many bytes may go unnoticed).
  size_t device_alignment = 16;
};

// Defaults come from Options{} overridden by the environment variables
// DUEL_SIM_SEED, DUEL_SIM_POISON (0/1), DUEL_SIM_WORKERS, DUEL_SIM_STACK (bytes),
// DUEL_SIM_RACECHECK and DUEL_SIM_RUNAHEAD (0 / 1 / auto).
Options options();
void set_options(const Options& o);
void set_schedule_seed(uint64_t seed);
void set_poison(bool on);
void set_worker_threads(int n);
void set_race_check(Check c);
void set_run_ahead(Check c);
// What Check::Auto resolves to under options o.
bool race_check_on(const Options& o);
bool run_ahead_on(const Options& o);

// RAII: sets options for a scope and restores the previous ones.
class ScopedOptions {
 public:
  explicit ScopedOptions(const Options& o) : saved_(options()) { set_options(o); }
  ~ScopedOptions() { set_options(saved_); }
  ScopedOptions(const ScopedOptions&) = delete;
  ScopedOptions& operator=(const ScopedOptions&) = delete;

 private:
  Options saved_;
};

// Opt-in to more than 48 KiB of dynamic shared memory for one kernel (like
// cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes)).
// At most 227 KiB (sm_90). kernel: the kernel function, cast to const void*.
void set_max_dynamic_shared_bytes(const void* kernel, size_t bytes);

// ------------------------------------------------------------------- statistics ----
struct Stats {
  uint64_t kernels_launched = 0;
  uint64_t blocks = 0;
  uint64_t threads = 0;
  uint64_t plain_blocks = 0;     // blocks that never reached a barrier / warp collective
  uint64_t fiber_blocks = 0;     // blocks that switched to one fiber per thread
  uint64_t fiber_switches = 0;   // scheduler -> thread resumptions in fiber mode
  uint64_t barriers = 0;         // __syncthreads() completed (per block)
  uint64_t warp_collectives = 0; // shuffles / votes / __syncwarp completed (per warp)
  uint64_t race_checked_launches = 0;  // launches run under the race detector
  uint64_t race_checked_bytes = 0;     // bytes changed by some thread and checked
  uint64_t run_ahead_blocks = 0;       // blocks run warp after warp (ascending or descending)
  uint64_t shared_poisoned = 0;        // static __shared__ variables poisoned (per block)
};
Stats stats();
void reset_stats();

// ---------------------------------------------------------------------- errors ----
// Invalid launch configuration (what cudaLaunchKernel would reject).
struct LaunchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A kernel misbehaved in a way CUDA leaves undefined or that hangs a GPU: divergent
// __syncthreads(), mismatched warp intrinsic masks, a lane that exited while named in a
// mask, a bad device pointer given to memcpy, ...
struct KernelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// -------------------------------------------------------------- device memory ----
// Guarded allocation: the buffer ends against a PROT_NONE page (see Options::
// device_alignment), so writing or reading past the end raises SIGSEGV at the faulting
// instruction. Fresh memory is zero, or 0xFF bytes when poison is on. Freed memory is
// unmapped, so a use after free faults too. Thread-safe.
void* device_malloc(size_t bytes);
void device_free(void* p);
// Copies check that every device range lies inside one live device_malloc buffer.
void memcpy_htod(void* dst_device, const void* src_host, size_t bytes);
void memcpy_dtoh(void* dst_host, const void* src_device, size_t bytes);
void memcpy_dtod(void* dst_device, const void* src_device, size_t bytes);
void memset(void* dst_device, int value, size_t bytes);
// True if [p, p+bytes) lies inside one live device buffer.
bool is_device_pointer(const void* p, size_t bytes = 1);
// Number of live device buffers (leak checks in tests).
size_t live_device_buffers();

// ------------------------------------------------- the sim tensor device's memory ----
// Tensors on Device("sim") get one guarded buffer each (above), uncached, so that
// out-of-bounds accesses fault. set_device_caching(true) (or DUEL_SIM_CACHE=1) routes them
// through the generic caching allocator (kernels/caching_allocator.h) instead, as the
// `cuda` device does: freed blocks are kept per (current sim stream, size class) and
// reused. Defined in kernels/sim/sim_device.cpp.
void set_device_caching(bool on);
bool device_caching();
void empty_device_cache();                  // frees the cached blocks (device_free)
CachingAllocatorStats device_cache_stats();

template <class T>
T* device_alloc(size_t count) {
  return static_cast<T*>(device_malloc(count * sizeof(T)));
}

// ------------------------------------------------------- launch (type-erased) ----
namespace detail {
struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};
struct LaunchDesc {
  const char* name = "kernel";     // for error messages
  const char* file = nullptr;      // where DUEL_LAUNCH is written (error messages), if known
  int line = 0;
  const void* kernel = nullptr;    // identity (per-kernel shared-memory limit)
  Dim3 grid, block;
  size_t dynamic_shared = 0;
  // Runs the kernel body once for the current emulated thread: `args` is a pointer to
  // the packed argument tuple, copied into the kernel's by-value parameters per call.
  void (*invoke)(const void* args) = nullptr;
  const void* args = nullptr;
  size_t args_size = 0;            // bytes at `args` (the race detector scans them for device pointers)
};
// Validates the configuration, then runs every block (throws LaunchError / KernelError).
void launch(const LaunchDesc& d);
}  // namespace detail

}  // namespace duel::sim
