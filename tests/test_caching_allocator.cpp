// The generic caching allocator (kernels/caching_allocator.h), driven by a fake raw backend
// that records every raw allocation: size classes, reuse, per-stream free lists,
// empty_cache, statistics, out-of-memory retry, and that no block is ever handed out twice.
// Then the same allocator in front of the `sim` tensor device (opt-in there), which is how
// the `cuda` device uses it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "duel.h"
#include "kernels/caching_allocator.h"
#include "kernels/cuda/stream.h"
#include "kernels/sim/runtime.h"

namespace duel::test {
namespace {

// Raw backend over malloc with a byte budget (to provoke out-of-memory) and a record of the
// live raw blocks.
struct FakeRaw final : RawDeviceMemory {
  size_t capacity = SIZE_MAX;
  size_t live_bytes = 0;
  std::map<void*, size_t> live;
  int allocs = 0, frees = 0;
  void* raw_allocate(size_t n) override {
    if (live_bytes + n > capacity) return nullptr;
    void* p = std::malloc(n);
    live[p] = n;
    live_bytes += n;
    ++allocs;
    return p;
  }
  void raw_free(void* p, size_t n) noexcept override {
    auto it = live.find(p);
    if (it == live.end() || it->second != n) std::abort();  // the allocator freed something it does not own
    live.erase(it);
    live_bytes -= n;
    std::free(p);
    ++frees;
  }
  ~FakeRaw() override {
    for (auto& [p, n] : live) std::free(p);
  }
};

const void* stream_key(uintptr_t id) { return reinterpret_cast<const void*>(id); }

}  // namespace

TEST_CASE("caching allocator: size classes", "[allocator]") {
  using CA = CachingAllocator;
  CHECK(CA::round_size(0) == 0);
  CHECK(CA::round_size(1) == 512);
  CHECK(CA::round_size(512) == 512);
  CHECK(CA::round_size(513) == 1024);
  CHECK(CA::round_size(1000) == 1024);
  CHECK(CA::round_size((1 << 20) - 1) == (1 << 20));
  CHECK(CA::round_size(1 << 20) == (1 << 20));           // the largest small class
  CHECK(CA::round_size((1 << 20) + 1) == (2 << 20));     // large: multiples of 2 MiB
  CHECK(CA::round_size(3 << 20) == (4 << 20));
  CHECK(CA::round_size(4 << 20) == (4 << 20));
  CHECK(CA::round_size((4 << 20) + 1) == (6 << 20));

  FakeRaw raw;
  CachingAllocator a(raw, "fake");
  void* p = a.allocate(1000);
  REQUIRE(raw.live.size() == 1);
  CHECK(raw.live.begin()->second == 1024);  // the backend is asked for the class size
  CHECK(a.stats().bytes_in_use == 1024);
  CHECK(a.stats().bytes_requested == 1000);
  a.deallocate(p);
  CHECK(a.allocate(0) == nullptr);
  a.deallocate(nullptr);  // ignored
}

TEST_CASE("caching allocator: freed blocks are reused for the same class", "[allocator]") {
  FakeRaw raw;
  CachingAllocator a(raw, "fake");
  void* p = a.allocate(1000);
  a.deallocate(p);
  CHECK(a.stats().bytes_cached == 1024);
  CHECK(a.stats().blocks_cached == 1);
  void* q = a.allocate(700);  // same class (1024): the cached block
  CHECK(q == p);
  CHECK(raw.allocs == 1);
  CHECK(a.stats().cache_hits == 1);
  CHECK(a.stats().bytes_cached == 0);
  void* r = a.allocate(1500);  // another class: a fresh raw block
  CHECK(r != q);
  CHECK(raw.allocs == 2);
  a.deallocate(q);
  a.deallocate(r);
  // A training loop: the same sizes every step allocate nothing new after the first step.
  for (int step = 0; step < 10; ++step) {
    std::vector<void*> ps;
    for (size_t n : {size_t{100}, size_t{4000}, size_t{4000}, size_t{70000}, size_t{3} << 20}) ps.push_back(a.allocate(n));
    for (void* x : ps) a.deallocate(x);
  }
  const auto st = a.stats();
  CHECK(st.raw_allocations == 2 + 5);  // the 2 blocks above, then 5 new classes in the first step only
  CHECK(st.allocations == 3 + 50);
  CHECK(st.cache_hits == st.allocations - st.raw_allocations);
  CHECK(st.bytes_in_use == 0);
  CHECK(st.blocks_in_use == 0);
}

TEST_CASE("caching allocator: empty_cache releases every cached block, not the ones in use", "[allocator]") {
  FakeRaw raw;
  CachingAllocator a(raw, "fake");
  void* keep = a.allocate(5 << 20);
  std::vector<void*> ps;
  for (int i = 0; i < 6; ++i) ps.push_back(a.allocate(512 * (i + 1)));
  for (void* p : ps) a.deallocate(p);
  CHECK(raw.live.size() == 7);
  CHECK(a.stats().blocks_cached == 6);
  a.empty_cache();
  CHECK(raw.live.size() == 1);  // only the block in use is left
  CHECK(raw.live.count(keep) == 1);
  CHECK(raw.frees == 6);
  CHECK(a.stats().bytes_cached == 0);
  CHECK(a.stats().blocks_cached == 0);
  CHECK(a.stats().bytes_in_use == (6 << 20));
  a.deallocate(keep);
  a.empty_cache();
  CHECK(raw.live.empty());
  CHECK(a.stats().raw_frees == 7);
}

TEST_CASE("caching allocator: a cap on the cached bytes frees what does not fit", "[allocator]") {
  FakeRaw raw;
  CachingAllocator a(raw, "fake");
  a.set_max_cached_bytes(size_t{5} << 20);  // room for two 2 MiB blocks, not three
  std::vector<void*> ps;
  for (int i = 0; i < 3; ++i) ps.push_back(a.allocate(size_t{2} << 20));
  for (void* p : ps) a.deallocate(p);
  CHECK(a.stats().blocks_cached == 2);
  CHECK(a.stats().bytes_cached == (size_t{4} << 20));
  CHECK(raw.frees == 1);  // the third went back to the backend at once
  CHECK(raw.live.size() == 2);
  a.set_max_cached_bytes(size_t{1} << 20);  // lowering the cap below what is cached releases it
  CHECK(a.stats().blocks_cached == 0);
  CHECK(raw.live.empty());
  a.set_max_cached_bytes(0);  // 0: nothing is kept
  a.deallocate(a.allocate(100));
  CHECK(a.stats().blocks_cached == 0);
  CHECK(raw.live.empty());
  CHECK(a.max_cached_bytes() == 0);
}

// The CPU device keeps large freed blocks (tensor/storage.cpp), so that a large output
// allocated every step is not faulted in again every step.
TEST_CASE("cpu allocator: DUEL_CPU_CACHE_MB takes whole MiB from 0 and names a bad value", "[allocator]") {
  CHECK(parse_cpu_cache_mb("0") == 0);
  CHECK(parse_cpu_cache_mb("1024") == (size_t{1024} << 20));
  for (const char* bad : {"", "-1", "12x", "1.5", "lots", "99999999999"}) {
    INFO(bad);
    CHECK_THROWS_WITH(parse_cpu_cache_mb(bad),
                      Catch::Contains("DUEL_CPU_CACHE_MB='" + std::string(bad) + "'") && Catch::Contains("from 0 to 2^30"));
  }
}

TEST_CASE("cpu allocator: large tensors reuse a cached block, small ones and a limit of 0 do not", "[allocator]") {
  const size_t saved = cpu_cache_limit();
  set_cpu_cache_limit(size_t{64} << 20);
  cpu_empty_cache();
  const int64_t big = (int64_t{6} << 20) / 4;  // 6 MiB of float32: above the 4 MiB threshold
  const void* first = nullptr;
  {
    Tensor a = full({big}, 3.0f);
    first = a.raw_data();
    CHECK(reinterpret_cast<uintptr_t>(first) % 64 == 0);
  }
  auto st = cpu_allocator_stats();
  CHECK(st.blocks_cached == 1);
  CHECK(st.bytes_cached == (size_t{6} << 20));
  {
    Tensor b = empty({big / 2, 2});  // same size, another shape: the same block
    CHECK(b.raw_data() == first);
    CHECK(cpu_allocator_stats().cache_hits == st.cache_hits + 1);
    // a reused block holds stale data, and an op must not depend on it
    Tensor c = zeros({big});
    Tensor d = c + 1.0f;
    CHECK(d.sum().item() == static_cast<double>(big));
  }
  {
    const auto before = cpu_allocator_stats().allocations;
    Tensor small = zeros({(int64_t{1} << 20) / 4});  // 1 MiB: from the heap, not the cache
    CHECK(cpu_allocator_stats().allocations == before);
  }
  set_cpu_cache_limit(0);
  CHECK(cpu_allocator_stats().blocks_cached == 0);
  { Tensor e = zeros({big}); }
  CHECK(cpu_allocator_stats().blocks_cached == 0);  // freed to the system at once
  CHECK(cpu_cache_limit() == 0);
  set_cpu_cache_limit(saved);
}

TEST_CASE("caching allocator: a block is never handed out twice", "[allocator]") {
  FakeRaw raw;
  CachingAllocator a(raw, "fake");
  std::mt19937 rng(12345);
  std::map<char*, size_t> live;  // block -> requested size, filled with a tag byte
  std::map<char*, unsigned char> tag;
  for (int it = 0; it < 3000; ++it) {
    const bool alloc = live.empty() || (rng() % 100) < 55;
    if (alloc) {
      const size_t sizes[] = {1, 100, 512, 513, 4096, 10000, (1 << 20) + 5};
      const size_t n = sizes[rng() % 7];
      char* p = static_cast<char*>(a.allocate(n, stream_key(rng() % 2)));
      REQUIRE(p != nullptr);
      // not overlapping any block still in use
      for (auto& [q, m] : live) REQUIRE((p + n <= q || q + m <= p));
      // the previous owner's data is intact: nobody else writes into a live block
      for (auto& [q, t] : tag) REQUIRE(static_cast<unsigned char>(q[0]) == t);
      const unsigned char t = static_cast<unsigned char>(rng());
      std::memset(p, t, n);
      live[p] = n;
      tag[p] = t;
    } else {
      auto itr = live.begin();
      std::advance(itr, rng() % live.size());
      a.deallocate(itr->first);
      tag.erase(itr->first);
      live.erase(itr);
    }
    if (it % 500 == 0) a.empty_cache();
  }
  const auto st = a.stats();
  CHECK(st.blocks_in_use == live.size());
  CHECK(st.cache_hits > 0);
  // double free and foreign pointers are refused, and do not corrupt the free lists
  void* p = a.allocate(64);
  a.deallocate(p);
  CHECK_THROWS_WITH(a.deallocate(p), Catch::Contains("fake: deallocate of pointer") &&
                                         Catch::Contains("double free"));
  int on_stack = 0;
  CHECK_THROWS_AS(a.deallocate(&on_stack), Error);
  void* q1 = a.allocate(64);
  void* q2 = a.allocate(64);
  CHECK(q1 != q2);
  a.deallocate(q1);
  a.deallocate(q2);
  for (auto& [q, m] : live) a.deallocate(q);
}

TEST_CASE("caching allocator: a freed block is reused only on its own stream", "[allocator]") {
  FakeRaw raw;
  CachingAllocator a(raw, "fake");
  void* p = a.allocate(2048, stream_key(1));
  CHECK(a.stream_of(p) == stream_key(1));
  a.deallocate(p);
  void* q = a.allocate(2048, stream_key(2));  // another stream: not the block freed on stream 1
  CHECK(q != p);
  CHECK(raw.allocs == 2);
  void* r = a.allocate(2048, stream_key(1));  // stream 1 gets it back
  CHECK(r == p);
  void* d = a.allocate(2048);  // the default stream is a stream of its own
  CHECK(d != p);
  CHECK(d != q);
  a.deallocate(q);
  a.deallocate(r);
  a.deallocate(d);
}

TEST_CASE("caching allocator: out of memory empties the cache and retries, then fails clearly", "[allocator]") {
  FakeRaw raw;
  raw.capacity = 4 << 20;
  CachingAllocator a(raw, "fake");
  void* big = a.allocate(2 << 20);
  a.deallocate(big);  // cached: 2 MiB held by the cache
  void* x = a.allocate(3 << 20);  // class 4 MiB: fails, cache emptied, retried
  CHECK(x != nullptr);
  CHECK(a.stats().oom_retries == 1);
  CHECK(a.stats().bytes_cached == 0);
  CHECK_THROWS_WITH(a.allocate(1000), Catch::Contains("fake: out of memory allocating 1000 bytes (size class 1024") &&
                                          Catch::Contains("4194304 bytes in use"));
  a.deallocate(x);
  CHECK(a.stats().peak_bytes_in_use == (4 << 20));
  a.reset_peak();
  CHECK(a.stats().peak_bytes_in_use == 0);
}

TEST_CASE("caching allocator on the sim device: off by default, tensors reuse blocks when on", "[allocator][sim]") {
  // default: guarded, uncached buffers (out-of-bounds accesses fault)
  REQUIRE_FALSE(sim::device_caching());
  const size_t live0 = sim::live_device_buffers();
  {
    Tensor t = zeros({100}, TensorOptions(kFloat32, Device("sim")));
    CHECK(sim::live_device_buffers() == live0 + 1);
  }
  CHECK(sim::live_device_buffers() == live0);

  struct CachingOn {  // restored even if a REQUIRE below fails
    CachingOn() { sim::set_device_caching(true); }
    ~CachingOn() {
      sim::set_device_caching(false);
      sim::empty_device_cache();
    }
  } caching_on;
  const auto s0 = sim::device_cache_stats();
  Tensor w = full({64, 32}, 0.5, TensorOptions(kFloat32, Device("sim")));
  Tensor x = full({8, 64}, 1.0, TensorOptions(kFloat32, Device("sim")));
  double first = 0;
  CachingAllocatorStats after_first;
  for (int step = 0; step < 6; ++step) {  // the same shapes every step
    Tensor y = relu(matmul(x, w)).sum();
    const double v = y.item();
    if (step == 0) first = v, after_first = sim::device_cache_stats();
    CHECK(v == first);
    CHECK(v == 8 * 32 * 32.0);
  }
  const auto s1 = sim::device_cache_stats();
  CHECK(s1.raw_allocations == after_first.raw_allocations);  // steps 2..6 allocate nothing new
  CHECK(s1.cache_hits - after_first.cache_hits >= 5 * 2);    // ... they are served from the cache
  CHECK(after_first.raw_allocations > s0.raw_allocations);
  CHECK(sim::live_device_buffers() > live0);  // the cache holds the blocks

  // Streams: a block freed under one stream is not handed to another one.
  const sim::Stream a = sim::Stream::create(), b = sim::Stream::create();
  {
    sim::StreamGuard g(a);
    Tensor t = zeros({1000}, TensorOptions(kFloat64, Device("sim")));
  }
  const auto before = sim::device_cache_stats();
  {
    sim::StreamGuard g(b);
    Tensor t = zeros({1000}, TensorOptions(kFloat64, Device("sim")));
    CHECK(sim::device_cache_stats().raw_allocations == before.raw_allocations + 1);
  }
  {
    sim::StreamGuard g(a);
    Tensor t = zeros({1000}, TensorOptions(kFloat64, Device("sim")));
    CHECK(sim::device_cache_stats().raw_allocations == before.raw_allocations + 1);  // reused
  }

  w = Tensor();
  x = Tensor();
  sim::set_device_caching(false);
  sim::empty_device_cache();
  CHECK(sim::live_device_buffers() == live0);
  CHECK(sim::device_cache_stats().bytes_in_use == 0);
}

}  // namespace duel::test
