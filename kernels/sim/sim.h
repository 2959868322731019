// duel's SIMT emulator: runs unmodified CUDA kernel sources on the CPU.
//
// A kernel TU (kernels/cuda/*.cu) is compiled by g++ as C++20 with DUEL_SIM defined;
// kernels/cuda/common.cuh then includes this header, which supplies what nvcc would:
// dim3/uint3 and the vector types, threadIdx/blockIdx/blockDim/gridDim, warpSize,
// __global__/__device__/__host__/__shared__/__constant__/__forceinline__/__launch_bounds__,
// __syncthreads(), warp shuffles and votes, atomics, fences and math intrinsics.
// DUEL_LAUNCH(kernel, grid, block, shmem, stream)(args...) becomes a synchronous call of
// duel::sim::detail::launch (the stream is ignored; the launch returns when the grid is done).
//
// HOW IT WORKS
//
// Blocks. The grid's blocks are handed out to `Options::worker_threads` OS threads (the
// launching thread is one of them). A worker runs ONE block at a time, from start to
// finish, and all of that block's CUDA threads run on that same OS thread. Blocks run
// in grid order, or in a seeded random order (Options::schedule_seed).
//
// Threads. Each CUDA thread of a block is a fiber (Boost.Context `fiber`) with its own
// stack (Options::fiber_stack_bytes, a PROT_NONE guard page below it to catch overflow).
// Fast path: a block starts in "plain" mode, where one runner fiber calls the kernel body
// for thread after thread as ordinary function calls. The first time a thread reaches a
// barrier or warp collective, the block switches to fiber mode on the spot: the running
// thread keeps the runner's stack as its own fiber, and every thread not yet started gets
// a fresh fiber. Threads that already finished stay finished (so a __syncthreads()
// reached after other threads exited is reported as divergent). A block that never
// synchronises therefore costs one fiber switch in total, and an elementwise kernel
// runs at a few ns per CUDA thread.
//
// threadIdx & co. are `thread_local` globals of the worker OS thread; the scheduler
// writes threadIdx before it resumes a fiber. Fibers never migrate between OS threads.
//
// __syncthreads(). A thread that arrives parks its fiber and returns to the block's
// scheduler, which resumes the next runnable thread (index order, or shuffled with a
// seed; or warp after warp, see RUN-AHEAD below). When no thread is runnable: if every
// thread waits at the barrier, all are released (__syncthreads_count/and/or get the
// reduced predicate); if some wait while others have exited, or some wait at a barrier
// while others wait in a warp intrinsic, a KernelError names the kernel, the block and
// threads on both sides.
//
// Warp intrinsics (__shfl*_sync, __ballot/__any/__all_sync, __match_*, __reduce_*,
// __syncwarp). Lanes are numbered by linearised thread index % 32 (x fastest), warps by
// index / 32, as on a GPU. An arriving lane stores its operand in its slot and parks;
// the lane that completes the group (all lanes of `mask` that exist in the warp are
// there, with the same intrinsic and mask) computes every member's result into the
// members' own result slots and makes them runnable. A lane's operand slot is only
// rewritten at its next arrival, which needs the previous collective to be complete, so
// back-to-back shuffles never read overwritten values (the write/barrier/read/barrier
// sequence, done by the scheduler). Partial warps: lanes that do not exist are dropped
// from the mask; a shuffle whose source lane does not take part returns the caller's own
// value (all-ones bits when Options::poison is on; CUDA leaves it undefined). A lane that
// is named in the mask but has exited, or waits elsewhere, is reported as a KernelError.
//
// Shared memory. `__shared__` expands to `static thread_local`: since a worker OS thread
// runs one block at a time and all of the block's fibers run on it, a static
// thread_local is exactly per block (and not per CUDA thread, not global). The macro
// puts a site marker in front of the declaration (a per-worker SharedSite and a
// SharedMark, below): the first time a thread of a block passes it, the emulator finds
// the enclosing function's static __shared__ variables in the module's symbol table
// (kernels/sim/checks.h) and, when poison is on, fills them with 0xFF bytes, so a read of
// a slot no thread of this block wrote gives NaN instead of zero or the previous block's
// value; the race detector watches them from then on. (Only function-local __shared__
// variables, and only in a binary with a .symtab; otherwise they keep what the previous
// block on the worker left, zero at first, and a warning says so once.) Dynamic shared
// memory (DUEL_DYNAMIC_SHARED) lives in a per-worker arena whose end meets a PROT_NONE
// page, is refilled with 0xFF bytes at every block start when poison is on, and is
// limited to 48 KiB unless set_max_dynamic_shared_bytes() (DUEL_SET_MAX_DYNAMIC_SHARED)
// raised it. Static __shared__ sizes are not known at run time: nvcc (ptxas) rejects
// > 48 KiB. (An initializer or constructor of a __shared__ variable, which CUDA forbids,
// would run once per worker, not per block.)
//
// Device memory: duel::sim::device_malloc (kernels/sim/runtime.h) puts each buffer's end
// against a PROT_NONE page, so an out-of-bounds access raises SIGSEGV right at the
// offending kernel line (under gdb you stop there). Atomics are real (std::atomic_ref),
// because blocks run concurrently on several OS threads.
//
// Checks of what a GPU rejects (LaunchError): more than 1024 threads per block, blockDim
// over (1024, 1024, 64), gridDim.x over 2^31-1 or y/z over 65535, a zero dimension,
// dynamic shared memory over the limit, a launch from inside a kernel.
//
// GUARDS against bugs the schedule above hides (Options in runtime.h; all on in the
// checking runs of the tests, i.e. with a schedule seed):
//  * RACE DETECTOR (Options::race_check). Threads switch only at barriers and warp
//    collectives, so a non-atomic `out[i] += v` by several threads never loses an update
//    here. After every stretch a thread runs between two switches, the emulator compares
//    shared memory and the device buffers the kernel's arguments point to with a copy
//    (device pages are read-only until a block first writes them), attributes each
//    changed byte to that thread, and throws KernelError "data race on global/shared
//    memory" when a byte was also changed by another thread since the last barrier, or
//    by another block of the launch, unless both used atomics. Details and limits:
//    kernels/sim/checks.h. Blocks then run on one OS thread.
//  * RUN-AHEAD (Options::run_ahead). In blocks 0, 3, 6, ... (the pattern rotated by the
//    seed) warps run one after another, ascending: warp 0 goes as far as it can (through
//    any number of shuffles, to the next barrier) before warp 1 starts, and so on; in
//    blocks 1, 4, 7, ... descending; the rest keep the thread-level schedule. A warp that
//    leaves a block reduction without its trailing barrier and overwrites the shared slot
//    another warp has yet to read then gives a wrong result on every seed.
//  * POISON (Options::poison): device buffers, dynamic and static shared memory, and
//    shuffles from non-participating lanes (see above and runtime.h).
//
// DEBUGGING. Kernels are ordinary C++ functions, so gdb works as usual:
//   DUEL_SIM_WORKERS=1 gdb --args build/duel_tests "[sim]"
//   (gdb) break my_kernel            # or break kernels/cuda/foo.cu:42, or a template:
//                                    #    break duel::sim::my_kernel<256u>
//   (gdb) run                        # stops in thread (0,0,0) of the first block
//   (gdb) print threadIdx            # thread_local of the worker: the current CUDA thread
//   (gdb) print blockIdx
//   (gdb) condition 1 threadIdx.x == 5 && blockIdx.x == 2   # needs the running process
//   (gdb) continue                                          # (TLS), so set it after `run`
// With DUEL_SIM_WORKERS=1 everything runs on the main thread in a fixed order (unless
// DUEL_SIM_SEED is set): thread (0,0,0) of block (0,0,0) first, then thread 1, ... up to
// the first barrier. `next` over __syncthreads() or a shuffle lets the other CUDA threads
// run, so gdb may stop at the same breakpoint in another thread first: put a condition
// on threadIdx/blockIdx. A backtrace ends in the emulator (std::apply, the fiber entry).
// Build with -O0 -g (CMAKE_BUILD_TYPE=Debug).
// Environment: DUEL_SIM_SEED, DUEL_SIM_POISON, DUEL_SIM_WORKERS, DUEL_SIM_STACK,
// DUEL_SIM_RACECHECK, DUEL_SIM_RUNAHEAD. The race detector (on with a seed) writes to
// read-only pages on purpose; Check::Auto turns it off under a debugger; if you force it
// on there, tell gdb `handle SIGSEGV nostop noprint pass`.
// Not supported: dynamic parallelism, cooperative groups, __noinline__ (it clashes with
// libstdc++'s own use of the name), inline PTX, textures, __constant__ symbol copies.
// ASan/TSan do not understand the fiber switches; run them on the CPU backend instead.
#pragma once

#ifndef DUEL_SIM
#define DUEL_SIM 1
#endif

#include <math.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kernels/sim/runtime.h"

// ------------------------------------------------------------ qualifiers ----
#define __global__
#define __device__
#define __host__
#define __constant__
#define __managed__
// `__shared__ T x[N];` stays a `static thread_local` (one copy per worker OS thread, hence
// per block), preceded by a site marker: a per-worker `SharedSite` and an automatic
// `SharedMark` whose constructor, the first time a thread of a block passes the
// declaration, lets the emulator poison / race-check the function's static shared
// variables (see "Shared memory" above; kernels/sim/checks.h). The marker is an
// initialised local, so a `goto` or `case` label may not jump over a __shared__
// declaration (declare shared memory at the top of the function, as CUDA code does).
#define DUEL_SIM_SHARED_SITE_(n)                                                            \
  static thread_local constinit ::duel::sim::detail::SharedSite duel_sim_shared_site_##n{};  \
  [[maybe_unused]] const ::duel::sim::detail::SharedMark duel_sim_shared_mark_##n{duel_sim_shared_site_##n};
#define DUEL_SIM_SHARED_SITE(n) DUEL_SIM_SHARED_SITE_(n)
#define __shared__ DUEL_SIM_SHARED_SITE(__COUNTER__) static thread_local
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// __restrict__ is a GCC keyword already.

// ---------------------------------------------------------- vector types ----
struct uint3 {
  unsigned int x, y, z;
};

struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

#define DUEL_SIM_VEC2(T, N, A)                                            \
  struct __attribute__((aligned(A))) N##2 { T x, y; };                    \
  inline constexpr N##2 make_##N##2(T x, T y) { return N##2{x, y}; }
#define DUEL_SIM_VEC3(T, N)                                               \
  struct N##3 { T x, y, z; };                                             \
  inline constexpr N##3 make_##N##3(T x, T y, T z) { return N##3{x, y, z}; }
#define DUEL_SIM_VEC4(T, N, A)                                            \
  struct __attribute__((aligned(A))) N##4 { T x, y, z, w; };              \
  inline constexpr N##4 make_##N##4(T x, T y, T z, T w) { return N##4{x, y, z, w}; }

DUEL_SIM_VEC2(float, float, 8)
DUEL_SIM_VEC3(float, float)
DUEL_SIM_VEC4(float, float, 16)
DUEL_SIM_VEC2(double, double, 16)
DUEL_SIM_VEC3(double, double)
DUEL_SIM_VEC4(double, double, 16)
DUEL_SIM_VEC2(int, int, 8)
DUEL_SIM_VEC3(int, int)
DUEL_SIM_VEC4(int, int, 16)
DUEL_SIM_VEC2(unsigned int, uint, 8)
DUEL_SIM_VEC4(unsigned int, uint, 16)
DUEL_SIM_VEC2(short, short, 4)
DUEL_SIM_VEC4(short, short, 8)
DUEL_SIM_VEC2(unsigned short, ushort, 4)
DUEL_SIM_VEC4(unsigned short, ushort, 8)
DUEL_SIM_VEC2(signed char, char, 2)
DUEL_SIM_VEC4(signed char, char, 4)
DUEL_SIM_VEC2(unsigned char, uchar, 2)
DUEL_SIM_VEC4(unsigned char, uchar, 4)
DUEL_SIM_VEC2(long long, longlong, 16)
DUEL_SIM_VEC2(unsigned long long, ulonglong, 16)
#undef DUEL_SIM_VEC2
#undef DUEL_SIM_VEC3
#undef DUEL_SIM_VEC4
inline constexpr uint3 make_uint3(unsigned int x, unsigned int y, unsigned int z) { return uint3{x, y, z}; }

// ------------------------------------------------------- built-in variables ----
// Per worker OS thread; written by the emulator before each CUDA thread runs.
extern thread_local constinit uint3 threadIdx;
extern thread_local constinit uint3 blockIdx;
extern thread_local constinit dim3 blockDim;
extern thread_local constinit dim3 gridDim;
inline constexpr int warpSize = 32;

// ------------------------------------------------------- emulator internals ----
namespace duel::sim::detail {

enum class WarpOp : uint8_t {
  Sync, Shfl, ShflUp, ShflDown, ShflXor, Ballot, Any, All, MatchAny, MatchAll,
  ReduceAdd, ReduceMinU, ReduceMaxU, ReduceMinI, ReduceMaxI, ReduceAnd, ReduceOr, ReduceXor
};
enum class BarrierOp : uint8_t { Sync, Count, And, Or };
__extension__ typedef __int128 int128;
__extension__ typedef unsigned __int128 uint128;

// Static __shared__ declaration sites (see the __shared__ macro). A SharedSite is per
// worker OS thread; `stamp` is the worker's block stamp when a thread of the current block
// last passed the declaration, `info` what kernels/sim/checks.cpp found out about the
// function's static shared variables (resolved once per site and worker).
struct SharedSite {
  uint64_t stamp;
  const void* info;
};
// Bumped by the emulator at every block start on this worker (never 0).
extern thread_local constinit uint64_t shared_stamp;
void shared_site_enter(SharedSite& site);
struct SharedMark {
  explicit SharedMark(SharedSite& site) {
    if (site.stamp != shared_stamp) shared_site_enter(site);
  }
};

// Atomics tell the race detector which bytes they changed (only while it runs).
extern thread_local constinit bool atomic_log_on;
void log_atomic(const void* address, size_t bytes);
inline void note_atomic(const void* address, size_t bytes) {
  if (atomic_log_on) log_atomic(address, bytes);
}

// Implemented in kernels/sim/sim.cpp. Callable only from a kernel being emulated.
int block_barrier(BarrierOp op, int predicate);
uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width);
unsigned active_mask();
void* dynamic_shared();
[[noreturn]] void trap(const char* what);

template <class T>
inline uint64_t to_bits(const T& v) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8,
                "warp shuffles take a trivially copyable type of at most 8 bytes");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <class T>
inline T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}

// DUEL_LAUNCH(k, grid, block, shmem, stream)(args...) under the emulator.
template <class... Params>
class Launcher {
 public:
  Launcher(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block, size_t shmem,
           const char* file = nullptr, int line = 0)
      : name_(name), kernel_(kernel), grid_(grid), block_(block), shmem_(shmem), file_(file), line_(line) {}

  template <class... Args>
  void operator()(Args&&... args) const {
    static_assert(sizeof...(Args) == sizeof...(Params), "DUEL_LAUNCH: wrong number of kernel arguments");
    using Tuple = std::tuple<std::decay_t<Params>...>;
    struct Pack {
      void (*kernel)(Params...);
      Tuple args;
    };
    const Pack pack{kernel_, Tuple(std::forward<Args>(args)...)};
    LaunchDesc d;
    d.name = name_;
    d.file = file_;
    d.line = line_;
    d.kernel = reinterpret_cast<const void*>(kernel_);
    d.grid = Dim3{grid_.x, grid_.y, grid_.z};
    d.block = Dim3{block_.x, block_.y, block_.z};
    d.dynamic_shared = shmem_;
    // Each emulated thread gets its own copies of the arguments (by-value parameters).
    d.invoke = [](const void* p) {
      const Pack* pk = static_cast<const Pack*>(p);
      std::apply(pk->kernel, pk->args);
    };
    d.args = &pack;
    d.args_size = sizeof(pack);
    launch(d);
  }

 private:
  const char* name_;
  void (*kernel_)(Params...);
  dim3 grid_, block_;
  size_t shmem_;
  const char* file_;
  int line_;
};

// The stream is ignored: every stream is the same serial queue (kernels/cuda/stream.h).
template <class... Params, class Stream>
Launcher<Params...> make_launcher(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block,
                                  size_t shmem, Stream&&, const char* file = nullptr, int line = 0) {
  return Launcher<Params...>(name, kernel, grid, block, shmem, file, line);
}

}  // namespace duel::sim::detail

namespace duel::sim {
// launch(kernel, grid, block, shmem, args...): the function form of DUEL_LAUNCH.
template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shmem, Args&&... args) {
  detail::Launcher<Params...>("kernel", kernel, grid, block, shmem)(std::forward<Args>(args)...);
}
}  // namespace duel::sim

// Opaque stream type (same spelling as the CUDA runtime's); the emulator ignores streams.
struct CUstream_st;
using cudaStream_t = CUstream_st*;

// ------------------------------------------------------------ barriers ----
inline void __syncthreads() { duel::sim::detail::block_barrier(duel::sim::detail::BarrierOp::Sync, 0); }
inline int __syncthreads_count(int p) { return duel::sim::detail::block_barrier(duel::sim::detail::BarrierOp::Count, p); }
inline int __syncthreads_and(int p) { return duel::sim::detail::block_barrier(duel::sim::detail::BarrierOp::And, p); }
inline int __syncthreads_or(int p) { return duel::sim::detail::block_barrier(duel::sim::detail::BarrierOp::Or, p); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  duel::sim::detail::warp_collective(duel::sim::detail::WarpOp::Sync, mask, 0, 0, 32);
}
inline unsigned __activemask() { return duel::sim::detail::active_mask(); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_system() { std::atomic_thread_fence(std::memory_order_seq_cst); }
[[noreturn]] inline void __trap() { duel::sim::detail::trap("__trap()"); }
inline void __nanosleep(unsigned) {}
inline long long clock64() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// --------------------------------------------------------- warp shuffles ----
template <class T>
inline T __shfl_sync(unsigned mask, T var, int srcLane, int width = warpSize) {
  using namespace duel::sim::detail;
  return from_bits<T>(warp_collective(WarpOp::Shfl, mask, to_bits(var), srcLane, width));
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned int delta, int width = warpSize) {
  using namespace duel::sim::detail;
  return from_bits<T>(warp_collective(WarpOp::ShflUp, mask, to_bits(var), static_cast<int>(delta), width));
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned int delta, int width = warpSize) {
  using namespace duel::sim::detail;
  return from_bits<T>(warp_collective(WarpOp::ShflDown, mask, to_bits(var), static_cast<int>(delta), width));
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = warpSize) {
  using namespace duel::sim::detail;
  return from_bits<T>(warp_collective(WarpOp::ShflXor, mask, to_bits(var), laneMask, width));
}

// ---------------------------------------------------------------- votes ----
inline unsigned __ballot_sync(unsigned mask, int pred) {
  using namespace duel::sim::detail;
  return static_cast<unsigned>(warp_collective(WarpOp::Ballot, mask, pred != 0, 0, 32));
}
inline int __any_sync(unsigned mask, int pred) {
  using namespace duel::sim::detail;
  return static_cast<int>(warp_collective(WarpOp::Any, mask, pred != 0, 0, 32));
}
inline int __all_sync(unsigned mask, int pred) {
  using namespace duel::sim::detail;
  return static_cast<int>(warp_collective(WarpOp::All, mask, pred != 0, 0, 32));
}
template <class T>
inline unsigned __match_any_sync(unsigned mask, T value) {
  using namespace duel::sim::detail;
  return static_cast<unsigned>(warp_collective(WarpOp::MatchAny, mask, to_bits(value), 0, 32));
}
template <class T>
inline unsigned __match_all_sync(unsigned mask, T value, int* pred) {
  using namespace duel::sim::detail;
  uint64_t r = warp_collective(WarpOp::MatchAll, mask, to_bits(value), 0, 32);
  *pred = static_cast<int>(r >> 32);
  return static_cast<unsigned>(r);
}
#define DUEL_SIM_REDUCE(NAME, OP, T)                                                     \
  inline T NAME(unsigned mask, T value) {                                               \
    using namespace duel::sim::detail;                                                  \
    return static_cast<T>(warp_collective(WarpOp::OP, mask, static_cast<uint32_t>(value), 0, 32)); \
  }
DUEL_SIM_REDUCE(__reduce_add_sync, ReduceAdd, unsigned)
DUEL_SIM_REDUCE(__reduce_add_sync, ReduceAdd, int)
DUEL_SIM_REDUCE(__reduce_min_sync, ReduceMinU, unsigned)
DUEL_SIM_REDUCE(__reduce_min_sync, ReduceMinI, int)
DUEL_SIM_REDUCE(__reduce_max_sync, ReduceMaxU, unsigned)
DUEL_SIM_REDUCE(__reduce_max_sync, ReduceMaxI, int)
DUEL_SIM_REDUCE(__reduce_and_sync, ReduceAnd, unsigned)
DUEL_SIM_REDUCE(__reduce_or_sync, ReduceOr, unsigned)
DUEL_SIM_REDUCE(__reduce_xor_sync, ReduceXor, unsigned)
#undef DUEL_SIM_REDUCE

// -------------------------------------------------------------- atomics ----
// Real atomics: blocks run concurrently on several OS threads.
#define DUEL_SIM_ATOMIC_RMW(NAME, T, EXPR)                                                \
  inline T NAME(T* address, T val) {                                                      \
    duel::sim::detail::note_atomic(address, sizeof(T));                                   \
    std::atomic_ref<T> a(*address);                                                       \
    return EXPR;                                                                          \
  }
DUEL_SIM_ATOMIC_RMW(atomicAdd, int, a.fetch_add(val))
DUEL_SIM_ATOMIC_RMW(atomicAdd, unsigned int, a.fetch_add(val))
DUEL_SIM_ATOMIC_RMW(atomicAdd, unsigned long long, a.fetch_add(val))
DUEL_SIM_ATOMIC_RMW(atomicAdd, float, a.fetch_add(val))
DUEL_SIM_ATOMIC_RMW(atomicAdd, double, a.fetch_add(val))
DUEL_SIM_ATOMIC_RMW(atomicSub, int, a.fetch_sub(val))
DUEL_SIM_ATOMIC_RMW(atomicSub, unsigned int, a.fetch_sub(val))
DUEL_SIM_ATOMIC_RMW(atomicExch, int, a.exchange(val))
DUEL_SIM_ATOMIC_RMW(atomicExch, unsigned int, a.exchange(val))
DUEL_SIM_ATOMIC_RMW(atomicExch, unsigned long long, a.exchange(val))
DUEL_SIM_ATOMIC_RMW(atomicExch, float, a.exchange(val))
DUEL_SIM_ATOMIC_RMW(atomicAnd, int, a.fetch_and(val))
DUEL_SIM_ATOMIC_RMW(atomicAnd, unsigned int, a.fetch_and(val))
DUEL_SIM_ATOMIC_RMW(atomicAnd, unsigned long long, a.fetch_and(val))
DUEL_SIM_ATOMIC_RMW(atomicOr, int, a.fetch_or(val))
DUEL_SIM_ATOMIC_RMW(atomicOr, unsigned int, a.fetch_or(val))
DUEL_SIM_ATOMIC_RMW(atomicOr, unsigned long long, a.fetch_or(val))
DUEL_SIM_ATOMIC_RMW(atomicXor, int, a.fetch_xor(val))
DUEL_SIM_ATOMIC_RMW(atomicXor, unsigned int, a.fetch_xor(val))
DUEL_SIM_ATOMIC_RMW(atomicXor, unsigned long long, a.fetch_xor(val))
#undef DUEL_SIM_ATOMIC_RMW

namespace duel::sim::detail {
template <class T, class F>
inline T atomic_update(T* address, F f) {  // returns the old value
  note_atomic(address, sizeof(T));
  std::atomic_ref<T> a(*address);
  T old = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(old, f(old))) {
  }
  return old;
}
}  // namespace duel::sim::detail

#define DUEL_SIM_ATOMIC_MINMAX(T)                                                             \
  inline T atomicMin(T* address, T val) {                                                     \
    return duel::sim::detail::atomic_update(address, [val](T o) { return val < o ? val : o; }); \
  }                                                                                           \
  inline T atomicMax(T* address, T val) {                                                     \
    return duel::sim::detail::atomic_update(address, [val](T o) { return val > o ? val : o; }); \
  }
DUEL_SIM_ATOMIC_MINMAX(int)
DUEL_SIM_ATOMIC_MINMAX(unsigned int)
DUEL_SIM_ATOMIC_MINMAX(long long)
DUEL_SIM_ATOMIC_MINMAX(unsigned long long)
#undef DUEL_SIM_ATOMIC_MINMAX

inline unsigned int atomicInc(unsigned int* address, unsigned int val) {
  return duel::sim::detail::atomic_update(address, [val](unsigned o) { return o >= val ? 0u : o + 1; });
}
inline unsigned int atomicDec(unsigned int* address, unsigned int val) {
  return duel::sim::detail::atomic_update(address,
                                          [val](unsigned o) { return (o == 0 || o > val) ? val : o - 1; });
}
#define DUEL_SIM_ATOMIC_CAS(T)                                     \
  inline T atomicCAS(T* address, T compare, T val) {               \
    duel::sim::detail::note_atomic(address, sizeof(T));            \
    std::atomic_ref<T> a(*address);                                \
    a.compare_exchange_strong(compare, val);                       \
    return compare; /* the old value, whether or not it swapped */ \
  }
DUEL_SIM_ATOMIC_CAS(int)
DUEL_SIM_ATOMIC_CAS(unsigned int)
DUEL_SIM_ATOMIC_CAS(unsigned long long)
DUEL_SIM_ATOMIC_CAS(unsigned short)
#undef DUEL_SIM_ATOMIC_CAS

// ----------------------------------------------------------- loads/stores ----
template <class T> inline T __ldg(const T* p) { return *p; }
template <class T> inline T __ldcg(const T* p) { return *p; }
template <class T> inline T __ldca(const T* p) { return *p; }
template <class T> inline T __ldcs(const T* p) { return *p; }
template <class T> inline T __ldlu(const T* p) { return *p; }
template <class T> inline void __stcg(T* p, T v) { *p = v; }
template <class T> inline void __stcs(T* p, T v) { *p = v; }
template <class T> inline void __stwb(T* p, T v) { *p = v; }

// ---------------------------------------------------------------- math ----
// Fast-math intrinsics map to the accurate libm functions (results may differ from the
// GPU's approximations in the last bits; compare with a tolerance). glibc's <math.h>
// declares some of these names (__expf, __logf, __sinf, __powf, ...) as extern "C"
// noexcept without exporting them; the definitions below match those declarations.
inline float __expf(float x) noexcept { return expf(x); }
inline float __exp10f(float x) noexcept { return powf(10.0f, x); }
inline float __logf(float x) noexcept { return logf(x); }
inline float __log2f(float x) noexcept { return log2f(x); }
inline float __log10f(float x) noexcept { return log10f(x); }
inline float __sinf(float x) noexcept { return sinf(x); }
inline float __cosf(float x) noexcept { return cosf(x); }
inline float __tanf(float x) noexcept { return tanf(x); }
inline void __sincosf(float x, float* s, float* c) noexcept { *s = sinf(x); *c = cosf(x); }
inline float __powf(float x, float y) noexcept { return powf(x, y); }
inline float __fdividef(float a, float b) noexcept { return a / b; }
inline float __saturatef(float x) noexcept { return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; }  // NaN -> 0
inline float rsqrtf(float x) noexcept { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) noexcept { return 1.0 / sqrt(x); }
inline float rcbrtf(float x) noexcept { return 1.0f / cbrtf(x); }
inline float normcdff(float x) noexcept { return 0.5f * erfcf(-x * 0.70710678118654752f); }
inline double normcdf(double x) noexcept { return 0.5 * erfc(-x * 0.70710678118654752); }
inline float __frcp_rn(float x) noexcept { return 1.0f / x; }
inline float __fsqrt_rn(float x) noexcept { return sqrtf(x); }
inline float __frsqrt_rn(float x) noexcept { return 1.0f / sqrtf(x); }
inline float __fadd_rn(float a, float b) noexcept { return a + b; }
inline float __fsub_rn(float a, float b) noexcept { return a - b; }
inline float __fmul_rn(float a, float b) noexcept { return a * b; }
inline float __fdiv_rn(float a, float b) noexcept { return a / b; }
inline float __fmaf_rn(float a, float b, float c) noexcept { return fmaf(a, b, c); }
inline double __dadd_rn(double a, double b) noexcept { return a + b; }
inline double __dsub_rn(double a, double b) noexcept { return a - b; }
inline double __dmul_rn(double a, double b) noexcept { return a * b; }
inline double __ddiv_rn(double a, double b) noexcept { return a / b; }
inline double __fma_rn(double a, double b, double c) noexcept { return fma(a, b, c); }

inline int __float2int_rn(float x) noexcept { return static_cast<int>(nearbyintf(x)); }
inline int __float2int_rz(float x) noexcept { return static_cast<int>(truncf(x)); }
inline int __float2int_rd(float x) noexcept { return static_cast<int>(floorf(x)); }
inline int __float2int_ru(float x) noexcept { return static_cast<int>(ceilf(x)); }
inline unsigned __float2uint_rn(float x) noexcept { return static_cast<unsigned>(nearbyintf(x)); }
inline unsigned __float2uint_rz(float x) noexcept { return static_cast<unsigned>(truncf(x)); }
inline long long __float2ll_rn(float x) noexcept { return static_cast<long long>(nearbyintf(x)); }
inline long long __float2ll_rz(float x) noexcept { return static_cast<long long>(truncf(x)); }
inline int __double2int_rn(double x) noexcept { return static_cast<int>(nearbyint(x)); }
inline int __double2int_rz(double x) noexcept { return static_cast<int>(trunc(x)); }
inline long long __double2ll_rn(double x) noexcept { return static_cast<long long>(nearbyint(x)); }
inline float __double2float_rn(double x) noexcept { return static_cast<float>(x); }
inline float __int2float_rn(int x) noexcept { return static_cast<float>(x); }
inline float __uint2float_rn(unsigned x) noexcept { return static_cast<float>(x); }
inline float __ll2float_rn(long long x) noexcept { return static_cast<float>(x); }
inline double __int2double_rn(int x) noexcept { return static_cast<double>(x); }
inline double __ll2double_rn(long long x) noexcept { return static_cast<double>(x); }

inline int __float_as_int(float x) noexcept { return duel::sim::detail::from_bits<int>(duel::sim::detail::to_bits(x)); }
inline unsigned __float_as_uint(float x) noexcept { return duel::sim::detail::from_bits<unsigned>(duel::sim::detail::to_bits(x)); }
inline float __int_as_float(int x) noexcept { return duel::sim::detail::from_bits<float>(duel::sim::detail::to_bits(x)); }
inline float __uint_as_float(unsigned x) noexcept { return duel::sim::detail::from_bits<float>(duel::sim::detail::to_bits(x)); }
inline long long __double_as_longlong(double x) noexcept { return duel::sim::detail::from_bits<long long>(duel::sim::detail::to_bits(x)); }
inline double __longlong_as_double(long long x) noexcept { return duel::sim::detail::from_bits<double>(duel::sim::detail::to_bits(x)); }
inline int __double2hiint(double x) noexcept { return static_cast<int>(static_cast<unsigned long long>(__double_as_longlong(x)) >> 32); }
inline int __double2loint(double x) noexcept { return static_cast<int>(static_cast<unsigned long long>(__double_as_longlong(x)) & 0xffffffffu); }
inline double __hiloint2double(int hi, int lo) noexcept {
  return __longlong_as_double(static_cast<long long>((static_cast<unsigned long long>(static_cast<unsigned>(hi)) << 32) |
                                                     static_cast<unsigned>(lo)));
}

inline int __popc(unsigned x) noexcept { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) noexcept { return __builtin_popcountll(x); }
inline int __clz(int x) noexcept { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __clzll(long long x) noexcept { return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x)); }
inline int __ffs(int x) noexcept { return __builtin_ffs(x); }
inline int __ffsll(long long x) noexcept { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) noexcept {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  return __builtin_bswap32(x);
}
inline unsigned long long __brevll(unsigned long long x) noexcept {
  return (static_cast<unsigned long long>(__brev(static_cast<unsigned>(x))) << 32) | __brev(static_cast<unsigned>(x >> 32));
}
inline int __mul24(int a, int b) noexcept { return ((a << 8) >> 8) * ((b << 8) >> 8); }
inline unsigned __umul24(unsigned a, unsigned b) noexcept { return (a & 0xffffffu) * (b & 0xffffffu); }
inline int __mulhi(int a, int b) noexcept { return static_cast<int>((static_cast<long long>(a) * b) >> 32); }
inline unsigned __umulhi(unsigned a, unsigned b) noexcept { return static_cast<unsigned>((static_cast<unsigned long long>(a) * b) >> 32); }
inline long long __mul64hi(long long a, long long b) noexcept { return static_cast<long long>((static_cast<duel::sim::detail::int128>(a) * b) >> 64); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) noexcept {
  return static_cast<unsigned long long>((static_cast<duel::sim::detail::uint128>(a) * b) >> 64);
}

// CUDA's global min/max overloads for device code.
#define DUEL_SIM_MINMAX(T)                                  \
  inline T min(T a, T b) { return b < a ? b : a; }          \
  inline T max(T a, T b) { return a < b ? b : a; }
DUEL_SIM_MINMAX(int)
DUEL_SIM_MINMAX(unsigned int)
DUEL_SIM_MINMAX(long)
DUEL_SIM_MINMAX(unsigned long)
DUEL_SIM_MINMAX(long long)
DUEL_SIM_MINMAX(unsigned long long)
#undef DUEL_SIM_MINMAX
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline double min(float a, double b) { return fmin(a, b); }
inline double max(float a, double b) { return fmax(a, b); }
inline double min(double a, float b) { return fmin(a, b); }
inline double max(double a, float b) { return fmax(a, b); }
inline unsigned min(int a, unsigned b) { return min(static_cast<unsigned>(a), b); }
inline unsigned max(int a, unsigned b) { return max(static_cast<unsigned>(a), b); }
inline unsigned min(unsigned a, int b) { return min(a, static_cast<unsigned>(b)); }
inline unsigned max(unsigned a, int b) { return max(a, static_cast<unsigned>(b)); }
