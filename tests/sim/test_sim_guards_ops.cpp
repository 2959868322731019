// The emulator's guards (kernels/sim/checks.h) on the production kernels of
// kernels/cuda/*.cu: a few ops whose kernels use atomics, static __shared__ memory and
// back-to-back block reductions run on the `sim` device with every guard on, agree with
// the CPU, trip no guard, and the guards demonstrably looked at them (the parity suite,
// tests/parity, runs every kernel under the same settings).
#include <catch2/catch.hpp>

#include <vector>

#include "duel.h"
#include "kernels/sim/runtime.h"

using namespace duel;

#if defined(DUEL_WITH_SIM)

namespace {

void close_to_cpu(const Tensor& got, const Tensor& want, double tol) {
  const auto g = got.to(Device("cpu")).to(kFloat64).contiguous().to_vector<double>();
  const auto w = want.to(kFloat64).contiguous().to_vector<double>();
  REQUIRE(g.size() == w.size());
  for (size_t i = 0; i < g.size(); ++i) REQUIRE(g[i] == Approx(w[i]).margin(tol));
}

}  // namespace

TEST_CASE("sim guards: production kernels run clean under the race detector, run-ahead and poisoning",
          "[sim][guards]") {
  for (uint64_t seed : {11ull, 12ull}) {
    INFO("seed " << seed);
    sim::Options o = sim::options();
    o.schedule_seed = seed;
    o.poison = true;
    o.race_check = sim::Check::On;
    o.run_ahead = sim::Check::On;
    sim::ScopedOptions so(o);
    sim::reset_stats();
    const Device dev("sim");
    Generator gen(seed);

    // scatter_add / index_add (atomicAdd from threads of one block and of several blocks)
    Tensor base = uniform({4, 300}, -1, 1, TensorOptions(kFloat64), &gen);
    Tensor idx = (uniform({4, 700}, 0, 1, TensorOptions(kFloat64), &gen) * 299.99).to(kInt64);
    Tensor src = uniform({4, 700}, -1, 1, TensorOptions(kFloat64), &gen);
    close_to_cpu(scatter_add(base.to(dev), 1, idx.to(dev), src.to(dev)), scatter_add(base, 1, idx, src), 1e-12);
    Tensor rows = (uniform({500}, 0, 1, TensorOptions(kFloat64), &gen) * 6.99).to(kInt64);
    Tensor base2 = uniform({7, 3}, -1, 1, TensorOptions(kFloat64), &gen);
    Tensor src2 = uniform({500, 3}, -1, 1, TensorOptions(kFloat64), &gen);
    close_to_cpu(index_add(base2.to(dev), 0, rows.to(dev), src2.to(dev)), index_add(base2, 0, rows, src2), 1e-12);

    // batch_norm statistics and backward, softmax: block_reduce twice in a row (static
    // __shared__ partial[32]); matmul: the tiled GEMM's static __shared__ slabs
    Tensor x = uniform({8, 6, 5, 7}, -2, 3, TensorOptions(kFloat32), &gen);
    Tensor w = uniform({6}, 0.5, 1.5, TensorOptions(kFloat32), &gen);
    Tensor b = uniform({6}, -1, 1, TensorOptions(kFloat32), &gen);
    Tensor xs = x.to(dev).requires_grad_();
    Tensor y = batch_norm(xs, w.to(dev), b.to(dev), {}, {}, true, 0.1, 1e-5);
    Tensor xc = x.clone().requires_grad_();
    Tensor yc = batch_norm(xc, w, b, {}, {}, true, 0.1, 1e-5);
    close_to_cpu(y, yc, 1e-4);
    (y * y).sum().backward();
    (yc * yc).sum().backward();
    close_to_cpu(xs.grad(), xc.grad(), 1e-3);
    Tensor z = uniform({5, 700}, -5, 5, TensorOptions(kFloat64), &gen);
    close_to_cpu(softmax(z.to(dev), 1), softmax(z, 1), 1e-12);
    Tensor a = uniform({70, 90}, -1, 1, TensorOptions(kFloat64), &gen);
    Tensor c = uniform({90, 65}, -1, 1, TensorOptions(kFloat64), &gen);
    close_to_cpu(matmul(a.to(dev), c.to(dev)), matmul(a, c), 1e-10);

    const sim::Stats st = sim::stats();
    CHECK(st.race_checked_launches == st.kernels_launched);
    CHECK(st.race_checked_bytes > 100000);
    CHECK(st.run_ahead_blocks > 0);
    CHECK(st.shared_poisoned > 0);  // block_reduce's and the GEMM's static __shared__ arrays were found
  }
}

#endif  // DUEL_WITH_SIM
