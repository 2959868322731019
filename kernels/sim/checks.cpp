// The SIMT emulator's race detector and static __shared__ registry; the design is
// described in kernels/sim/checks.h.
#include "kernels/sim/checks.h"

#include <cxxabi.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <tuple>

#include "kernels/sim/sim.h"

namespace duel::sim::detail {
thread_local constinit bool atomic_log_on = false;
}

namespace duel::sim::detail::checks {
namespace {

static_assert(sizeof(Stamp) == 8);
constexpr uint16_t kAtomic = Stamp::kAtomic, kSyncMask = Stamp::kSyncMask;

thread_local Races* tl_races = nullptr;

size_t page_size() {
  static const size_t p = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return p;
}

// ====================================================== device page tracking ====
// State shared with the SIGSEGV handler. Written only while g_armed == 0 (or by the
// handler itself, which runs on the owner thread, synchronously with the faulting write).
enum : uint8_t { kFresh = 0, kDirty = 1, kClean = 2 };  // clean: read-only again, twin valid

const TrackedPages* g_ranges = nullptr;
size_t g_nranges = 0;
uint8_t* g_state = nullptr;
char* g_twin = nullptr;      // page i at g_twin + i * page
size_t* g_dirty = nullptr;   // pages made writable in the current block
volatile size_t g_ndirty = 0;
volatile sig_atomic_t g_armed = 0;
pid_t g_owner = 0;
size_t g_page = 0;
struct sigaction g_prev;

void on_segv(int sig, siginfo_t* si, void* ctx) {
  (void)ctx;
  if (g_armed && si->si_code > 0 && gettid() == g_owner) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(si->si_addr);
    size_t lo = 0, hi = g_nranges;
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (g_ranges[mid].end <= a) lo = mid + 1;
      else hi = mid;
    }
    if (lo < g_nranges && a >= g_ranges[lo].begin) {
      const uintptr_t page = a & ~(g_page - 1);
      const size_t idx = g_ranges[lo].first + (page - g_ranges[lo].begin) / g_page;
      if (g_state[idx] != kDirty) {
        if (g_state[idx] == kFresh) std::memcpy(g_twin + idx * g_page, reinterpret_cast<void*>(page), g_page);
        if (mprotect(reinterpret_cast<void*>(page), g_page, PROT_READ | PROT_WRITE) == 0) {
          g_state[idx] = kDirty;
          g_dirty[g_ndirty] = idx;
          g_ndirty = g_ndirty + 1;
          return;  // the write is retried and succeeds
        }
      }
    }
  }
  // Not a write to a tracked page: let the previous disposition handle the fault (the
  // instruction runs again and faults again), so an out-of-bounds access still stops
  // at its line, or kills the process, as without the detector.
  sigaction(SIGSEGV, &g_prev, nullptr);
  if (si->si_code <= 0) raise(sig);
}

void* map_arena(size_t bytes) {
  if (bytes == 0) return nullptr;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

// Bit k set: a[k] != b[k], for k < 64.
inline uint64_t diff_mask64(const char* a, const char* b) {
#if defined(__AVX2__)
  const __m256i a0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
  const __m256i a1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 32));
  const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
  const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32));
  const uint64_t eq0 = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a0, b0)));
  const uint64_t eq1 = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a1, b1)));
  return ~(eq0 | eq1 << 32);
#elif defined(__SSE2__)
  uint64_t eq = 0;
  for (int k = 0; k < 4; ++k) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 16 * k));
    const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16 * k));
    eq |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, y)))) << (16 * k);
  }
  return ~eq;
#else
  uint64_t d = 0;
  if (std::memcmp(a, b, 64) != 0)
    for (int k = 0; k < 64; ++k)
      if (a[k] != b[k]) d |= uint64_t{1} << k;
  return d;
#endif
}

std::string hexptr(const void* p) {
  std::ostringstream s;
  s << p;
  return s.str();
}

}  // namespace

void set_atomic_log(Races* r) {
  tl_races = r;
  atomic_log_on = r != nullptr;
}

Races::Races() = default;
Races::~Races() { end_launch(); }

void Races::begin_launch(const LaunchDesc& d) {
  end_launch();
  g_page = page_size();
  // Device buffers reachable from the arguments: every aligned word of the argument pack
  // that points into a live buffer (pointers inside structs included).
  buffers_.clear();
  const char* args = static_cast<const char*>(d.args);
  for (size_t off = 0; args && off + sizeof(uintptr_t) <= d.args_size; off += sizeof(uintptr_t)) {
    uintptr_t v;
    std::memcpy(&v, args + off, sizeof v);
    Buffer b;
    if (v && device_buffer_of(v, &b.user, &b.bytes) && b.bytes) buffers_.push_back(b);
  }
  std::sort(buffers_.begin(), buffers_.end(), [](const Buffer& a, const Buffer& b) { return a.user < b.user; });
  buffers_.erase(std::unique(buffers_.begin(), buffers_.end(),
                             [](const Buffer& a, const Buffer& b) { return a.user == b.user; }),
                 buffers_.end());
  ranges_.clear();
  size_t pages = 0;
  for (const Buffer& b : buffers_) {
    const uintptr_t lo = b.user & ~(g_page - 1);
    const uintptr_t hi = (b.user + b.bytes + g_page - 1) & ~(g_page - 1);
    ranges_.push_back(TrackedPages{lo, hi, pages, b.user, b.user + b.bytes});
    pages += (hi - lo) / g_page;
  }
  npages_ = pages;
  state_.assign(pages, kFresh);
  dirty_.assign(pages, 0);
  launch_active_ = true;  // from here on end_launch() undoes what is done
  twin_ = static_cast<char*>(map_arena(pages * g_page));
  shadow_ = static_cast<Stamp*>(map_arena(pages * g_page * sizeof(Stamp)));
  for (const auto& r : ranges_)
    if (mprotect(reinterpret_cast<void*>(r.begin), r.end - r.begin, PROT_READ) != 0)
      throw std::runtime_error("duel::sim: race detector: mprotect of a device buffer failed (vm.max_map_count?)");
  g_ranges = ranges_.data();
  g_nranges = ranges_.size();
  g_state = state_.data();
  g_twin = twin_;
  g_dirty = dirty_.data();
  g_ndirty = 0;
  g_owner = gettid();
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &g_prev);
  g_armed = 1;
  epoch_ = 0;
  block_starts_.clear();
  set_atomic_log(this);
}

void Races::end_launch() {
  if (!launch_active_) return;
  g_armed = 0;
  launch_active_ = false;
  set_atomic_log(nullptr);
  struct sigaction cur;
  sigaction(SIGSEGV, nullptr, &cur);
  if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_segv) sigaction(SIGSEGV, &g_prev, nullptr);
  for (const auto& r : ranges_) mprotect(reinterpret_cast<void*>(r.begin), r.end - r.begin, PROT_READ | PROT_WRITE);
  if (twin_) munmap(twin_, npages_ * g_page);
  if (shadow_) munmap(shadow_, npages_ * g_page * sizeof(Stamp));
  twin_ = nullptr;
  shadow_ = nullptr;
  g_ranges = nullptr;
  g_nranges = 0;
  g_ndirty = 0;
  ranges_.clear();
  regions_.clear();
  atomics_.clear();
}

void Races::begin_block(uint64_t block_lin, void* dynamic_shared, size_t dynamic_bytes) {
  block_epoch_ = ++epoch_;
  block_starts_.emplace_back(epoch_, block_lin);
  regions_.clear();
  shared_twin_.clear();
  shared_shadow_.clear();
  atomics_.clear();
  if (dynamic_bytes) add_region(static_cast<char*>(dynamic_shared), dynamic_bytes, nullptr);
}

void Races::end_block() {
  for (size_t k = 0; k < g_ndirty; ++k) {
    const size_t idx = dirty_[k];
    uintptr_t lo, hi;
    page_bytes(idx, &lo, &hi);
    mprotect(reinterpret_cast<void*>(lo & ~(g_page - 1)), g_page, PROT_READ);
    state_[idx] = kClean;
  }
  g_ndirty = 0;
}

void Races::barrier() { ++epoch_; }

void Races::add_region(char* p, size_t bytes, const std::string* name) {
  for (const Region& r : regions_)
    if (r.p == p) return;
  const size_t at = shared_twin_.size();
  shared_twin_.insert(shared_twin_.end(), p, p + bytes);
  shared_shadow_.resize(at + bytes, Stamp{0, 0, 0});
  regions_.push_back(Region{p, bytes, name, at});
}

void Races::add_static(void* p, size_t bytes, const std::string* name) {
  add_region(static_cast<char*>(p), bytes, name);
}

// The bytes of tracked page idx that belong to its buffer: [*lo, *hi).
void Races::page_bytes(size_t idx, uintptr_t* lo, uintptr_t* hi) const {
  // ranges_ is sorted by address and by first page index
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), idx,
                             [](size_t i, const TrackedPages& r) { return i < r.first; });
  --it;
  const uintptr_t page = it->begin + (idx - it->first) * g_page;
  *lo = std::max(page, it->lo);
  *hi = std::min(page + g_page, it->hi);
}

bool Races::end_segment(unsigned thread, uint16_t wsync, Conflict* c) {
  bool ok = true;
  for (const Region& r : regions_) {
    if (!scan(r.p, shared_twin_.data() + r.twin, shared_shadow_.data() + r.twin, r.bytes, thread, wsync, c)) {
      const size_t at = static_cast<size_t>(static_cast<const char*>(c->addr) - r.p);
      c->shared = true;
      c->region = r.name ? "static __shared__ variable '" + *r.name + "', byte " + std::to_string(at) + " of " +
                               std::to_string(r.bytes)
                         : "dynamic shared memory, byte " + std::to_string(at) + " of " + std::to_string(r.bytes);
      ok = false;
      break;
    }
  }
  if (ok) {
    for (size_t k = 0; k < g_ndirty; ++k) {
      const size_t idx = dirty_[k];
      uintptr_t lo, hi;
      page_bytes(idx, &lo, &hi);
      const size_t at = idx * g_page + (lo & (g_page - 1));
      if (!scan(reinterpret_cast<char*>(lo), twin_ + at, shadow_ + at, hi - lo, thread, wsync, c)) {
        c->shared = false;
        c->region = describe_device(c->addr);
        ok = false;
        break;
      }
    }
  }
  atomics_.clear();
  return ok;
}

// Compares `bytes` of live memory with its twin; every changed byte was changed by
// `thread` in the segment that just ended: checks it against the shadow and records it.
bool Races::scan(char* cur, char* twin, Stamp* shadow, size_t bytes, unsigned thread, uint16_t wsync, Conflict* c) {
  auto is_atomic = [&](uintptr_t a) {
    for (const auto& [p, n] : atomics_)
      if (a >= p && a < p + n) return true;
    return false;
  };
  auto check = [&](size_t i) -> bool {
    const bool atomic = !atomics_.empty() && is_atomic(reinterpret_cast<uintptr_t>(cur + i));
    const Stamp now{epoch_, static_cast<uint16_t>(thread),
                    static_cast<uint16_t>((atomic ? kAtomic : 0) | (wsync & kSyncMask))};
    const Stamp old = shadow[i];
    if (old.epoch != 0) {
      const bool this_block = old.epoch >= block_epoch_;
      bool conflict;
      if (this_block && old.thread == thread) conflict = false;
      else if ((old.bits & kAtomic) && atomic) conflict = false;
      else if (!this_block) conflict = true;  // another block of this launch
      else if (old.epoch != epoch_) conflict = false;  // a __syncthreads() in between
      else if (old.thread / 32 == thread / 32 && (old.bits & kSyncMask) != (wsync & kSyncMask))
        conflict = false;  // a __syncwarp() of their warp in between
      else conflict = true;
      if (conflict) {
        c->addr = cur + i;
        c->thread = thread;
        c->other_thread = old.thread;
        c->other_block = !this_block;
        if (!this_block) {
          auto it =
              std::upper_bound(block_starts_.begin(), block_starts_.end(), std::make_pair(old.epoch, ~uint64_t{0}));
          c->other_block_lin = it == block_starts_.begin() ? 0 : std::prev(it)->second;
        }
        c->atomic = atomic;
        c->other_atomic = (old.bits & kAtomic) != 0;
        return false;
      }
    }
    shadow[i] = now;
    twin[i] = cur[i];
    ++checked_;
    return true;
  };
  // One pass over 64-byte blocks: a bit mask of the bytes that differ, then those bytes.
  size_t i = 0;
  for (; i + 64 <= bytes; i += 64) {
    const uint64_t diff = diff_mask64(cur + i, twin + i);
    if (diff == 0) continue;
    for (uint64_t m = diff; m; m &= m - 1)
      if (!check(i + static_cast<size_t>(__builtin_ctzll(m)))) return false;
  }
  for (; i < bytes; ++i)
    if (cur[i] != twin[i] && !check(i)) return false;
  return true;
}

std::string Races::describe_device(const void* p) const {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  for (const Buffer& b : buffers_)
    if (a >= b.user && a < b.user + b.bytes)
      return "device buffer " + hexptr(reinterpret_cast<void*>(b.user)) + " (" + std::to_string(b.bytes) +
             " bytes), byte " + std::to_string(a - b.user);
  return "device memory at " + hexptr(p);
}

// =============================================================== static __shared__ ====
namespace {

struct TlsSym {
  std::string name;
  uint64_t value, size;
  int file;  // index of the STT_FILE entry before a local symbol; -1 for global ones
};
struct ModuleSyms {
  bool ok = false;
  std::string why;
  std::vector<TlsSym> syms;  // STT_TLS symbols named _ZZ... (function-local statics)
};

bool read_at(int fd, void* dst, size_t n, uint64_t off) {
  char* p = static_cast<char*>(dst);
  while (n) {
    const ssize_t r = pread(fd, p, n, static_cast<off_t>(off));
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return true;
}

ModuleSyms load_syms(const std::string& path) {
  ModuleSyms m;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    m.why = "cannot open " + path;
    return m;
  }
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  Elf64_Ehdr eh;
  if (!read_at(fd, &eh, sizeof eh, 0) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr)) {
    m.why = path + " is not a 64-bit ELF file";
    return m;
  }
  std::vector<Elf64_Shdr> sh(eh.e_shnum);
  if (!read_at(fd, sh.data(), sh.size() * sizeof(Elf64_Shdr), eh.e_shoff)) {
    m.why = "cannot read the section headers of " + path;
    return m;
  }
  const Elf64_Shdr* symtab = nullptr;
  for (const auto& s : sh)
    if (s.sh_type == SHT_SYMTAB) symtab = &s;
  if (!symtab || symtab->sh_link >= sh.size()) {
    m.why = path + " has no symbol table (stripped?)";
    return m;
  }
  const Elf64_Shdr& strtab = sh[symtab->sh_link];
  std::vector<char> strs(strtab.sh_size + 1, '\0');
  std::vector<Elf64_Sym> syms(symtab->sh_size / sizeof(Elf64_Sym));
  if (!read_at(fd, strs.data(), strtab.sh_size, strtab.sh_offset) ||
      !read_at(fd, syms.data(), syms.size() * sizeof(Elf64_Sym), symtab->sh_offset)) {
    m.why = "cannot read the symbol table of " + path;
    return m;
  }
  int file = -1;
  for (size_t k = 0; k < syms.size(); ++k) {
    const Elf64_Sym& s = syms[k];
    const int type = ELF64_ST_TYPE(s.st_info);
    if (type == STT_FILE) {
      file = static_cast<int>(k);
      continue;
    }
    if (type != STT_TLS || s.st_name >= strtab.sh_size) continue;
    const char* name = strs.data() + s.st_name;
    if (std::strncmp(name, "_ZZ", 3) != 0) continue;
    m.syms.push_back(TlsSym{name, s.st_value, s.st_size, ELF64_ST_BIND(s.st_info) == STB_LOCAL ? file : -1});
  }
  m.ok = true;
  return m;
}

std::string demangle(const std::string& mangled) {
  int status = 0;
  char* d = abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status);
  if (status != 0 || !d) return mangled;
  std::string r = d;
  std::free(d);
  return r;
}

constexpr const char* kSiteName = "duel_sim_shared_site_";

// "_ZZ<F>E<len><id>[discriminator]": F, or "" if the name has no such form.
std::string enclosing_function(const std::string& name, size_t id_pos) {
  size_t k = id_pos;
  while (k > 3 && name[k - 1] >= '0' && name[k - 1] <= '9') --k;
  if (k == id_pos || k <= 3 || name[k - 1] != 'E') return std::string();
  return name.substr(3, k - 1 - 3);
}

struct ModuleTls {
  std::string path;
  const char* tls = nullptr;
  size_t memsz = 0;
  const void* site = nullptr;
};

std::mutex g_sites_mutex;
std::map<std::string, std::unique_ptr<ModuleSyms>> g_modules;                         // by path
std::map<std::tuple<std::string, uint64_t>, const FunctionShared*> g_site_cache;       // (module, site offset)
std::map<std::tuple<std::string, std::string, int>, std::unique_ptr<FunctionShared>> g_functions;  // (module, F, file)
bool g_warned = false;

}  // namespace

const FunctionShared* resolve_site(const void* site) {
  ModuleTls mt;
  mt.site = site;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) -> int {
        auto* m = static_cast<ModuleTls*>(data);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const auto& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_TLS || !info->dlpi_tls_data) continue;
          const char* tls = static_cast<const char*>(info->dlpi_tls_data);
          const char* s = static_cast<const char*>(m->site);
          if (s >= tls && s < tls + ph.p_memsz) {
            m->tls = tls;
            m->memsz = ph.p_memsz;
            m->path = (info->dlpi_name && info->dlpi_name[0]) ? info->dlpi_name : "/proc/self/exe";
            return 1;
          }
        }
        return 0;
      },
      &mt);
  std::lock_guard<std::mutex> lk(g_sites_mutex);
  auto warn = [&](const std::string& why) -> const FunctionShared* {
    if (!g_warned) {
      g_warned = true;
      std::fprintf(stderr,
                   "duel::sim: warning: static __shared__ variables cannot be located (%s); they are not poisoned "
                   "or race-checked\n",
                   why.c_str());
    }
    return nullptr;
  };
  if (!mt.tls) return warn("no module's TLS block holds a __shared__ site marker");
  const uint64_t site_off = static_cast<uint64_t>(static_cast<const char*>(site) - mt.tls);
  const auto key = std::make_tuple(mt.path, site_off);
  if (auto it = g_site_cache.find(key); it != g_site_cache.end()) return it->second;
  auto& mod = g_modules[mt.path];
  if (!mod) mod = std::make_unique<ModuleSyms>(load_syms(mt.path));
  if (!mod->ok) return warn(mod->why);
  const TlsSym* me = nullptr;
  for (const TlsSym& s : mod->syms)
    if (s.value == site_off && s.name.find(kSiteName) != std::string::npos) me = &s;
  if (!me) return warn("the symbol table of " + mt.path + " has no __shared__ site marker at TLS offset " +
                       std::to_string(site_off));
  const std::string fn = enclosing_function(me->name, me->name.find(kSiteName));
  if (fn.empty()) return warn("cannot parse the site marker symbol " + me->name);
  auto& fs = g_functions[std::make_tuple(mt.path, fn, me->file)];
  if (!fs) {
    fs = std::make_unique<FunctionShared>();
    const std::string prefix = "_ZZ" + fn + "E";
    for (const TlsSym& s : mod->syms) {
      if (s.file != me->file || s.name.compare(0, prefix.size(), prefix) != 0) continue;
      if (s.name.size() <= prefix.size() || s.name[prefix.size()] < '0' || s.name[prefix.size()] > '9') continue;
      if (s.name.find(kSiteName) != std::string::npos || s.size == 0) continue;
      fs->vars.push_back(SharedVar{static_cast<ptrdiff_t>(s.value) - static_cast<ptrdiff_t>(site_off), s.size,
                                   demangle(s.name)});
    }
  }
  g_site_cache[key] = fs.get();
  return fs.get();
}

}  // namespace duel::sim::detail::checks

namespace duel::sim::detail {
void log_atomic(const void* address, size_t bytes) {
  if (checks::tl_races) checks::tl_races->atomic(address, bytes);
}
}  // namespace duel::sim::detail
