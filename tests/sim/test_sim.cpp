// Tests of the SIMT emulator (kernels/sim): real CUDA kernels from
// tests/sim/kernels_for_tests.cuh run on the CPU and are checked against CPU loops, plus
// tests that the emulator catches what a GPU would reject or leave undefined.
#include <catch2/catch.hpp>

// The emulator runtime (kernels/sim/sim.cpp, linked with Boost.Context) is part of libduel
// when the build defines DUEL_WITH_SIM; without it this file compiles to nothing (so that
// globbing tests/*/*.cpp never breaks the link), and says so.
#if !defined(DUEL_WITH_SIM)
#warning "tests/sim/test_sim.cpp: DUEL_WITH_SIM is not defined, so the SIMT emulator tests are not built"
#else

#ifndef DUEL_SIM
#define DUEL_SIM 1
#endif
#include "tests/sim/kernels_for_tests.cuh"
#include "tests/sim/dev_buf.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace sim = duel::sim;

namespace {

template <class T>
using DevBuf = sim::testing::DevBuf<T>;

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// Options for a test, restored afterwards.
sim::Options opts(uint64_t seed = 0, bool poison = false, int workers = 0) {
  sim::Options o;
  o.schedule_seed = seed;
  o.poison = poison;
  o.worker_threads = workers;
  return o;
}

// Runs f in a forked child (after making SIGSEGV/SIGBUS fatal with no core dump); returns
// the child's wait status.
template <class F>
int in_child(F f) {
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    struct rlimit no_core {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    signal(SIGABRT, SIG_DFL);
    f();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

std::vector<float> block_sums_reference(const std::vector<float>& x, size_t block) {
  std::vector<float> r((x.size() + block - 1) / block, 0.0f);
  for (size_t i = 0; i < x.size(); ++i) r[i / block] += x[i];
  return r;
}

}  // namespace

TEST_CASE("sim: vector add with a grid-stride loop", "[sim]") {
  sim::ScopedOptions so(opts());
  const int n = 10007;
  auto a = random_floats(n, 1), b = random_floats(n, 2);
  DevBuf<float> da(a), db(b), dc(n);
  for (auto [grid, block] : {std::pair{1, 32}, std::pair{7, 100}, std::pair{40, 256}, std::pair{1000, 1024}}) {
    dc.zero();
    simtest::launch_vec_add(da.p, db.p, dc.p, n, grid, block);
    auto c = dc.download();
    for (int i = 0; i < n; ++i) REQUIRE(c[i] == a[i] + b[i]);
  }
}

TEST_CASE("sim: blocks without barriers take the plain fast path and 1e6 threads are quick", "[sim]") {
  sim::ScopedOptions so(opts());
  const int n = 1 << 20;
  auto x = random_floats(n, 3), y = random_floats(n, 4);
  DevBuf<float> dx(x), dy(y);
  sim::reset_stats();
  auto t0 = std::chrono::steady_clock::now();
  simtest::launch_axpy(2.0f, dx.p, dy.p, n);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto st = sim::stats();
  auto out = dy.download();
  for (int i = 0; i < n; ++i) REQUIRE(out[i] == 2.0f * x[i] + y[i]);
  CHECK(st.kernels_launched == 1);
  CHECK(st.blocks == static_cast<uint64_t>(n / 256));
  CHECK(st.threads == static_cast<uint64_t>(n));
  CHECK(st.plain_blocks == st.blocks);
  CHECK(st.fiber_blocks == 0);
  WARN("axpy over 2^20 elements: " << secs * 1e3 << " ms");
#ifdef __OPTIMIZE__
  REQUIRE(secs < 1.0);  // about 15-25 ms at -O3
#else
  REQUIRE(secs < 10.0);  // -O0: about 0.5 s
#endif
}

TEST_CASE("sim: block reduction through a shared-memory tree (template kernel)", "[sim]") {
  for (uint64_t seed : {0ull, 1ull, 7ull}) {
    sim::ScopedOptions so(opts(seed, true));
    const int n = 256 * 13 + 77;
    auto x = random_floats(n, 5);
    DevBuf<float> dx(x), dout((n + 255) / 256);
    sim::reset_stats();
    simtest::launch_block_sum_tree256(dx.p, dout.p, n);
    auto got = dout.download();
    auto want = block_sums_reference(x, 256);
    for (size_t b = 0; b < want.size(); ++b) REQUIRE(got[b] == Approx(want[b]).margin(1e-4));
    auto st = sim::stats();
    CHECK(st.fiber_blocks == want.size());
    CHECK(st.barriers == want.size() * 9);  // 1 + log2(256)
  }
}

TEST_CASE("sim: warp-shuffle block reduction", "[sim]") {
  for (int block : {32, 64, 256, 1024}) {
    sim::ScopedOptions so(opts(block == 256 ? 3 : 0));
    const int n = 5000;
    auto x = random_floats(n, 6);
    DevBuf<float> dx(x), dout((n + block - 1) / block);
    simtest::launch_block_sum_shfl(dx.p, dout.p, n, block);
    auto got = dout.download();
    auto want = block_sums_reference(x, block);
    for (size_t b = 0; b < want.size(); ++b) REQUIRE(got[b] == Approx(want[b]).margin(1e-4));
  }
}

TEST_CASE("sim: dynamic shared memory", "[sim]") {
  sim::ScopedOptions so(opts(11, true));
  const int block = 128, n = block * 9;
  std::vector<int> in(n);
  std::iota(in.begin(), in.end(), 0);
  DevBuf<int> din(in), dout(n);
  simtest::launch_reverse_chunks(din.p, dout.p, n, block);
  auto out = dout.download();
  for (int i = 0; i < n; ++i) REQUIRE(out[i] == (i / block) * block + (block - 1 - i % block));

  // The correct dynamic-shared reduction is right for every seed, with poison on.
  auto x = random_floats(1000, 8);
  auto want = block_sums_reference(x, 64);
  DevBuf<float> dx(x), dsum(want.size());
  for (uint64_t seed : {0ull, 1ull, 2ull, 3ull}) {
    sim::ScopedOptions so2(opts(seed, true));
    simtest::launch_block_sum_dynamic(dx.p, dsum.p, 1000, 64, true);
    auto got = dsum.download();
    for (size_t b = 0; b < want.size(); ++b) REQUIRE(got[b] == Approx(want[b]).margin(1e-4));
  }
}

TEST_CASE("sim: histogram with shared and global atomicAdd across blocks", "[sim]") {
  sim::ScopedOptions so(opts(0, false, 2));  // blocks run on two OS threads
  const int n = 50000;
  std::mt19937 g(9);
  std::vector<int> in(n);
  for (auto& v : in) v = static_cast<int>(g() % 1000);
  std::vector<unsigned> want(simtest::kBins, 0);
  for (int v : in) ++want[v % simtest::kBins];
  DevBuf<int> din(in);
  DevBuf<unsigned> dh(simtest::kBins);
  for (int rep = 0; rep < 3; ++rep) {
    dh.zero();
    simtest::launch_histogram(din.p, dh.p, n);
    REQUIRE(dh.download() == want);
  }

  // float / double / 64-bit / max atomics on one address from every thread of 40 blocks.
  const int m = 5000;
  std::vector<float> vals(m);
  for (int i = 0; i < m; ++i) vals[i] = static_cast<float>(i % 100);
  DevBuf<float> dv(vals), fsum(1);
  DevBuf<double> dsum(1);
  DevBuf<unsigned long long> count(1);
  DevBuf<int> imax(1);
  fsum.zero();
  dsum.zero();
  count.zero();
  imax.zero();
  simtest::launch_atomic_sums(dv.p, fsum.p, dsum.p, count.p, imax.p, m);
  const double expect = 50.0 * 99.0 * 50.0;  // 50 rounds of 0..99
  REQUIRE(dsum.download()[0] == expect);
  REQUIRE(fsum.download()[0] == Approx(expect));
  REQUIRE(count.download()[0] == static_cast<unsigned long long>(m));
  REQUIRE(imax.download()[0] == 99);
}

TEST_CASE("sim: ballot / any / all votes", "[sim]") {
  sim::ScopedOptions so(opts(5));
  const int block = 128, n = block * 4, warps = n / 32;
  std::vector<int> in(n, 0);
  std::mt19937 g(10);
  for (int w = 0; w < warps; ++w)
    for (int l = 0; l < 32; ++l) {
      int i = w * 32 + l;
      in[i] = (w % 4 == 0) ? 0 : (w % 4 == 1) ? 1 : static_cast<int>(g() % 3) - 1;  // all no / all yes / mixed
    }
  DevBuf<int> din(in), anys(warps), alls(warps);
  DevBuf<unsigned> ballots(warps);
  simtest::launch_votes(din.p, ballots.p, anys.p, alls.p, n, block);
  auto b = ballots.download();
  auto an = anys.download(), al = alls.download();
  for (int w = 0; w < warps; ++w) {
    unsigned want = 0;
    for (int l = 0; l < 32; ++l)
      if (in[w * 32 + l] > 0) want |= 1u << l;
    REQUIRE(b[w] == want);
    REQUIRE(an[w] == (want != 0 ? 1 : 0));
    REQUIRE(al[w] == (want == 0xffffffffu ? 1 : 0));
  }
}

TEST_CASE("sim: back-to-back shuffles see each step's values", "[sim]") {
  for (uint64_t seed : {0ull, 1ull, 2ull, 3ull, 4ull}) {
    sim::ScopedOptions so(opts(seed));
    DevBuf<int> dout(5 * 32);
    simtest::launch_shuffle_chain(dout.p);
    auto out = dout.download();
    int v[32], a[32], b[32], c[32], d[32], e[32];
    for (int l = 0; l < 32; ++l) v[l] = l * 10;
    for (int l = 0; l < 32; ++l) a[l] = v[l ^ 1];
    for (int l = 0; l < 32; ++l) b[l] = l + 2 < 32 ? a[l + 2] : a[l];
    for (int l = 0; l < 32; ++l) c[l] = l >= 3 ? b[l - 3] : b[l];
    for (int l = 0; l < 32; ++l) d[l] = c[31 - l];
    for (int l = 0; l < 32; ++l) {
      int src = l ^ 5, end = (l & ~7) + 8;
      e[l] = src < end ? d[src] : d[l];
    }
    for (int l = 0; l < 32; ++l) {
      INFO("seed " << seed << " lane " << l);
      REQUIRE(out[l] == a[l]);
      REQUIRE(out[32 + l] == b[l]);
      REQUIRE(out[64 + l] == c[l]);
      REQUIRE(out[96 + l] == d[l]);
      REQUIRE(out[128 + l] == e[l]);
    }
  }
}

TEST_CASE("sim: partial warps behave like CUDA for the lanes that exist", "[sim]") {
  for (int block : {48, 20, 100}) {
    for (bool poison : {false, true}) {
      sim::ScopedOptions so(opts(poison ? 9 : 0, poison));
      DevBuf<unsigned> ballots(block);
      DevBuf<int> bcast(block), sums(block);
      simtest::launch_partial_warp(ballots.p, bcast.p, sums.p, block);
      auto b = ballots.download();
      auto bc = bcast.download(), s = sums.download();
      for (int t = 0; t < block; ++t) {
        INFO("block " << block << " thread " << t);
        const int base = t - t % 32, lanes = std::min(32, block - base);
        const unsigned want_ballot = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
        int want_sum = 0;
        for (int k = base; k < base + lanes; ++k) want_sum += k + 1;
        REQUIRE(b[t] == want_ballot);
        REQUIRE(bc[t] == base * 3);
        REQUIRE(s[t] == want_sum);
      }
    }
  }
}

TEST_CASE("sim: 2-D blocks and grids (tiled transpose)", "[sim]") {
  sim::ScopedOptions so(opts(21, true));
  const int rows = 70, cols = 45;
  auto x = random_floats(rows * cols, 12);
  DevBuf<float> din(x), dout(rows * cols);
  simtest::launch_transpose(din.p, dout.p, rows, cols);
  auto out = dout.download();
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) REQUIRE(out[c * rows + r] == x[r * cols + c]);
}

TEST_CASE("sim: __syncthreads_count / _and / _or", "[sim]") {
  sim::ScopedOptions so(opts(2));
  const int block = 96;
  std::vector<int> in(block, 0);
  for (int i = 0; i < block; i += 3) in[i] = 1;
  DevBuf<int> din(in), count(1), all(1), any(1);
  simtest::launch_barrier_count(din.p, count.p, all.p, any.p, block);
  REQUIRE(count.download()[0] == 32);
  REQUIRE(all.download()[0] == 0);
  REQUIRE(any.download()[0] == 1);
}

TEST_CASE("sim: math intrinsics and integer atomics", "[sim]") {
  sim::ScopedOptions so(opts());
  const int block = 64;
  auto x = random_floats(block, 16, -3.0f, 3.0f);
  x[0] = 0.625f;  // 2.5 after * 4: round half to even -> 2
  x[1] = 0.875f;  // 3.5 -> 4
  DevBuf<float> dx(x), f(8 * block);
  DevBuf<int> i(4 * block);
  DevBuf<unsigned> a(8);
  std::vector<unsigned> a0 = {0, 1000, 0, 0, 1000, 0, 0, 0xffffffffu};
  a.upload(a0);
  simtest::launch_intrinsics(dx.p, f.p, i.p, a.p, block);
  auto fo = f.download();
  auto io = i.download();
  for (int t = 0; t < block; ++t) {
    const float v = x[t];
    INFO("thread " << t << " x " << v);
    CHECK(fo[8 * t + 0] == Approx(std::exp(v)).epsilon(1e-5));
    CHECK(fo[8 * t + 1] == Approx(std::log(std::fabs(v) + 1.0f)).epsilon(1e-5));
    CHECK(fo[8 * t + 2] == Approx(1.0 / std::sqrt(std::fabs(v) + 1.0)).epsilon(1e-5));
    CHECK(fo[8 * t + 3] == Approx(v / 3.0f).epsilon(1e-6));
    CHECK(fo[8 * t + 4] == std::fmax(v, 0.25f) + std::fmin(v, -0.25f));
    CHECK(fo[8 * t + 5] == Approx(std::pow(std::fabs(v) + 1.0, 1.5) + std::clamp(v, 0.0f, 1.0f)).epsilon(1e-5));
    CHECK(fo[8 * t + 6] == Approx(1.0f).epsilon(1e-6));
    CHECK(fo[8 * t + 7] == v);
    CHECK(io[4 * t + 0] == static_cast<int>(std::nearbyint(v * 4.0f)));
    CHECK(io[4 * t + 1] == __builtin_popcount(t) + (t == 0 ? 32 : __builtin_clz(t)) * 100);
    unsigned rev = 0;
    for (int b = 0; b < 32; ++b)
      if (t >> b & 1) rev |= 1u << (31 - b);
    CHECK(io[4 * t + 2] == static_cast<int>(rev >> 22));
    CHECK(io[4 * t + 3] == std::max(t - 7, 0) + std::min(t, 3));
  }
  CHECK(io[0] == 2);
  CHECK(io[4] == 4);
  auto ao = a.download();
  CHECK(ao[0] == static_cast<unsigned>(block % 10));
  CHECK(ao[1] == 1000u - 2u * block);
  CHECK(ao[2] == 0xffffffffu);
  CHECK(ao[3] == 0u);  // xor of 0..63
  CHECK(ao[4] == 5u);
  CHECK(ao[5] == 77u);
  CHECK(ao[6] <= static_cast<unsigned>(block));
  CHECK(ao[7] == 0u);
}

TEST_CASE("sim: a missing __syncthreads is caught by shuffled scheduling + poison", "[sim]") {
  const int n = 4096, block = 256;
  auto x = random_floats(n, 13, 0.5f, 1.5f);
  auto want = block_sums_reference(x, block);
  DevBuf<float> dx(x), dout(want.size());
  auto all_right = [&] {
    auto got = dout.download();
    for (size_t b = 0; b < want.size(); ++b)
      if (!(std::fabs(got[b] - want[b]) <= 1e-3f * std::fabs(want[b]))) return false;
    return true;
  };
  int wrong_seeds = 0;
  for (uint64_t seed : {1ull, 2ull, 3ull, 4ull}) {
    sim::ScopedOptions so(opts(seed, true));
    simtest::launch_block_sum_dynamic(dx.p, dout.p, n, block, /*with_sync=*/true);
    INFO("correct kernel, seed " << seed);
    REQUIRE(all_right());
    simtest::launch_block_sum_dynamic(dx.p, dout.p, n, block, /*with_sync=*/false);
    if (!all_right()) ++wrong_seeds;
  }
  REQUIRE(wrong_seeds >= 1);
}

TEST_CASE("sim: a race that in-order execution hides shows up with a shuffled schedule", "[sim]") {
  const int block = 128, n = block * 8;
  auto x = random_floats(n, 15, 1.0f, 2.0f);
  DevBuf<float> dx(x), dout(n);
  auto right = [&] {
    auto got = dout.download();
    for (int i = 0; i < n; ++i)
      if (got[i] != (i % block ? x[i - 1] : 0.0f)) return false;
    return true;
  };
  {
    sim::ScopedOptions so(opts(0, true));  // index order: thread t-1 always ran before t
    simtest::launch_shift_right(dx.p, dout.p, n, block, false);
    REQUIRE(right());
  }
  int wrong_seeds = 0;
  for (uint64_t seed : {1ull, 2ull, 3ull}) {
    sim::ScopedOptions so(opts(seed, true));
    simtest::launch_shift_right(dx.p, dout.p, n, block, true);
    REQUIRE(right());
    simtest::launch_shift_right(dx.p, dout.p, n, block, false);
    if (!right()) ++wrong_seeds;
  }
  REQUIRE(wrong_seeds == 3);
}

TEST_CASE("sim: an out-of-bounds write into a device buffer faults", "[sim]") {
  const int n = 1024;  // n * sizeof(float) is a multiple of the 16-byte device alignment
  // In bounds: fine.
  {
    sim::ScopedOptions so(opts());
    DevBuf<float> ok(n + 1);
    simtest::launch_write_one_past_end(ok.p, n);
    REQUIRE(ok.download()[n] == 1.0f);
  }
  int status = in_child([&] {
    sim::set_worker_threads(1);
    float* p = sim::device_alloc<float>(n);
    simtest::launch_write_one_past_end(p, n);  // writes p[n]
    _exit(3);                                  // not reached if the guard page works
  });
  INFO("child status " << status);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE((WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS));

  // With device_alignment 1 even a byte past an odd-sized buffer faults.
  status = in_child([] {
    sim::Options o = sim::options();
    o.device_alignment = 1;
    sim::set_options(o);
    auto* p = static_cast<volatile unsigned char*>(sim::device_malloc(13));
    p[12] = 1;
    p[13] = 1;
    _exit(3);
  });
  REQUIRE(WIFSIGNALED(status));
  REQUIRE((WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS));
}

TEST_CASE("sim: device memory API", "[sim]") {
  size_t live = sim::live_device_buffers();
  {
    sim::ScopedOptions so(opts(0, true));
    DevBuf<float> d(100);
    auto h = d.download();
    for (float v : h) REQUIRE(std::isnan(v));  // poisoned
    REQUIRE(reinterpret_cast<uintptr_t>(d.p) % 16 == 0);
    REQUIRE(sim::is_device_pointer(d.p, 100 * sizeof(float)));
    REQUIRE_FALSE(sim::is_device_pointer(d.p, 101 * sizeof(float)));
    std::vector<float> big(101, 1.0f);
    REQUIRE_THROWS_WITH(sim::memcpy_htod(d.p, big.data(), big.size() * sizeof(float)),
                        Catch::Contains("not inside a live device buffer"));
    DevBuf<float> e(100);
    sim::memset(e.p, 0, 100 * sizeof(float));
    sim::memcpy_dtod(d.p, e.p, 100 * sizeof(float));
    for (float v : d.download()) REQUIRE(v == 0.0f);
  }
  {
    sim::ScopedOptions so(opts(0, false));
    DevBuf<int> z(10);
    for (int v : z.download()) REQUIRE(v == 0);
  }
  REQUIRE(sim::live_device_buffers() == live);
  int dummy = 0;
  REQUIRE_THROWS_AS(sim::device_free(&dummy), sim::KernelError);
}

TEST_CASE("sim: launches a GPU would reject throw clear errors", "[sim]") {
  using Catch::Contains;
  REQUIRE_THROWS_WITH(simtest::launch_empty(1, 1025, 0), Contains("1025 threads per block exceed the limit of 1024"));
  REQUIRE_THROWS_WITH(simtest::launch_empty(1, dim3(32, 32, 2), 0), Contains("2048 threads per block"));
  REQUIRE_THROWS_WITH(simtest::launch_empty(1, dim3(1, 1, 65), 0), Contains("blockDim.z = 65 exceeds 64"));
  REQUIRE_THROWS_WITH(simtest::launch_empty(1, dim3(2048, 1, 1), 0), Contains("blockDim.x = 2048 exceeds 1024"));
  REQUIRE_THROWS_WITH(simtest::launch_empty(dim3(1, 65536, 1), 32, 0), Contains("gridDim.y = 65536 exceeds 65535"));
  REQUIRE_THROWS_WITH(simtest::launch_empty(dim3(1, 1, 70000), 32, 0), Contains("gridDim.z = 70000 exceeds 65535"));
  REQUIRE_THROWS_WITH(simtest::launch_empty(dim3(2147483648u, 1, 1), 32, 0), Contains("gridDim.x = 2147483648 exceeds 2^31-1"));
  REQUIRE_THROWS_WITH(simtest::launch_empty(0, 32, 0), Contains("grid dimension is 0"));
  REQUIRE_THROWS_WITH(simtest::launch_empty(1, 32, 48 * 1024 + 1),
                      Contains("exceeds the per-block limit of 49152 bytes"));
  REQUIRE_THROWS_AS(simtest::launch_empty(1, 1025, 0), sim::LaunchError);
  // The message names the kernel.
  REQUIRE_THROWS_WITH(simtest::launch_empty(1, 1025, 0), Contains("'empty_kernel'"));
  // ... and where the DUEL_LAUNCH is written (file:line of the launch site).
  REQUIRE_THROWS_WITH(simtest::launch_empty(1, 1025, 0),
                      Catch::Matches(".*\\(launched at tests/sim/kernels_for_tests\\.cuh:[0-9]+\\)", Catch::CaseSensitive::Yes));
  // Limits that are fine.
  REQUIRE_NOTHROW(simtest::launch_empty(dim3(1, 65535, 1), 1, 48 * 1024));
  REQUIRE_NOTHROW(simtest::launch_empty(dim3(2, 1, 3), dim3(1024, 1, 1), 0));
  REQUIRE_NOTHROW(simtest::launch_empty(1, dim3(1, 1, 64), 0));
  // Opt-in to more dynamic shared memory, as cudaFuncSetAttribute does.
  DUEL_SET_MAX_DYNAMIC_SHARED(simtest::empty_kernel, 100 * 1024);
  REQUIRE_NOTHROW(simtest::launch_empty(2, 32, 100 * 1024));
  REQUIRE_THROWS_WITH(simtest::launch_empty(2, 32, 100 * 1024 + 1), Contains("limit of 102400 bytes"));
}

TEST_CASE("sim: a divergent __syncthreads is reported", "[sim]") {
  using Catch::Contains;
  DevBuf<int> out(64);
  for (uint64_t seed : {0ull, 5ull}) {
    sim::ScopedOptions so(opts(seed));
    // Threads 0..15 wait at the barrier, 16..31 skip it and exit.
    REQUIRE_THROWS_AS(simtest::launch_divergent_barrier(out.p, 16, 32), sim::KernelError);
    REQUIRE_THROWS_WITH(simtest::launch_divergent_barrier(out.p, 16, 32),
                        Contains("kernel 'divergent_barrier' block (0,0,0): divergent __syncthreads(): 16 of 32"));
    REQUIRE_THROWS_WITH(simtest::launch_divergent_barrier(out.p, 16, 32),
                        Catch::Matches(".*\\(launched at tests/sim/kernels_for_tests\\.cuh:[0-9]+\\)"));
    // Thread 0 exits before any thread reaches the barrier (plain fast path first).
    REQUIRE_THROWS_WITH(simtest::launch_divergent_barrier_late(out.p, 16, 64), Contains("divergent __syncthreads()"));
    // Everyone reaches it: fine.
    REQUIRE_NOTHROW(simtest::launch_divergent_barrier(out.p, 64, 64));
  }
}

TEST_CASE("sim: a lane named in a shuffle mask that has exited is reported", "[sim]") {
  sim::ScopedOptions so(opts());
  DevBuf<int> out(32);
  REQUIRE_THROWS_WITH(simtest::launch_shuffle_after_exit(out.p),
                      Catch::Contains("__shfl_down_sync(mask=0xffffffff) but lane 0 named in the mask has exited"));
}

TEST_CASE("sim: results do not depend on the schedule or the number of workers", "[sim]") {
  const int n = 3000;
  auto x = random_floats(n, 14);
  DevBuf<float> dx(x), dout((n + 255) / 256);
  std::vector<float> first;
  for (int workers : {1, 2, 3})
    for (uint64_t seed : {0ull, 42ull}) {
      sim::ScopedOptions so(opts(seed, true, workers));
      simtest::launch_block_sum_shfl(dx.p, dout.p, n, 256);
      auto got = dout.download();
      if (first.empty()) first = got;
      REQUIRE(got == first);  // per-block sums are deterministic bit for bit
    }
}

#endif  // DUEL_WITH_SIM
