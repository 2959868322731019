// The emulator's guards against bugs its plain schedule hides (kernels/sim/checks.h,
// docs/kernels.md "Guards"): each deliberately buggy kernel of tests/sim/guard_kernels.cuh
// must be caught on every seed, and its correct twin must pass on every seed.
//   * race detector (Options::race_check): lost updates of a non-atomic `+=`
//   * warp run-ahead schedule (Options::run_ahead): a block reduction without its
//     trailing barrier, used twice in a row
//   * poisoning of static __shared__ memory (Options::poison): reads of unwritten slots
#include <catch2/catch.hpp>

#if !defined(DUEL_WITH_SIM)
#warning "tests/sim/test_sim_guards.cpp: DUEL_WITH_SIM is not defined, so the emulator guard tests are not built"
#else

#ifndef DUEL_SIM
#define DUEL_SIM 1
#endif
#include "tests/sim/guard_kernels.cuh"
#include "tests/sim/dev_buf.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace sim = duel::sim;

namespace {

template <class T>
using Buf = sim::testing::DevBuf<T>;

// A checking run: shuffled schedule (seed 0: index order), poison, the race detector and
// the run-ahead schedule (On rather than Auto, so that the tests also hold under gdb).
sim::Options checking(uint64_t seed, sim::Check race = sim::Check::On, sim::Check ahead = sim::Check::On) {
  sim::Options o;
  o.schedule_seed = seed;
  o.poison = true;
  o.race_check = race;
  o.run_ahead = ahead;
  return o;
}

const std::vector<uint64_t> kSeeds = {1, 2, 3, 4, 5, 6, 7, 8};

// Runs f in a forked child with the default SIGSEGV/SIGBUS action and no core dump;
// returns the child's wait status.
template <class F>
int in_child(F f) {
  fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    struct rlimit no_core {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    f();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

}  // namespace

// ------------------------------------------------------------------ race detector ----

TEST_CASE("sim guards: a non-atomic scatter_add is a data race on every seed", "[sim][guards]") {
  using Catch::Contains;
  const int n = 1000, grid = 4, block = 128, targets = 13;
  std::mt19937 g(1);
  std::vector<float> src(n);
  for (auto& v : src) v = static_cast<float>(g() % 100 + 1);  // exact sums in float
  std::vector<int> same_block(n), across_blocks(n);
  for (int i = 0; i < n; ++i) {
    same_block[i] = (i * 7) % targets;   // threads of one block hit one element
    across_blocks[i] = i % block;        // each block hits each element once
  }
  Buf<float> dsrc(src), out(block);
  for (const auto* idx : {&same_block, &across_blocks}) {
    std::vector<float> want(block, 0.0f);
    for (int i = 0; i < n; ++i) want[(*idx)[i]] += src[i];
    Buf<int> dindex(*idx);
    for (uint64_t seed : kSeeds) {
      INFO("seed " << seed << (idx == &same_block ? ", collisions inside blocks" : ", collisions across blocks"));
      sim::ScopedOptions so(checking(seed));
      out.zero();
      REQUIRE_NOTHROW(guardtest::launch_scatter_add(out.p, dindex.p, dsrc.p, n, grid, block, /*atomic=*/true));
      REQUIRE(out.download() == want);
      out.zero();
      REQUIRE_THROWS_WITH(guardtest::launch_scatter_add(out.p, dindex.p, dsrc.p, n, grid, block, /*atomic=*/false),
                          Contains("data race on global memory") && Contains("scatter_add") &&
                              Contains(idx == &same_block ? "since the last __syncthreads()" : "of block ("));
    }
  }
  // The detector does not depend on the schedule: also caught in index order ...
  {
    sim::ScopedOptions so(checking(0, sim::Check::On));
    Buf<int> dindex(same_block);
    REQUIRE_THROWS_AS(guardtest::launch_scatter_add(out.p, dindex.p, dsrc.p, n, grid, block, false), sim::KernelError);
  }
  // ... and without it the lost update cannot happen on the emulator (on one worker OS
  // thread): the wrong kernel gives the right answer, which is why the detector is needed.
  {
    sim::Options o = checking(3, sim::Check::Off);
    o.worker_threads = 1;
    sim::ScopedOptions so(o);
    Buf<int> dindex(same_block);
    std::vector<float> want(block, 0.0f);
    for (int i = 0; i < n; ++i) want[same_block[i]] += src[i];
    out.zero();
    REQUIRE_NOTHROW(guardtest::launch_scatter_add(out.p, dindex.p, dsrc.p, n, grid, block, false));
    REQUIRE(out.download() == want);
  }
  // After an error the device memory is writable again (the detector cleaned up).
  out.zero();
  REQUIRE(out.download() == std::vector<float>(block, 0.0f));
}

TEST_CASE("sim guards: a non-atomic index_add of int64 rows is a data race on every seed", "[sim][guards]") {
  const int m = 40, inner = 5, rows = 6;
  std::vector<int> index(m);
  for (int j = 0; j < m; ++j) index[j] = (j * 5) % rows;
  std::vector<long long> src(m * inner);
  for (int i = 0; i < m * inner; ++i) src[i] = (i % 11) - 5 + (static_cast<long long>(i) << 33);
  std::vector<long long> want(rows * inner, 0);
  for (int i = 0; i < m * inner; ++i) want[index[i / inner] * inner + i % inner] += src[i];
  Buf<int> dindex(index);
  Buf<long long> dsrc(src), out(rows * inner);
  for (uint64_t seed : kSeeds) {
    INFO("seed " << seed);
    sim::ScopedOptions so(checking(seed));
    out.zero();
    REQUIRE_NOTHROW(guardtest::launch_index_add_rows(out.p, dindex.p, dsrc.p, m, inner, true));
    REQUIRE(out.download() == want);
    out.zero();
    REQUIRE_THROWS_WITH(guardtest::launch_index_add_rows(out.p, dindex.p, dsrc.p, m, inner, false),
                        Catch::Contains("data race on global memory"));
  }
}

TEST_CASE("sim guards: a non-atomic shared-memory histogram is a data race on every seed", "[sim][guards]") {
  const int n = 3000;
  std::vector<int> in(n);
  std::mt19937 g(2);
  for (auto& v : in) v = static_cast<int>(g() % 1000);
  std::vector<unsigned> want(guardtest::kBins, 0);
  for (int v : in) ++want[v % guardtest::kBins];
  Buf<int> din(in);
  Buf<unsigned> hist(guardtest::kBins);
  for (uint64_t seed : kSeeds) {
    INFO("seed " << seed);
    sim::ScopedOptions so(checking(seed));
    hist.zero();
    REQUIRE_NOTHROW(guardtest::launch_shared_histogram(din.p, hist.p, n, 3, 96, /*atomic=*/true));
    REQUIRE(hist.download() == want);
    REQUIRE_THROWS_WITH(guardtest::launch_shared_histogram(din.p, hist.p, n, 3, 96, /*atomic=*/false),
                        Catch::Contains("data race on shared memory") &&
                            Catch::Contains("static __shared__ variable 'guardtest::shared_histogram") &&
                            Catch::Contains("::local', byte"));
  }
}

TEST_CASE("sim guards: writes of two lanes to one shared slot need a __syncwarp between them", "[sim][guards]") {
  const int grid = 3, block = 64;
  Buf<int> out(grid * block / 32);
  for (uint64_t seed : kSeeds) {
    INFO("seed " << seed);
    sim::ScopedOptions so(checking(seed));
    REQUIRE_NOTHROW(guardtest::launch_two_lanes_one_slot(out.p, grid, block, /*with_syncwarp=*/true));
    REQUIRE(out.download() == std::vector<int>(grid * block / 32, 2));
    REQUIRE_THROWS_WITH(guardtest::launch_two_lanes_one_slot(out.p, grid, block, false),
                        Catch::Contains("data race on shared memory"));
  }
}

TEST_CASE("sim guards: under the race detector an out-of-bounds write still faults", "[sim][guards]") {
  const int n = 1024;  // n * sizeof(float) is a multiple of the 16-byte device alignment
  {
    sim::ScopedOptions so(checking(1, sim::Check::On));
    Buf<float> ok(n + 1);
    REQUIRE_NOTHROW(guardtest::launch_write_past_end(ok.p, n));
    REQUIRE(ok.download() == std::vector<float>(n + 1, 1.0f));
  }
  const int status = in_child([&] {
    sim::set_options(checking(1, sim::Check::On));
    float* p = sim::device_alloc<float>(n);
    guardtest::launch_write_past_end(p, n);  // p[0 .. n-1] are tracked pages, p[n] the guard page
    _exit(3);                                // not reached
  });
  INFO("child status " << status);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE((WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS));
}

// ------------------------------------------------------------- warp run-ahead ----

TEST_CASE("sim guards: a block reduction without its trailing barrier, used twice, fails on every seed",
          "[sim][guards]") {
  const int rows = 6, cols = 1000, block = 256;  // 8 warps per block
  std::mt19937 g(3);
  std::uniform_real_distribution<double> u(-2.0, 5.0);
  std::vector<double> x(rows * cols);
  for (auto& v : x) v = u(g);
  std::vector<double> want_mean(rows), want_var(rows);
  for (int r = 0; r < rows; ++r) {
    double s = 0, q = 0;
    for (int c = 0; c < cols; ++c) s += x[r * cols + c];
    const double m = s / cols;
    for (int c = 0; c < cols; ++c) q += (x[r * cols + c] - m) * (x[r * cols + c] - m);
    want_mean[r] = m;
    want_var[r] = q / cols;
  }
  Buf<double> dx(x), mean(rows), var(rows);
  auto right = [&] {
    const auto m = mean.download(), v = var.download();
    for (int r = 0; r < rows; ++r)
      if (!(std::fabs(m[r] - want_mean[r]) <= 1e-9 && std::fabs(v[r] - want_var[r]) <= 1e-9 * want_var[r]))
        return false;
    return true;
  };
  for (uint64_t seed : kSeeds) {
    INFO("seed " << seed);
    sim::ScopedOptions so(checking(seed));
    guardtest::launch_row_mean_var(dx.p, mean.p, var.p, rows, cols, block, /*trailing_sync=*/true);
    REQUIRE(right());
    guardtest::launch_row_mean_var(dx.p, mean.p, var.p, rows, cols, block, /*trailing_sync=*/false);
    REQUIRE_FALSE(right());
  }
  // Deterministic (index order) with run-ahead on: caught too; with it off, the bug is
  // invisible, since every thread reads the total before any warp gets past its shuffles.
  {
    sim::ScopedOptions so(checking(0, sim::Check::Auto, sim::Check::On));
    guardtest::launch_row_mean_var(dx.p, mean.p, var.p, rows, cols, block, false);
    REQUIRE_FALSE(right());
  }
  {
    sim::ScopedOptions so(checking(0, sim::Check::Auto, sim::Check::Off));
    guardtest::launch_row_mean_var(dx.p, mean.p, var.p, rows, cols, block, false);
    REQUIRE(right());
  }
  sim::reset_stats();
  {
    sim::ScopedOptions so(checking(5));
    guardtest::launch_row_mean_var(dx.p, mean.p, var.p, rows, cols, block, true);
  }
  CHECK(sim::stats().run_ahead_blocks == 4);  // blocks (k + rot) % 3 != 2 of 6
}

// ------------------------------------------------- poisoned static __shared__ ----

TEST_CASE("sim guards: reads of unwritten static __shared__ memory give NaN on every seed", "[sim][guards]") {
  const int blocks = 5, k = 40;
  std::vector<float> in(blocks * k);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i % 17) * 0.5f;
  std::vector<float> want(blocks, 0.0f);
  for (int b = 0; b < blocks; ++b)
    for (int j = 0; j < k; ++j) want[b] += in[b * k + j];
  Buf<float> din(in), out(blocks);

  const int tb = 4, block = 64;  // 2 warps: partial[2..31] are never written
  std::vector<float> fin(tb * block);
  std::vector<double> din_d(tb * block);
  for (int i = 0; i < tb * block; ++i) {
    fin[i] = static_cast<float>(i % 9);
    din_d[i] = static_cast<double>(i % 13) * 0.25;
  }
  std::vector<float> fwant(tb, 0.0f);
  std::vector<double> dwant(tb, 0.0);
  for (int i = 0; i < tb * block; ++i) {
    fwant[i / block] += fin[i];
    dwant[i / block] += din_d[i];
  }
  Buf<float> dfin(fin), dfout(tb);
  Buf<double> ddin(din_d), ddout(tb);

  for (uint64_t seed : std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}) {
    INFO("seed " << seed);
    sim::ScopedOptions so(checking(seed));
    sim::reset_stats();
    guardtest::launch_sum_first_k(din.p, out.p, blocks, k, /*sum_all=*/false);
    REQUIRE(out.download() == want);
    CHECK(sim::stats().shared_poisoned == blocks);  // s[] of every block
    guardtest::launch_sum_first_k(din.p, out.p, blocks, k, /*sum_all=*/true);
    for (float v : out.download()) REQUIRE(std::isnan(v));

    // a templated __device__ function's __shared__ array, float and double instances
    guardtest::launch_block_totals(dfin.p, dfout.p, tb, block, /*guard=*/true);
    REQUIRE(dfout.download() == fwant);
    guardtest::launch_block_totals(dfin.p, dfout.p, tb, block, false);
    for (float v : dfout.download()) REQUIRE(std::isnan(v));
    guardtest::launch_block_totals(ddin.p, ddout.p, tb, block, true);
    REQUIRE(ddout.download() == dwant);
    guardtest::launch_block_totals(ddin.p, ddout.p, tb, block, false);
    for (double v : ddout.download()) REQUIRE(std::isnan(v));
  }
}

TEST_CASE("sim guards: Check::Auto turns the race detector and run-ahead on with a schedule seed",
          "[sim][guards]") {
  sim::Options o;
  CHECK_FALSE(sim::race_check_on(o));
  CHECK_FALSE(sim::run_ahead_on(o));
  o.schedule_seed = 9;
  CHECK(sim::race_check_on(o) == sim::run_ahead_on(o));  // both on, unless under a debugger
  o.race_check = sim::Check::Off;
  o.run_ahead = sim::Check::Off;
  CHECK_FALSE(sim::race_check_on(o));
  CHECK_FALSE(sim::run_ahead_on(o));
  o.schedule_seed = 0;
  o.race_check = sim::Check::On;
  o.run_ahead = sim::Check::On;
  CHECK(sim::race_check_on(o));
  CHECK(sim::run_ahead_on(o));
}

#endif  // DUEL_WITH_SIM
