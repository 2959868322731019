// SIMT emulator runtime: scheduler, barriers, warp collectives, workers, guarded device
// memory. The design is described at the top of kernels/sim/sim.h.
#include "kernels/sim/sim.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/context/fiber.hpp>

#include <algorithm>
#include <bit>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "kernels/sim/checks.h"

// AddressSanitizer must be told when execution moves to another stack (a fiber), or it
// misreads the stacks: an exception thrown on a fiber unpoisons the wrong range and later
// frames look like stack-use-after-scope. Boost.Context's fcontext fibers (Debian's build)
// do not annotate their switches, so the Block does it around each of its own
// (docs/data-and-checkpoints.md, "Fuzzing and sanitizers"; scripts/sanitize.sh fails when
// ASan reports losing track of a stack).
#if defined(__SANITIZE_ADDRESS__)
#define DUEL_SIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DUEL_SIM_ASAN 1
#endif
#endif
#ifdef DUEL_SIM_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

// Built-in variables (declared in sim.h). Per OS thread; fibers never migrate.
thread_local constinit uint3 threadIdx{0, 0, 0};
thread_local constinit uint3 blockIdx{0, 0, 0};
thread_local constinit dim3 blockDim{1, 1, 1};
thread_local constinit dim3 gridDim{1, 1, 1};

namespace duel::sim::detail {
thread_local constinit uint64_t shared_stamp = 1;
}

namespace duel::sim {
namespace bctx = boost::context;
namespace checks = detail::checks;

namespace {

constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr size_t kDefaultSharedLimit = 48 * 1024;
constexpr size_t kMaxSharedOptIn = 227 * 1024;  // sm_90: 232448 bytes per block
constexpr unsigned kFullMask = 0xffffffffu;

// ------------------------------------------------------------------ helpers ----
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

struct Rng {  // xorshift64*, seeded through splitmix64
  uint64_t s;
  explicit Rng(uint64_t seed = 1) : s(splitmix64(seed) | 1) {}
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dull;
  }
  uint64_t below(uint64_t n) { return next() % n; }
};

size_t page_size() {
  static const size_t p = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return p;
}
size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

void* map_pages(size_t bytes, const char* what) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  (void)what;
  return p;
}
void protect_none(void* p, size_t bytes) {
  if (mprotect(p, bytes, PROT_NONE) != 0) throw std::runtime_error("duel::sim: mprotect failed");
}

std::string dim_str(unsigned x, unsigned y, unsigned z) {
  std::ostringstream s;
  s << '(' << x << ',' << y << ',' << z << ')';
  return s.str();
}
std::string hex(unsigned v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

// ------------------------------------------------------------------ options ----
std::mutex g_opt_mutex;
Options g_opts;
bool g_opts_ready = false;

Options env_options() {
  Options o;
  if (const char* v = std::getenv("DUEL_SIM_SEED")) o.schedule_seed = std::strtoull(v, nullptr, 0);
  if (const char* v = std::getenv("DUEL_SIM_POISON")) o.poison = std::atoi(v) != 0;
  if (const char* v = std::getenv("DUEL_SIM_WORKERS")) o.worker_threads = std::atoi(v);
  if (const char* v = std::getenv("DUEL_SIM_STACK")) o.fiber_stack_bytes = std::strtoull(v, nullptr, 0);
  auto check = [](const char* var, Check& c) {
    const char* v = std::getenv(var);
    if (!v || !*v) return;
    const std::string s = v;
    if (s == "auto") c = Check::Auto;
    else if (s == "0" || s == "off") c = Check::Off;
    else if (s == "1" || s == "on") c = Check::On;
    else std::fprintf(stderr, "duel::sim: ignoring %s=%s (expected 0, 1 or auto)\n", var, v);
  };
  check("DUEL_SIM_RACECHECK", o.race_check);
  check("DUEL_SIM_RUNAHEAD", o.run_ahead);
  return o;
}

// Auto checks stay off under a debugger: the race detector's page faults would stop it.
bool under_debugger() {
  static const bool traced = [] {
    FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return false;
    char line[256];
    bool t = false;
    while (std::fgets(line, sizeof line, f))
      if (std::strncmp(line, "TracerPid:", 10) == 0) t = std::atoi(line + 10) != 0;
    std::fclose(f);
    return t;
  }();
  return traced;
}
bool resolve(Check c, const Options& o) {
  if (c == Check::Auto) return o.schedule_seed != 0 && !under_debugger();
  return c == Check::On;
}

Options get_options() {
  std::lock_guard<std::mutex> lk(g_opt_mutex);
  if (!g_opts_ready) {
    g_opts = env_options();
    g_opts_ready = true;
  }
  return g_opts;
}

std::mutex g_shared_limit_mutex;
std::unordered_map<const void*, size_t> g_shared_limit;

size_t shared_limit(const void* kernel) {
  std::lock_guard<std::mutex> lk(g_shared_limit_mutex);
  auto it = g_shared_limit.find(kernel);
  return it == g_shared_limit.end() ? kDefaultSharedLimit : it->second;
}

// -------------------------------------------------------------------- stats ----
struct GlobalStats {
  std::atomic<uint64_t> kernels{0}, blocks{0}, threads{0}, plain_blocks{0}, fiber_blocks{0}, switches{0},
      barriers{0}, collectives{0}, race_launches{0}, race_bytes{0}, run_ahead_blocks{0}, shared_poisoned{0};
} g_stats;

struct LocalStats {
  uint64_t blocks = 0, threads = 0, plain_blocks = 0, fiber_blocks = 0, switches = 0, barriers = 0,
           collectives = 0, run_ahead_blocks = 0, shared_poisoned = 0;
  void flush() {
    g_stats.blocks += blocks;
    g_stats.threads += threads;
    g_stats.plain_blocks += plain_blocks;
    g_stats.fiber_blocks += fiber_blocks;
    g_stats.switches += switches;
    g_stats.barriers += barriers;
    g_stats.collectives += collectives;
    g_stats.run_ahead_blocks += run_ahead_blocks;
    g_stats.shared_poisoned += shared_poisoned;
    *this = LocalStats{};
  }
};

// ------------------------------------------------------------ stack memory ----
// One region per worker: slot i = [guard page][stack], slots for every thread of a
// 1024-thread block plus the plain-mode runner, mapped once (MAP_NORESERVE: only pages
// a fiber touches cost memory). Guard pages are set lazily for the slots a block needs:
// each costs two kernel VMAs (vm.max_map_count, 65530 by default, is shared with the
// two VMAs of every device buffer).
class StackPool {
 public:
  ~StackPool() { release(); }
  // Makes slots [0, threads) and the runner slot usable with stacks of stack_bytes.
  void ensure(size_t stack_bytes, unsigned threads) {
    stack_bytes = round_up(std::max<size_t>(stack_bytes, 16 * 1024), page_size());
    if (!base_ || stack_bytes != stack_) {
      release();
      stack_ = stack_bytes;
      slot_ = stack_ + page_size();
      len_ = slot_ * kSlots;
      base_ = static_cast<char*>(map_pages(len_, "fiber stacks"));
      protect_none(base_ + kRunnerSlot * slot_, page_size());
      guarded_ = 0;
    }
    for (; guarded_ < threads; ++guarded_) protect_none(base_ + guarded_ * slot_, page_size());
  }
  char* top(size_t i) const { return base_ + (i + 1) * slot_; }
  size_t stack_bytes() const { return stack_; }
  static constexpr size_t kSlots = kMaxThreadsPerBlock + 1;
  static constexpr size_t kRunnerSlot = kMaxThreadsPerBlock;

 private:
  void release() {
    if (base_) munmap(base_, len_);
    base_ = nullptr;
  }
  char* base_ = nullptr;
  size_t stack_ = 0, slot_ = 0, len_ = 0;
  unsigned guarded_ = 0;
};

struct SlotStack {  // Boost.Context stack allocator over a StackPool slot
  char* top;
  size_t size;
  bctx::stack_context allocate() {
    bctx::stack_context sc;
    sc.sp = top;
    sc.size = size;
    return sc;
  }
  void deallocate(bctx::stack_context&) noexcept {}
};

// Dynamic shared memory arena of a worker: ends against a PROT_NONE page.
class SharedArena {
 public:
  ~SharedArena() {
    if (base_) munmap(base_, len_ + page_size());
  }
  void* place(size_t bytes) {
    if (!base_) {
      len_ = round_up(kMaxSharedOptIn, page_size());
      base_ = static_cast<char*>(map_pages(len_ + page_size(), "shared arena"));
      protect_none(base_ + len_, page_size());
    }
    return base_ + len_ - round_up(bytes, 16);
  }

 private:
  char* base_ = nullptr;
  size_t len_ = 0;
};

// ---------------------------------------------------------------- the block ----
enum class St : uint8_t { NotStarted, Runnable, Running, AtBarrier, AtWarp, Done };

struct Thread {
  bctx::fiber f;  // parked fiber (empty while running or before start)
  St st = St::NotStarted;
  bool started = false;
  detail::WarpOp op = detail::WarpOp::Sync;
  unsigned mask = 0;
  int arg = 0;
  int width = 32;
  uint64_t value = 0;
  uint64_t result = 0;
  int pred = 0;
};

const char* op_name(detail::WarpOp op) {
  using detail::WarpOp;
  switch (op) {
    case WarpOp::Sync: return "__syncwarp";
    case WarpOp::Shfl: return "__shfl_sync";
    case WarpOp::ShflUp: return "__shfl_up_sync";
    case WarpOp::ShflDown: return "__shfl_down_sync";
    case WarpOp::ShflXor: return "__shfl_xor_sync";
    case WarpOp::Ballot: return "__ballot_sync";
    case WarpOp::Any: return "__any_sync";
    case WarpOp::All: return "__all_sync";
    case WarpOp::MatchAny: return "__match_any_sync";
    case WarpOp::MatchAll: return "__match_all_sync";
    case WarpOp::ReduceAdd: return "__reduce_add_sync";
    case WarpOp::ReduceMinU:
    case WarpOp::ReduceMinI: return "__reduce_min_sync";
    case WarpOp::ReduceMaxU:
    case WarpOp::ReduceMaxI: return "__reduce_max_sync";
    case WarpOp::ReduceAnd: return "__reduce_and_sync";
    case WarpOp::ReduceOr: return "__reduce_or_sync";
    case WarpOp::ReduceXor: return "__reduce_xor_sync";
  }
  return "?";
}

class Worker;

const checks::FunctionShared kNoShared{};  // a __shared__ site whose variables are unknown

class Block {
 public:
  explicit Block(Worker& w) : w_(w) {}

  // How the threads of one block are scheduled between barriers.
  enum class Sched : uint8_t {
    Threads,    // thread by thread: index order, or a random runnable thread at every pick
    WarpsUp,    // warp-serial run-ahead: warp 0 runs as far as it can, then warp 1, ...
    WarpsDown,  // ... the last warp first
  };
  void run(const detail::LaunchDesc& d, uint3 bidx, uint64_t seed, bool shuffle, bool poison, Sched sched,
           checks::Races* races, LocalStats& stats);
  void enter_shared(detail::SharedSite& site);

  // Called from inside an emulated thread.
  int barrier(detail::BarrierOp op, int pred);
  uint64_t warp(detail::WarpOp op, unsigned mask, uint64_t value, int arg, int width);
  unsigned active_mask() const;
  [[noreturn]] void fail(const std::string& what) const;

 private:
  unsigned order_at(unsigned k) const { return use_order_ ? order_[k] : k; }
  void set_thread(unsigned i) {
    cur_ = i;
    if (bx_ == n_) {
      threadIdx = uint3{i, 0, 0};
    } else {
      threadIdx = uint3{i % bx_, (i / bx_) % by_, i / (bx_ * by_)};
    }
  }
  uint3 idx_of(unsigned i) const { return uint3{i % bx_, (i / bx_) % by_, i / (bx_ * by_)}; }
  std::string where(unsigned i) const {
    uint3 t = idx_of(i);
    return "thread " + dim_str(t.x, t.y, t.z);
  }
  std::string prefix() const {
    return std::string("duel::sim: kernel '") + d_->name + "' block " + dim_str(bidx_.x, bidx_.y, bidx_.z) + ": ";
  }

  void run_body() {
    try {
      d_->invoke(d_->args);
    } catch (const bctx::detail::forced_unwind&) {
      throw;
    } catch (...) {
      if (!err_) err_ = std::current_exception();
    }
  }
  bctx::fiber make_runner();
  bctx::fiber make_fiber(unsigned i);
  void yield() {  // park this emulated thread: back to the scheduler in run()
    void* fake = nullptr;
    asan_leave_fiber(&fake);
    try {
      sched_ = std::move(sched_).resume();
    } catch (const bctx::detail::forced_unwind&) {  // drop_fibers() unwinds this stack
      asan_resumed_fiber(fake);
      throw;
    }
    asan_resumed_fiber(fake);
  }
  void promote();
  void resume(unsigned i);
  void make_runnable(unsigned j);
  bool has_runnable() const { return sched_mode_ == Sched::Threads ? runq_head_ < runq_.size() : nrunnable_ > 0; }
  unsigned pick();
  void quiescent();
  void end_segment(unsigned i);
  [[noreturn]] void report_race(const checks::Conflict& c) const;
  void complete_warp(unsigned warp, unsigned mask);
  void drop_fibers() {  // destroying a parked fiber resumes it to unwind its stack
    for (unsigned i = 0; i < th_.size(); ++i) {
      if (!th_[i].f) continue;
      asan_to_fiber(slot_of(i));
      th_[i].f = bctx::fiber{};
      asan_back_on_os();
    }
  }

  // AddressSanitizer's stack-switch annotations (empty in other builds). The scheduler runs
  // on the OS thread's stack, each emulated thread on its StackPool slot, except the thread
  // promoted out of plain mode, which keeps the runner's. Every switch is bracketed: start
  // on the old stack (naming the new one), finish on the new one.
  size_t slot_of(unsigned i) const { return fiber_mode_ && i == promoted_ ? StackPool::kRunnerSlot : i; }
#ifdef DUEL_SIM_ASAN
  void asan_to_fiber(size_t slot);  // on the OS stack, before resuming the fiber on `slot`
  void asan_back_on_os() { __sanitizer_finish_switch_fiber(os_fake_, nullptr, nullptr); }
  void asan_entered_fiber() { __sanitizer_finish_switch_fiber(nullptr, &os_bottom_, &os_size_); }
  // on a fiber, before parking (fake: where to keep its fake stack) or ending (nullptr)
  void asan_leave_fiber(void** fake) { __sanitizer_start_switch_fiber(fake, os_bottom_, os_size_); }
  void asan_resumed_fiber(void* fake) { __sanitizer_finish_switch_fiber(fake, nullptr, nullptr); }
  void* os_fake_ = nullptr;
  const void* os_bottom_ = nullptr;
  size_t os_size_ = 0;
#else
  void asan_to_fiber(size_t) {}
  void asan_back_on_os() {}
  void asan_entered_fiber() {}
  void asan_leave_fiber(void**) {}
  void asan_resumed_fiber(void*) {}
#endif

  Worker& w_;
  const detail::LaunchDesc* d_ = nullptr;
  uint3 bidx_{};
  unsigned n_ = 0, bx_ = 1, by_ = 1;
  std::vector<Thread> th_;
  std::vector<unsigned> order_;
  std::vector<unsigned> warp_exist_;
  bool shuffle_ = false;
  bool use_order_ = false;  // order_ holds the plain-mode thread order
  bool poison_ = false;
  Sched sched_mode_ = Sched::Threads;
  std::vector<std::vector<unsigned>> wq_;  // warp-serial: runnable threads per warp
  std::vector<size_t> wq_head_;
  std::vector<unsigned> worder_;           // warp-serial: the order warps take the lead
  unsigned wcur_ = 0;                      // index into worder_ of the warp running ahead
  size_t nrunnable_ = 0;
  checks::Races* races_ = nullptr;         // the race detector, when on
  std::vector<uint16_t> wsync_;            // per warp: completed __syncwarp()s
  std::vector<const checks::FunctionShared*> entered_;  // functions whose static shared memory this block set up
  Rng rng_;
  bool fiber_mode_ = false;
  unsigned cur_ = 0, plain_pos_ = 0, ndone_ = 0, promoted_ = 0;
  std::vector<unsigned> runq_;
  size_t runq_head_ = 0;
  int bar_count_ = 0;
  bctx::fiber sched_;
  std::exception_ptr err_;
  LocalStats* stats_ = nullptr;
};

class Worker {
 public:
  Worker() : block(*this) {}
  StackPool stacks;
  SharedArena arena;
  Block block;
};

#ifdef DUEL_SIM_ASAN
void Block::asan_to_fiber(size_t slot) {
  __sanitizer_start_switch_fiber(&os_fake_, w_.stacks.top(slot) - w_.stacks.stack_bytes(), w_.stacks.stack_bytes());
}
#endif

thread_local std::unique_ptr<Worker> tl_worker;
thread_local Block* tl_block = nullptr;
thread_local void* tl_dynamic_shared = nullptr;

Worker& this_worker() {
  if (!tl_worker) tl_worker = std::make_unique<Worker>();
  return *tl_worker;
}

}  // namespace
}  // namespace duel::sim

void duel::sim::detail::shared_site_enter(SharedSite& site) {
  site.stamp = shared_stamp;
  if (tl_block) tl_block->enter_shared(site);
}

namespace duel::sim {
namespace {

Block& current_block(const char* fn) {
  if (!tl_block)
    throw KernelError(std::string("duel::sim: ") + fn + " called outside a kernel launched by the emulator");
  return *tl_block;
}

bctx::fiber Block::make_runner() {
  return bctx::fiber(std::allocator_arg, SlotStack{w_.stacks.top(StackPool::kRunnerSlot), w_.stacks.stack_bytes()},
                     [this](bctx::fiber&& s) {
                       asan_entered_fiber();
                       sched_ = std::move(s);
                       try {
                         for (; plain_pos_ < n_; ++plain_pos_) {
                           unsigned i = order_at(plain_pos_);
                           set_thread(i);
                           th_[i].st = St::Running;
                           run_body();
                           th_[i].st = St::Done;
                           ++ndone_;
                           // (after a promotion this thread's segments end in resume())
                           if (!fiber_mode_ && races_) end_segment(i);
                           if (fiber_mode_ || err_) break;
                         }
                       } catch (const bctx::detail::forced_unwind&) {
                         asan_leave_fiber(nullptr);
                         throw;
                       }
                       asan_leave_fiber(nullptr);
                       return std::move(sched_);
                     });
}

bctx::fiber Block::make_fiber(unsigned i) {
  return bctx::fiber(std::allocator_arg, SlotStack{w_.stacks.top(i), w_.stacks.stack_bytes()},
                     [this, i](bctx::fiber&& s) {
                       asan_entered_fiber();
                       sched_ = std::move(s);
                       try {
                         run_body();
                       } catch (const bctx::detail::forced_unwind&) {
                         asan_leave_fiber(nullptr);
                         throw;
                       }
                       th_[i].st = St::Done;
                       ++ndone_;
                       asan_leave_fiber(nullptr);
                       return std::move(sched_);
                     });
}

// The running thread (in plain mode, on the runner's stack) reached a barrier or warp
// collective: from now on every thread is a fiber. It keeps the runner stack; threads
// not yet started become runnable; threads that already ran stay done.
void Block::promote() {
  fiber_mode_ = true;
  promoted_ = cur_;
  th_[cur_].started = true;
  for (unsigned k = plain_pos_ + 1; k < n_; ++k) {
    unsigned j = order_at(k);
    th_[j].st = St::Runnable;
    make_runnable(j);
  }
  if (sched_mode_ != Sched::Threads)  // the promoted thread's warp keeps the lead
    wcur_ = static_cast<unsigned>(std::find(worder_.begin(), worder_.end(), cur_ / 32) - worder_.begin());
}

void Block::make_runnable(unsigned j) {
  if (sched_mode_ == Sched::Threads) {
    runq_.push_back(j);
  } else {
    wq_[j / 32].push_back(j);
    ++nrunnable_;
  }
}

void Block::resume(unsigned i) {
  Thread& t = th_[i];
  set_thread(i);
  t.st = St::Running;
  ++stats_->switches;
  if (!t.started) {
    t.started = true;
    t.f = make_fiber(i);
  }
  asan_to_fiber(slot_of(i));
  t.f = std::move(t.f).resume();
  asan_back_on_os();
  if (races_) end_segment(i);
}

unsigned Block::pick() {
  if (sched_mode_ == Sched::Threads) {
    if (shuffle_) {
      size_t k = runq_head_ + rng_.below(runq_.size() - runq_head_);
      std::swap(runq_[k], runq_[runq_head_]);
    }
    return runq_[runq_head_++];
  }
  // Warp-serial: the warp in the lead runs until none of its threads can (they wait at a
  // barrier or have exited); only then does the next warp in worder_ get the lead. Lanes
  // of one warp interleave at its collectives, in random order when shuffled.
  const unsigned nw = static_cast<unsigned>(worder_.size());
  for (unsigned tries = 0; tries < nw; ++tries) {
    const unsigned w = worder_[wcur_];
    std::vector<unsigned>& q = wq_[w];
    size_t& head = wq_head_[w];
    if (head < q.size()) {
      if (shuffle_) {
        size_t k = head + rng_.below(q.size() - head);
        std::swap(q[k], q[head]);
      }
      const unsigned j = q[head++];
      if (head == q.size()) {
        q.clear();
        head = 0;
      }
      --nrunnable_;
      return j;
    }
    wcur_ = (wcur_ + 1) % nw;
  }
  fail("internal error: no runnable thread");
}

void Block::run(const detail::LaunchDesc& d, uint3 bidx, uint64_t seed, bool shuffle, bool poison, Sched sched,
                checks::Races* races, LocalStats& stats) {
  d_ = &d;
  poison_ = poison;
  races_ = races;
  bidx_ = bidx;
  bx_ = d.block.x;
  by_ = d.block.y;
  n_ = d.block.x * d.block.y * d.block.z;
  stats_ = &stats;
  shuffle_ = shuffle;
  th_.resize(n_);
  for (auto& t : th_) {
    t.f = bctx::fiber{};
    t.st = St::NotStarted;
    t.started = false;
  }
  const unsigned nwarps = (n_ + 31) / 32;
  warp_exist_.assign(nwarps, kFullMask);
  if (n_ % 32) warp_exist_.back() = (1u << (n_ % 32)) - 1;
  sched_mode_ = nwarps > 1 ? sched : Sched::Threads;  // one warp: the same thing
  use_order_ = shuffle_ || sched_mode_ != Sched::Threads;
  if (shuffle_) rng_ = Rng(seed);
  if (sched_mode_ == Sched::Threads) {
    if (shuffle_) {
      order_.resize(n_);
      std::iota(order_.begin(), order_.end(), 0u);
      for (unsigned k = n_; k > 1; --k) std::swap(order_[k - 1], order_[rng_.below(k)]);
    }
  } else {
    // Plain mode runs the threads warp after warp in the lead order, lanes shuffled.
    ++stats.run_ahead_blocks;
    worder_.resize(nwarps);
    for (unsigned w = 0; w < nwarps; ++w) worder_[w] = sched_mode_ == Sched::WarpsUp ? w : nwarps - 1 - w;
    order_.clear();
    for (unsigned w : worder_) {
      const size_t at = order_.size();
      for (unsigned i = w * 32; i < std::min(n_, w * 32 + 32); ++i) order_.push_back(i);
      if (shuffle_)
        for (size_t k = order_.size() - at; k > 1; --k) std::swap(order_[at + k - 1], order_[at + rng_.below(k)]);
    }
    wq_.resize(nwarps);
    wq_head_.assign(nwarps, 0);
    for (auto& q : wq_) q.clear();
    wcur_ = 0;
    nrunnable_ = 0;
  }
  wsync_.assign(nwarps, 0);
  entered_.clear();
  ++detail::shared_stamp;  // static __shared__ sites are entered afresh
  if (races_) races_->begin_block(bidx.x + uint64_t{d.grid.x} * (bidx.y + uint64_t{d.grid.y} * bidx.z),
                                  tl_dynamic_shared, d.dynamic_shared);
  fiber_mode_ = false;
  cur_ = plain_pos_ = ndone_ = 0;
  runq_.clear();
  runq_head_ = 0;
  err_ = nullptr;
  blockIdx = bidx;
  ++stats.blocks;
  stats.threads += n_;

  struct Guard {
    Block* b;
    ~Guard() {
      b->drop_fibers();  // unwinds the stacks of threads still parked (after an error)
      tl_block = nullptr;
    }
  } guard{this};
  tl_block = this;

  bctx::fiber runner = make_runner();
  asan_to_fiber(StackPool::kRunnerSlot);
  runner = std::move(runner).resume();
  asan_back_on_os();
  if (!fiber_mode_) {  // the whole block ran as plain calls
    ++stats.plain_blocks;
    if (err_) std::rethrow_exception(err_);
    if (races_) races_->end_block();
    return;
  }
  ++stats.fiber_blocks;
  if (races_ && !err_) end_segment(promoted_);  // its segment up to the barrier / collective
  th_[promoted_].f = std::move(runner);  // empty if the promoted thread already finished
  if (err_) std::rethrow_exception(err_);
  for (;;) {
    while (has_runnable()) {
      resume(pick());
      if (err_) std::rethrow_exception(err_);
    }
    runq_.clear();
    runq_head_ = 0;
    if (ndone_ == n_) break;
    quiescent();
  }
  if (races_) races_->end_block();
}

// The thread i just parked or finished: the race detector attributes what changed since
// it was resumed to it.
void Block::end_segment(unsigned i) {
  checks::Conflict c;
  if (races_->end_segment(i, wsync_[i / 32], &c)) return;
  try {
    report_race(c);
  } catch (...) {
    if (!err_) err_ = std::current_exception();
  }
}

void Block::report_race(const checks::Conflict& c) const {
  auto how = [](bool atomic) { return std::string(atomic ? " atomically" : ""); };
  std::string other = where(c.other_thread);
  if (c.other_block) {
    const uint64_t gx = d_->grid.x, gy = d_->grid.y, l = c.other_block_lin;
    other += " of block " + dim_str(static_cast<unsigned>(l % gx), static_cast<unsigned>((l / gx) % gy),
                                    static_cast<unsigned>(l / (gx * gy))) +
             " had" + how(c.other_atomic) + " changed it earlier in this launch (blocks of one launch are not ordered)";
  } else {
    other += " had" + how(c.other_atomic) + " changed it since the last __syncthreads()";
  }
  fail("data race on " + std::string(c.shared ? "shared" : "global") + " memory: " + where(c.thread) + how(c.atomic) +
       " changed " + c.region + ", and " + other +
       ". Unsynchronised writes of one location, e.g. a non-atomic `+=` by several threads, lose updates on a GPU: "
       "use atomicAdd & co. or order the writes by a barrier");
}

// The first thread of this block to pass a static __shared__ declaration of a function:
// poison (Options::poison) and/or race-check (Options::race_check) all of that
// function's static shared variables, once per block.
void Block::enter_shared(detail::SharedSite& site) {
  if (!poison_ && !races_) return;
  if (!site.info) {
    site.info = checks::resolve_site(&site);
    if (!site.info) site.info = &kNoShared;
  }
  const auto* f = static_cast<const checks::FunctionShared*>(site.info);
  if (f->vars.empty()) return;
  for (const auto* e : entered_)
    if (e == f) return;  // another declaration of the same function, already done
  entered_.push_back(f);
  char* base = reinterpret_cast<char*>(&site);
  for (const checks::SharedVar& v : f->vars) {
    char* p = base + v.offset;
    if (poison_) {
      std::memset(p, 0xff, v.bytes);
      ++stats_->shared_poisoned;
    }
    if (races_) races_->add_static(p, v.bytes, &v.name);
  }
}

// No thread can run: release a complete barrier, or report why the block is stuck.
void Block::quiescent() {
  unsigned at_bar = 0, at_warp = 0, done = 0;
  unsigned first_bar = n_, first_done = n_, first_warp = n_;
  for (unsigned i = 0; i < n_; ++i) {
    switch (th_[i].st) {
      case St::AtBarrier: if (at_bar++ == 0) first_bar = i; break;
      case St::AtWarp: if (at_warp++ == 0) first_warp = i; break;
      case St::Done: if (done++ == 0) first_done = i; break;
      default: break;
    }
  }
  if (at_warp > 0) {
    const Thread& t = th_[first_warp];
    unsigned warp = first_warp / 32;
    std::string why;
    for (unsigned l = 0; l < 32 && why.empty(); ++l) {
      if (!(t.mask >> l & 1)) continue;
      unsigned j = warp * 32 + l;
      const Thread& o = th_[j];
      if (o.st == St::Done) why = "lane " + std::to_string(l) + " (" + where(j) + ") has exited";
      else if (o.st == St::AtBarrier) why = "lane " + std::to_string(l) + " (" + where(j) + ") waits at __syncthreads()";
    }
    if (why.empty()) why = "not every lane named in the mask reached it";
    fail(where(first_warp) + " (warp " + std::to_string(warp) + ", lane " + std::to_string(first_warp % 32) +
         ") waits in " + op_name(t.op) + "(mask=" + hex(t.mask) + ") but " + why);
  }
  if (at_bar > 0 && done > 0)
    fail("divergent __syncthreads(): " + std::to_string(at_bar) + " of " + std::to_string(n_) +
         " threads wait at the barrier (e.g. " + where(first_bar) + ") but " + std::to_string(done) +
         " exited without reaching it (e.g. " + where(first_done) + ")");
  if (at_bar == n_) {
    int count = 0;
    for (auto& t : th_) count += t.pred;
    bar_count_ = count;
    if (sched_mode_ != Sched::Threads) wcur_ = 0;  // the leading warp leads again
    for (unsigned i = 0; i < n_; ++i) {
      th_[i].st = St::Runnable;
      make_runnable(i);
    }
    if (races_) races_->barrier();
    ++stats_->barriers;
    return;
  }
  fail("internal error: block stuck");
}

// " (launched at kernels/cuda/x.cu:42)" when the launch site is known, else "".
std::string launch_site(const detail::LaunchDesc& d) {
  if (!d.file) return std::string();
  std::string f = d.file;  // shortened to the repository-relative path when recognisable
  for (const char* dir : {"/kernels/", "/tests/"}) {
    const size_t k = f.rfind(dir);
    if (k != std::string::npos) {
      f = f.substr(k + 1);
      break;
    }
  }
  return " (launched at " + f + ":" + std::to_string(d.line) + ")";
}

void Block::fail(const std::string& what) const { throw KernelError(prefix() + what + launch_site(*d_)); }

int Block::barrier(detail::BarrierOp op, int pred) {
  if (!fiber_mode_) promote();
  unsigned i = cur_;
  th_[i].st = St::AtBarrier;
  th_[i].pred = pred != 0;
  yield();
  switch (op) {
    case detail::BarrierOp::Sync: return 0;
    case detail::BarrierOp::Count: return bar_count_;
    case detail::BarrierOp::And: return bar_count_ == static_cast<int>(n_);
    case detail::BarrierOp::Or: return bar_count_ > 0;
  }
  return 0;
}

uint64_t Block::warp(detail::WarpOp op, unsigned mask, uint64_t value, int arg, int width) {
  unsigned i = cur_;
  unsigned warp = i / 32, lane = i % 32;
  if (width < 1 || width > 32 || (width & (width - 1)))
    fail(where(i) + ": " + op_name(op) + " width " + std::to_string(width) + " is not a power of two in [1, 32]");
  unsigned m = mask & warp_exist_[warp];
  if (!(m >> lane & 1))
    fail(where(i) + " (lane " + std::to_string(lane) + ") calls " + op_name(op) + " with mask " + hex(mask) +
         " that does not include itself");
  if (!fiber_mode_) promote();
  Thread& t = th_[i];
  t.op = op;
  t.mask = m;
  t.value = value;
  t.arg = arg;
  t.width = width;
  t.st = St::AtWarp;
  bool all = true;
  for (unsigned l = 0; l < 32; ++l) {
    if (!(m >> l & 1) || l == lane) continue;
    const Thread& o = th_[warp * 32 + l];
    if (o.st == St::Done)
      fail(where(i) + " (warp " + std::to_string(warp) + ") calls " + op_name(op) + "(mask=" + hex(mask) + ") but lane " +
           std::to_string(l) + " named in the mask has exited");
    if (o.st == St::AtWarp) {
      if (o.op != op || o.mask != m)
        fail(where(i) + " (warp " + std::to_string(warp) + ") calls " + op_name(op) + "(mask=" + hex(m) +
             ") while lane " + std::to_string(l) + " waits in " + op_name(o.op) + "(mask=" + hex(o.mask) +
             "): lanes of one warp collective must call the same intrinsic with the same mask");
    } else {
      all = false;
    }
  }
  if (all) {
    // A __syncwarp() orders the lanes' memory accesses: what this lane changed before it
    // belongs before the sync (the others' segments ended when they arrived).
    if (op == detail::WarpOp::Sync && races_) {
      end_segment(i);
      if (err_) std::rethrow_exception(err_);
    }
    complete_warp(warp, m);  // wakes the others; the last lane carries on
    t.st = St::Running;
  } else {
    yield();
  }
  return th_[i].result;
}

void Block::complete_warp(unsigned warp, unsigned m) {
  using detail::WarpOp;
  Thread* lanes = &th_[warp * 32];
  const bool poison = poison_;
  unsigned ballot = 0;
  for (unsigned l = 0; l < 32; ++l)
    if ((m >> l & 1) && lanes[l].value != 0) ballot |= 1u << l;
  for (unsigned l = 0; l < 32; ++l) {
    if (!(m >> l & 1)) continue;
    Thread& t = lanes[l];
    const int w = t.width;
    const unsigned base = l & ~static_cast<unsigned>(w - 1);
    const unsigned lw = l - base;
    auto shuffle_from = [&](long src) -> uint64_t {
      if (src < 0 || src > 31) return t.value;
      if (!(m >> src & 1)) return poison ? ~uint64_t{0} : t.value;  // source lane not taking part
      return lanes[src].value;
    };
    switch (t.op) {
      case WarpOp::Sync: t.result = 0; break;
      case WarpOp::Shfl: t.result = shuffle_from(static_cast<long>(base + (static_cast<unsigned>(t.arg) & (w - 1)))); break;
      case WarpOp::ShflUp:
        t.result = (t.arg >= 0 && lw >= static_cast<unsigned>(t.arg)) ? shuffle_from(static_cast<long>(l) - t.arg) : t.value;
        break;
      case WarpOp::ShflDown:
        t.result = (t.arg >= 0 && lw + static_cast<unsigned>(t.arg) < static_cast<unsigned>(w))
                       ? shuffle_from(static_cast<long>(l) + t.arg)
                       : t.value;
        break;
      case WarpOp::ShflXor: {
        long src = static_cast<long>(l ^ static_cast<unsigned>(t.arg));
        t.result = (src >= static_cast<long>(base + w)) ? t.value : shuffle_from(src);
        break;
      }
      case WarpOp::Ballot: t.result = ballot; break;
      case WarpOp::Any: t.result = ballot != 0; break;
      case WarpOp::All: t.result = ballot == m; break;
      case WarpOp::MatchAny: {
        unsigned r = 0;
        for (unsigned k = 0; k < 32; ++k)
          if ((m >> k & 1) && lanes[k].value == t.value) r |= 1u << k;
        t.result = r;
        break;
      }
      case WarpOp::MatchAll: {
        bool same = true;
        for (unsigned k = 0; k < 32; ++k)
          if ((m >> k & 1) && lanes[k].value != t.value) same = false;
        t.result = same ? (uint64_t{1} << 32 | m) : 0;
        break;
      }
      default: {  // __reduce_*_sync on 32-bit values
        uint32_t acc = 0;
        bool first = true;
        for (unsigned k = 0; k < 32; ++k) {
          if (!(m >> k & 1)) continue;
          uint32_t v = static_cast<uint32_t>(lanes[k].value);
          if (first) { acc = v; first = false; continue; }
          switch (t.op) {
            case WarpOp::ReduceAdd: acc += v; break;
            case WarpOp::ReduceMinU: acc = std::min(acc, v); break;
            case WarpOp::ReduceMaxU: acc = std::max(acc, v); break;
            case WarpOp::ReduceMinI: acc = static_cast<uint32_t>(std::min(static_cast<int32_t>(acc), static_cast<int32_t>(v))); break;
            case WarpOp::ReduceMaxI: acc = static_cast<uint32_t>(std::max(static_cast<int32_t>(acc), static_cast<int32_t>(v))); break;
            case WarpOp::ReduceAnd: acc &= v; break;
            case WarpOp::ReduceOr: acc |= v; break;
            case WarpOp::ReduceXor: acc ^= v; break;
            default: break;
          }
        }
        t.result = acc;
        break;
      }
    }
  }
  for (unsigned l = 0; l < 32; ++l) {
    if (!(m >> l & 1)) continue;
    unsigned j = warp * 32 + l;
    if (j == cur_) continue;
    th_[j].st = St::Runnable;
    make_runnable(j);
  }
  if (lanes[std::countr_zero(m)].op == WarpOp::Sync) ++wsync_[warp];
  ++stats_->collectives;
}

unsigned Block::active_mask() const {
  unsigned warp = cur_ / 32, r = 0;
  for (unsigned l = 0; l < 32; ++l) {
    unsigned j = warp * 32 + l;
    if ((warp_exist_[warp] >> l & 1) && th_[j].st != St::Done) r |= 1u << l;
  }
  return r;
}

// -------------------------------------------------------------- worker pool ----
class Pool {
 public:
  // Runs job() on `extra` pool threads and on the caller; returns when all are done.
  void run(unsigned extra, const std::function<void()>& job) {
    {
      std::lock_guard<std::mutex> lk(m_);
      while (threads_.size() < extra) {
        unsigned id = static_cast<unsigned>(threads_.size());
        threads_.emplace_back([this, id] { loop(id); });
      }
      job_ = &job;
      want_ = extra;
      finished_ = 0;
      ++gen_;
    }
    cv_.notify_all();
    job();
    std::unique_lock<std::mutex> lk(m_);
    done_cv_.wait(lk, [&] { return finished_ == want_; });
    job_ = nullptr;
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void loop(unsigned id) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lk(m_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || gen_ != seen; });
      if (stop_) return;
      seen = gen_;
      if (id >= want_) continue;
      const std::function<void()>* job = job_;
      lk.unlock();
      (*job)();
      lk.lock();
      if (++finished_ == want_) done_cv_.notify_all();
    }
  }
  std::vector<std::thread> threads_;
  std::mutex m_;
  std::condition_variable cv_, done_cv_;
  const std::function<void()>* job_ = nullptr;
  uint64_t gen_ = 0;
  unsigned want_ = 0, finished_ = 0;
  bool stop_ = false;
};

Pool& pool() {
  // A forked child has none of the parent's pool threads: start a new pool there (the
  // parent's Pool object is leaked in the child, never joined).
  static Pool* p = nullptr;
  static pid_t owner = 0;
  if (!p || owner != getpid()) {
    p = new Pool();
    owner = getpid();
  }
  return *p;
}

std::mutex g_launch_mutex;
uint64_t g_launch_counter = 0;

void validate(const detail::LaunchDesc& d) {
  auto bad = [&](const std::string& why) {
    throw LaunchError(std::string("duel::sim: invalid launch of kernel '") + d.name + "' with grid " +
                      dim_str(d.grid.x, d.grid.y, d.grid.z) + ", block " + dim_str(d.block.x, d.block.y, d.block.z) +
                      ", " + std::to_string(d.dynamic_shared) + " bytes of dynamic shared memory: " + why +
                      " (a GPU would refuse it: cudaErrorInvalidConfiguration)" + launch_site(d));
  };
  const auto& g = d.grid;
  const auto& b = d.block;
  if (!d.invoke) bad("no kernel");
  std::string why;  // every violation, "; "-separated
  auto add = [&](const std::string& w) { why += (why.empty() ? "" : "; ") + w; };
  if (g.x == 0 || g.y == 0 || g.z == 0) add("a grid dimension is 0");
  if (b.x == 0 || b.y == 0 || b.z == 0) add("a block dimension is 0");
  uint64_t nt = uint64_t{b.x} * b.y * b.z;
  if (nt > kMaxThreadsPerBlock)
    add(std::to_string(nt) + " threads per block exceed the limit of " + std::to_string(kMaxThreadsPerBlock));
  if (b.x > 1024) add("blockDim.x = " + std::to_string(b.x) + " exceeds 1024");
  if (b.y > 1024) add("blockDim.y = " + std::to_string(b.y) + " exceeds 1024");
  if (b.z > 64) add("blockDim.z = " + std::to_string(b.z) + " exceeds 64");
  if (g.x > 2147483647u) add("gridDim.x = " + std::to_string(g.x) + " exceeds 2^31-1");
  if (g.y > 65535) add("gridDim.y = " + std::to_string(g.y) + " exceeds 65535");
  if (g.z > 65535) add("gridDim.z = " + std::to_string(g.z) + " exceeds 65535");
  size_t limit = shared_limit(d.kernel);
  if (d.dynamic_shared > limit)
    add("dynamic shared memory exceeds the per-block limit of " + std::to_string(limit) + " bytes" +
        (limit == kDefaultSharedLimit ? std::string(" (48 KiB; more needs DUEL_SET_MAX_DYNAMIC_SHARED(kernel, bytes), at most ") +
                                            std::to_string(kMaxSharedOptIn) + ")"
                                      : std::string()));
  if (!why.empty()) bad(why);
}

// --------------------------------------------------------------- device memory ----
struct Alloc {
  char* map_base;
  size_t map_len;
  size_t bytes;
};
std::mutex g_mem_mutex;
std::map<uintptr_t, Alloc> g_allocs;  // keyed by user pointer

const Alloc* find_alloc(const void* p, size_t bytes, uintptr_t* start) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = g_allocs.upper_bound(a);
  if (it == g_allocs.begin()) return nullptr;
  --it;
  if (a + bytes > it->first + it->second.bytes || a < it->first) return nullptr;
  if (start) *start = it->first;
  return &it->second;
}

void check_device_range(const char* fn, const char* which, const void* p, size_t bytes) {
  if (bytes == 0) return;
  std::lock_guard<std::mutex> lk(g_mem_mutex);
  if (!find_alloc(p, bytes, nullptr)) {
    std::ostringstream s;
    s << "duel::sim::" << fn << ": " << which << " range [" << p << ", +" << bytes
      << " bytes) is not inside a live device buffer from device_malloc";
    throw KernelError(s.str());
  }
}

}  // namespace

// =========================================================== public API ====
Options options() { return get_options(); }

void set_options(const Options& o) {
  if (o.device_alignment == 0 || (o.device_alignment & (o.device_alignment - 1)))
    throw std::invalid_argument("duel::sim::set_options: device_alignment must be a power of two");
  std::lock_guard<std::mutex> lk(g_opt_mutex);
  g_opts = o;
  g_opts_ready = true;
}
void set_schedule_seed(uint64_t seed) {
  Options o = options();
  o.schedule_seed = seed;
  set_options(o);
}
void set_poison(bool on) {
  Options o = options();
  o.poison = on;
  set_options(o);
}
void set_worker_threads(int n) {
  Options o = options();
  o.worker_threads = n;
  set_options(o);
}
void set_race_check(Check c) {
  Options o = options();
  o.race_check = c;
  set_options(o);
}
void set_run_ahead(Check c) {
  Options o = options();
  o.run_ahead = c;
  set_options(o);
}
bool race_check_on(const Options& o) { return resolve(o.race_check, o); }
bool run_ahead_on(const Options& o) { return resolve(o.run_ahead, o); }

void set_max_dynamic_shared_bytes(const void* kernel, size_t bytes) {
  if (bytes > kMaxSharedOptIn)
    throw LaunchError("duel::sim::set_max_dynamic_shared_bytes: " + std::to_string(bytes) +
                      " bytes exceed the largest opt-in shared memory per block (" + std::to_string(kMaxSharedOptIn) +
                      ")");
  std::lock_guard<std::mutex> lk(g_shared_limit_mutex);
  g_shared_limit[kernel] = std::max(bytes, kDefaultSharedLimit);
}

Stats stats() {
  Stats s;
  s.kernels_launched = g_stats.kernels.load();
  s.blocks = g_stats.blocks.load();
  s.threads = g_stats.threads.load();
  s.plain_blocks = g_stats.plain_blocks.load();
  s.fiber_blocks = g_stats.fiber_blocks.load();
  s.fiber_switches = g_stats.switches.load();
  s.barriers = g_stats.barriers.load();
  s.warp_collectives = g_stats.collectives.load();
  s.race_checked_launches = g_stats.race_launches.load();
  s.race_checked_bytes = g_stats.race_bytes.load();
  s.run_ahead_blocks = g_stats.run_ahead_blocks.load();
  s.shared_poisoned = g_stats.shared_poisoned.load();
  return s;
}
void reset_stats() {
  for (auto* c : {&g_stats.kernels, &g_stats.blocks, &g_stats.threads, &g_stats.plain_blocks, &g_stats.fiber_blocks,
                  &g_stats.switches, &g_stats.barriers, &g_stats.collectives, &g_stats.race_launches,
                  &g_stats.race_bytes, &g_stats.run_ahead_blocks, &g_stats.shared_poisoned})
    c->store(0);
}

void* device_malloc(size_t bytes) {
  const Options o = options();
  const size_t pg = page_size();
  const size_t span = round_up(round_up(bytes, o.device_alignment), pg);
  const size_t map_len = span + pg;
  char* base = static_cast<char*>(map_pages(map_len, "device buffer"));
  char* guard = base + span;
  protect_none(guard, pg);
  char* p = guard - round_up(bytes, o.device_alignment);
  if (o.poison && bytes) std::memset(p, 0xff, bytes);
  std::lock_guard<std::mutex> lk(g_mem_mutex);
  g_allocs[reinterpret_cast<uintptr_t>(p)] = Alloc{base, map_len, bytes};
  return p;
}

void device_free(void* p) {
  if (!p) return;
  Alloc a;
  {
    std::lock_guard<std::mutex> lk(g_mem_mutex);
    auto it = g_allocs.find(reinterpret_cast<uintptr_t>(p));
    if (it == g_allocs.end()) {
      std::ostringstream s;
      s << "duel::sim::device_free: " << p << " is not a live device_malloc pointer (double free?)";
      throw KernelError(s.str());
    }
    a = it->second;
    g_allocs.erase(it);
  }
  munmap(a.map_base, a.map_len);
}

void memcpy_htod(void* dst, const void* src, size_t bytes) {
  check_device_range("memcpy_htod", "destination", dst, bytes);
  if (bytes) std::memcpy(dst, src, bytes);
}
void memcpy_dtoh(void* dst, const void* src, size_t bytes) {
  check_device_range("memcpy_dtoh", "source", src, bytes);
  if (bytes) std::memcpy(dst, src, bytes);
}
void memcpy_dtod(void* dst, const void* src, size_t bytes) {
  check_device_range("memcpy_dtod", "destination", dst, bytes);
  check_device_range("memcpy_dtod", "source", src, bytes);
  if (bytes) std::memmove(dst, src, bytes);
}
void memset(void* dst, int value, size_t bytes) {
  check_device_range("memset", "destination", dst, bytes);
  if (bytes) std::memset(dst, value, bytes);
}
bool checks::device_buffer_of(uintptr_t p, uintptr_t* user, size_t* bytes) {
  std::lock_guard<std::mutex> lk(g_mem_mutex);
  uintptr_t start = 0;
  const Alloc* a = find_alloc(reinterpret_cast<const void*>(p), 1, &start);
  if (!a) return false;
  *user = start;
  *bytes = a->bytes;
  return true;
}

bool is_device_pointer(const void* p, size_t bytes) {
  std::lock_guard<std::mutex> lk(g_mem_mutex);
  return find_alloc(p, bytes, nullptr) != nullptr;
}
size_t live_device_buffers() {
  std::lock_guard<std::mutex> lk(g_mem_mutex);
  return g_allocs.size();
}

// ============================================================ kernel side ====
namespace detail {

int block_barrier(BarrierOp op, int predicate) { return current_block("__syncthreads()").barrier(op, predicate); }

uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width) {
  return current_block(op_name(op)).warp(op, mask, value, arg, width);
}

unsigned active_mask() { return current_block("__activemask()").active_mask(); }

void* dynamic_shared() {
  current_block("dynamic shared memory");
  return tl_dynamic_shared;
}

void trap(const char* what) { current_block(what).fail(std::string(what) + " executed"); }

void launch(const LaunchDesc& d) {
  if (tl_block)
    throw LaunchError(std::string("duel::sim: kernel '") + d.name +
                      "' launched from inside a kernel (dynamic parallelism is not emulated)");
  validate(d);
  const Options o = options();
  const bool race = race_check_on(o);
  const bool ahead = run_ahead_on(o);
  std::lock_guard<std::mutex> lk(g_launch_mutex);
  const uint64_t launch_no = g_launch_counter++;
  const uint64_t gx = d.grid.x, gy = d.grid.y, gz = d.grid.z;
  const uint64_t nblocks = gx * gy * gz;
  const bool shuffle = o.schedule_seed != 0;
  const uint64_t launch_seed = splitmix64(o.schedule_seed ^ splitmix64(launch_no + 0x51u));

  // Block order: grid order, or a seeded permutation (a full shuffle for grids up to 4M
  // blocks, an affine permutation i -> (a*i + c) mod n beyond).
  std::vector<uint64_t> perm;
  uint64_t aff_a = 1, aff_c = 0;
  if (shuffle && nblocks > 1) {
    if (nblocks <= (uint64_t{1} << 22)) {
      perm.resize(nblocks);
      std::iota(perm.begin(), perm.end(), uint64_t{0});
      Rng r(launch_seed);
      for (uint64_t k = nblocks; k > 1; --k) std::swap(perm[k - 1], perm[r.below(k)]);
    } else {
      Rng r(launch_seed);
      aff_a = r.below(nblocks - 1) + 1;
      while (std::gcd(aff_a, nblocks) != 1) ++aff_a;
      aff_c = r.below(nblocks);
    }
  }
  auto block_at = [&](uint64_t k) -> uint64_t {
    if (!shuffle || nblocks <= 1) return k;
    if (!perm.empty()) return perm[k];
    return static_cast<uint64_t>((static_cast<detail::uint128>(aff_a) * k + aff_c) % nblocks);
  };

  unsigned workers = o.worker_threads > 0 ? static_cast<unsigned>(o.worker_threads)
                                          : std::min(16u, std::max(1u, std::thread::hardware_concurrency()));
  if (workers > nblocks) workers = static_cast<unsigned>(nblocks);
  if (race) workers = 1;  // the race detector follows one block at a time

  // Race detector: set up for the launch, torn down on every exit path.
  static checks::Races* races_obj = new checks::Races();  // used under g_launch_mutex only
  struct RaceGuard {
    checks::Races* r;
    uint64_t before;
    ~RaceGuard() {
      if (!r) return;
      g_stats.race_bytes += r->checked_bytes() - before;
      r->end_launch();
    }
  } race_guard{race ? races_obj : nullptr, races_obj->checked_bytes()};
  if (race) {
    races_obj->begin_launch(d);
    ++g_stats.race_launches;
  }
  // Run-ahead: blocks (k + rot) % 3 == 0 warp-serial ascending, == 1 descending, else the
  // thread-level schedule.
  const uint64_t rot = shuffle ? launch_seed % 3 : 0;
  auto sched_of = [&](uint64_t lin) {
    if (!ahead) return Block::Sched::Threads;
    switch ((lin + rot) % 3) {
      case 0: return Block::Sched::WarpsUp;
      case 1: return Block::Sched::WarpsDown;
      default: return Block::Sched::Threads;
    }
  };

  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex err_mutex;
  std::exception_ptr first_err;

  std::function<void()> job = [&] {
    Worker& w = this_worker();
    LocalStats local;
    try {
      w.stacks.ensure(o.fiber_stack_bytes, d.block.x * d.block.y * d.block.z);
      tl_dynamic_shared = w.arena.place(d.dynamic_shared);
      blockDim = dim3(d.block.x, d.block.y, d.block.z);
      gridDim = dim3(d.grid.x, d.grid.y, d.grid.z);
      for (;;) {
        if (failed.load(std::memory_order_relaxed)) break;
        uint64_t k = next.fetch_add(1, std::memory_order_relaxed);
        if (k >= nblocks) break;
        uint64_t lin = block_at(k);
        uint3 b{static_cast<unsigned>(lin % gx), static_cast<unsigned>((lin / gx) % gy),
                static_cast<unsigned>(lin / (gx * gy))};
        if (o.poison && d.dynamic_shared) std::memset(tl_dynamic_shared, 0xff, d.dynamic_shared);
        w.block.run(d, b, splitmix64(launch_seed ^ splitmix64(lin)), shuffle, o.poison, sched_of(lin),
                    race ? races_obj : nullptr, local);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lk2(err_mutex);
      if (!first_err) first_err = std::current_exception();
      failed = true;
    }
    tl_dynamic_shared = nullptr;
    local.flush();
  };

  if (workers <= 1) job();
  else pool().run(workers - 1, job);
  ++g_stats.kernels;
  if (first_err) std::rethrow_exception(first_err);
}

}  // namespace detail
}  // namespace duel::sim
