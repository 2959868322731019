// The SIMT emulator's race detector and static-shared-memory registry (internal to
// kernels/sim; used by sim.cpp). The user-facing switches are Options::race_check and
// Options::poison (runtime.h); sim.h describes how the emulator runs a block.
//
// RACE DETECTOR (Options::race_check)
//
// Threads of a block switch only at barriers and warp collectives, so a non-atomic
// read-modify-write (`out[index[i]] += src[i]`) by several threads never loses an update
// under the emulator: each thread runs its `+=` start to finish. Instead of trying to
// interleave loads and stores (kernel code dereferences raw pointers, so the emulator
// cannot see individual accesses), the detector attributes every *change* of memory to
// the CUDA thread that made it, and reports two threads changing the same byte when
// nothing orders them:
//
//  * Segments. A thread runs in segments: from one resumption by the block scheduler to
//    the next barrier / warp collective where it parks (or to its end). After every
//    segment the memory the kernel can write is compared with a twin copy taken when the
//    segment started; every byte that differs was written by that thread, in that segment.
//  * Shadow memory. Per byte, the last writer: (epoch, thread, atomic, warp-sync count).
//    The epoch counts block starts and barrier releases of the launch, so "same epoch"
//    means "same block, same barrier interval". A new change conflicts with the recorded
//    one if another thread made it and (a) it was made in another block of this launch,
//    or (b) it was made in the same barrier interval and no __syncwarp() of their common
//    warp separates them; unless both changes were made by atomics (atomicAdd & co. log
//    the bytes they touch).
//  * Shared memory: the block's dynamic shared memory and the static __shared__ variables
//    of the functions it has entered (found through the site markers of the __shared__
//    macro and the module's symbol table, below) are compared in full after every segment.
//  * Device memory: the device buffers the kernel's arguments point to (every 8-byte word
//    of the argument pack that points into a live device_malloc buffer; pointers stored
//    in device memory are not followed) are made read-only for the launch. The first
//    write to a page in a block faults; a SIGSEGV handler copies the page to its twin,
//    makes it writable and lists it as dirty. Segments compare only the block's dirty
//    pages; at block end they are made read-only again. Faults anywhere else go to the
//    previous SIGSEGV disposition, so an out-of-bounds access still stops at its line.
//
// Only changes are seen: a write of the value already there, and reads, are invisible
// (read/write races are the business of the shuffled and run-ahead schedules and of NaN
// poisoning). Blocks run one at a time on one OS thread while the detector is on. The
// last lane to reach a __syncwarp() ends its segment there, so that its writes before
// the sync are not taken for writes after it. Cost: every segment compares the block's
// shared memory and dirty pages (SIMD, 64 bytes at a time), about 3x the CPU time of a
// checking run (docs/kernels.md).
//
// STATIC __shared__ VARIABLES
//
// `__shared__` expands to a marker (a `static thread_local SharedSite` named
// duel_sim_shared_site_<n>) followed by `static thread_local`. A function-local static is
// an ELF TLS symbol `_ZZ<function>E<name>`, whose value is its offset in the module's TLS
// block. The first time a site is entered on a worker, the module's .symtab is read
// (once), the site's own symbol gives the enclosing function, and every other TLS local
// static of that function is one of its __shared__ variables (CUDA has no thread_local in
// device code). A stripped binary has no .symtab: then static shared memory is neither
// poisoned nor race-checked (a warning says so once). (A `section` attribute on the
// variables would be simpler, but GCC drops it for the local statics of templates and
// inline functions, which is where block_reduce's and the GEMM's shared arrays live.)
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/sim/runtime.h"

namespace duel::sim::detail::checks {

// ------------------------------------------------------------ static __shared__ ----
struct SharedVar {
  ptrdiff_t offset;  // from the site marker's address (same TLS block)
  size_t bytes;
  std::string name;  // demangled, e.g. "duel::sim::block_reduce<double, ...>(...)::partial"
};
struct FunctionShared {  // the static __shared__ variables of one function
  std::vector<SharedVar> vars;
};
// What the marker at `site` (a SharedSite of the calling OS thread) belongs to; nullptr if
// the symbol table does not say (warns once). Thread-safe; cached per site.
const FunctionShared* resolve_site(const void* site);

// --------------------------------------------------------------- race detector ----
// Shadow memory: per byte, who changed it last. epoch 0 = nobody yet (in this launch for
// device memory, in this block for shared memory).
struct Stamp {
  uint32_t epoch;   // block starts and barrier releases of the launch, counted from 1
  uint16_t thread;  // linear thread index in its block
  uint16_t bits;    // kAtomic | (__syncwarp() count of the writer's warp & kSyncMask)
  static constexpr uint16_t kAtomic = 0x8000, kSyncMask = 0x7fff;
};

// The pages of one device buffer the detector watches (also read by its SIGSEGV handler).
struct TrackedPages {
  uintptr_t begin, end;  // page-aligned
  size_t first;          // index of its first page among all tracked pages
  uintptr_t lo, hi;      // the buffer's own bytes
};

struct Conflict {
  const void* addr = nullptr;  // first byte changed by both
  std::string region;          // "device buffer 0x... (N bytes), byte 12" / "static __shared__ 'x', byte 4" / ...
  bool shared = false;         // shared memory (else device memory)
  unsigned thread = 0;         // linear index of the thread that changed it now
  unsigned other_thread = 0;   // ... and of the one that changed it before
  bool other_block = false;    // the earlier change was made by another block
  uint64_t other_block_lin = 0;
  bool atomic = false, other_atomic = false;
};

class Races {
 public:
  Races();
  ~Races();
  Races(const Races&) = delete;
  Races& operator=(const Races&) = delete;

  // Launch: protects the device buffers the arguments point to, installs the SIGSEGV
  // handler (restored by end_launch, which also runs on errors).
  void begin_launch(const LaunchDesc& d);
  void end_launch();
  // Block (blocks run one after another on the launching OS thread).
  void begin_block(uint64_t block_lin, void* dynamic_shared, size_t dynamic_bytes);
  void end_block();
  void barrier();  // a __syncthreads() was released: a new barrier interval
  // A static __shared__ variable the block uses (twin taken now: call before any write).
  void add_static(void* p, size_t bytes, const std::string* name);
  // The segment of `thread` (linear index) ended; `wsync` = __syncwarp() count of its
  // warp. Returns false and fills *c on a conflict.
  bool end_segment(unsigned thread, uint16_t wsync, Conflict* c);
  // An atomic of the running thread touched [p, p + bytes) (sim.h's note_atomic).
  void atomic(const void* p, size_t bytes) { atomics_.emplace_back(reinterpret_cast<uintptr_t>(p), bytes); }
  uint64_t checked_bytes() const { return checked_; }

 private:
  struct Region {  // one shared memory region of the current block
    char* p;
    size_t bytes;
    const std::string* name;  // nullptr: dynamic shared memory
    size_t twin;              // offsets into shared_twin_ / shared_shadow_
  };
  struct Buffer {  // one tracked device buffer
    uintptr_t user;  // device_malloc pointer
    size_t bytes;
  };
  void add_region(char* p, size_t bytes, const std::string* name);
  void page_bytes(size_t idx, uintptr_t* lo, uintptr_t* hi) const;
  bool scan(char* cur, char* twin, Stamp* shadow, size_t bytes, unsigned thread, uint16_t wsync, Conflict* c);
  std::string describe_device(const void* p) const;

  uint32_t epoch_ = 0, block_epoch_ = 0;
  std::vector<std::pair<uint32_t, uint64_t>> block_starts_;  // (first epoch, linear block index)
  std::vector<Region> regions_;
  std::vector<char> shared_twin_;
  std::vector<Stamp> shared_shadow_;  // one per byte of shared_twin_
  std::vector<Buffer> buffers_;
  std::vector<TrackedPages> ranges_;  // sorted by address
  size_t npages_ = 0;
  std::vector<uint8_t> state_;   // per tracked page
  std::vector<size_t> dirty_;    // pages made writable in the current block
  char* twin_ = nullptr;         // page copies
  Stamp* shadow_ = nullptr;      // per byte of the tracked pages: its last writer
  std::vector<std::pair<uintptr_t, size_t>> atomics_;  // of the current segment
  uint64_t checked_ = 0;
  bool launch_active_ = false;
};

// The Races object the atomics of the calling OS thread report to (log_atomic in sim.h).
void set_atomic_log(Races* r);

// Implemented in sim.cpp: the live device_malloc buffer that contains address p.
bool device_buffer_of(uintptr_t p, uintptr_t* user, size_t* bytes);

}  // namespace duel::sim::detail::checks
