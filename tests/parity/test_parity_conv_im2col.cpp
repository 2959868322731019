// Parity of the im2col convolution path (kernels/cuda/conv.cu, ConvAlgorithm::Im2col:
// im2col_kernel / col2im_kernel + GEMM) against the CPU backend.
//
// Every case runs forward and backward (loss = sum(out * r), r fixed) on `cpu` and on
// `sim` with the im2col algorithm selected, and compares the output and the gradients of
// all inputs. Through conv2d, conv_transpose2d and conv1d (whose backward passes use the
// other two primitives) each case exercises all three conv primitives: forward
// (im2col + GEMM), input grad (GEMM + col2im) and weight grad (im2col + GEMM accumulated
// over the batch). Shapes cover stride, padding, dilation, groups (including depthwise,
// where the GEMMs are batched over the groups), transposed convs with output_padding,
// pixels no window reads, kernels wider than the image, and partial 64x64 GEMM tiles.
// The emulator runs with a shuffled schedule and NaN poisoning of fresh device memory, as
// in test_parity.cpp, so a column or gx element a kernel forgets to write shows up.
// The batch chunking is checked by rerunning the table with a tiny workspace limit
// (one image per chunk) and with a limit that leaves a partial last chunk.
#include <catch2/catch.hpp>

#include "tests/skip.h"

#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "duel.h"
#include "kernels/cuda/conv_algorithm.h"
#include "kernels/cuda/runtime.h"
#include "kernels/sim/runtime.h"
#include "tests/fixture.h"

namespace duel::test {
namespace {

using Catch::Matchers::Contains;

struct ConvCase {
  std::string name;
  std::vector<Shape> ins;  // floating leaves, all requiring grad
  std::function<Tensor(const TensorList&)> fn;
  double rtol32 = 2e-4, atol32 = 2e-5;
};

Conv2dOptions opts(std::array<int64_t, 2> stride, std::array<int64_t, 2> pad, std::array<int64_t, 2> dil,
                   int64_t groups = 1, std::array<int64_t, 2> out_pad = {0, 0}) {
  Conv2dOptions o;
  o.stride = stride;
  o.padding = pad;
  o.dilation = dil;
  o.groups = groups;
  o.output_padding = out_pad;
  return o;
}

const std::vector<ConvCase>& cases() {
  static const std::vector<ConvCase> t = {
      {"conv2d 3x3 p1 bias", {{2, 4, 9, 9}, {6, 4, 3, 3}, {6}},
       [](const TensorList& a) { return conv2d(a[0], a[1], a[2], Conv2dOptions().set_padding(1)); }},
      {"conv2d s(2,1) p(2,1) d(2,1) g2", {{2, 4, 11, 10}, {6, 2, 3, 3}},
       [](const TensorList& a) { return conv2d(a[0], a[1], {}, opts({2, 1}, {2, 1}, {2, 1}, 2)); }},
      {"conv2d 1x1 on a transposed view", {{3, 5, 6, 4}, {7, 5, 1, 1}},
       [](const TensorList& a) { return conv2d(a[0].transpose(2, 3), a[1]); }},
      {"conv2d 70->65 channels p1 (partial tiles)", {{1, 70, 5, 5}, {65, 70, 3, 3}},
       [](const TensorList& a) { return conv2d(a[0], a[1], {}, Conv2dOptions().set_padding(1)); }, 5e-4, 5e-5},
      {"conv2d 67 filters 5x5 s(2,3) p(2,1)", {{2, 3, 13, 11}, {67, 3, 5, 5}},
       [](const TensorList& a) { return conv2d(a[0], a[1], {}, opts({2, 3}, {2, 1}, {1, 1})); }},
      {"conv2d depthwise g6 s2 p1", {{3, 6, 7, 8}, {6, 1, 3, 3}, {6}},
       [](const TensorList& a) { return conv2d(a[0], a[1], a[2], opts({2, 2}, {1, 1}, {1, 1}, 6)); }},
      {"conv2d stride 3 > kernel 2 (unread pixels)", {{2, 3, 10, 10}, {4, 3, 2, 2}},
       [](const TensorList& a) { return conv2d(a[0], a[1], {}, Conv2dOptions().set_stride(3)); }},
      {"conv2d kernel 5x5 on a 3x3 image p2", {{1, 2, 3, 3}, {3, 2, 5, 5}},
       [](const TensorList& a) { return conv2d(a[0], a[1], {}, Conv2dOptions().set_padding(2)); }},
      {"conv2d batch 5 (chunking)", {{5, 3, 6, 7}, {4, 3, 3, 3}},
       [](const TensorList& a) { return conv2d(a[0], a[1], {}, Conv2dOptions().set_padding(1)); }},
      {"conv_transpose2d s2 p1 op1 bias", {{2, 4, 5, 5}, {4, 3, 3, 3}, {3}},
       [](const TensorList& a) { return conv_transpose2d(a[0], a[1], a[2], opts({2, 2}, {1, 1}, {1, 1}, 1, {1, 1})); }},
      {"conv_transpose2d g2 d(2,1) s(1,2)", {{1, 4, 4, 3}, {4, 2, 2, 3}},
       [](const TensorList& a) { return conv_transpose2d(a[0], a[1], {}, opts({1, 2}, {0, 0}, {2, 1}, 2)); }},
      {"conv_transpose2d s3 op2 g3", {{2, 6, 3, 4}, {6, 1, 3, 2}},
       [](const TensorList& a) { return conv_transpose2d(a[0], a[1], {}, opts({3, 3}, {1, 0}, {1, 1}, 3, {2, 2})); }},
      {"conv1d s2 p2", {{2, 3, 33}, {4, 3, 5}},
       [](const TensorList& a) {
         Conv1dOptions o;
         o.stride = 2;
         o.padding = 2;
         return conv1d(a[0], a[1], {}, o);
       }},
      {"conv_transpose1d s2 d2 g2", {{2, 4, 9}, {4, 3, 3}},
       [](const TensorList& a) {
         Conv1dOptions o;
         o.stride = 2;
         o.dilation = 2;
         o.groups = 2;
         return conv_transpose1d(a[0], a[1], {}, o);
       }},
  };
  return t;
}

uint64_t hash_name(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (char c : s) h = (h ^ (uint8_t)c) * 1099511628211ull;
  return h;
}

struct Run {
  TensorList tensors;  // output, grads of the inputs (and the penalty), on the CPU
};

// Forward + backward of `c` on `dev`. penalty: backpropagate sum(g*g) of the first-order
// gradients (create_graph) instead, which runs every primitive in the other roles too.
Run run_case(const ConvCase& c, DType dt, Device dev, bool penalty) {
  const uint64_t seed = hash_name(c.name);
  TensorList leaves;
  for (size_t i = 0; i < c.ins.size(); ++i) {
    Generator gen(seed + i);
    leaves.push_back(uniform(c.ins[i], -1, 1, TensorOptions(kFloat64), &gen).to(dt).to(dev).detach().requires_grad_());
  }
  Tensor out = c.fn(leaves);
  Generator gen(seed ^ 0x9e3779b97f4a7c15ull);
  Tensor r = uniform(out.sizes(), -1, 1, TensorOptions(kFloat64), &gen).to(dt).to(dev);
  Tensor loss = sum(out * r);
  Run run;
  run.tensors.push_back(out.detach().to(kCPU));
  if (!penalty) {
    loss.backward();
  } else {
    TensorList g = autograd::grad({loss}, leaves, {}, /*create_graph=*/true, /*allow_unused=*/true);
    Tensor p;
    for (auto& gi : g) {
      if (!gi.defined() || !gi.requires_grad()) continue;
      Tensor term = sum(gi * gi);
      p = p.defined() ? p + term : term;
    }
    REQUIRE(p.defined());
    run.tensors.push_back(p.detach().to(kCPU));
    p.backward();
  }
  for (auto& l : leaves) run.tensors.push_back(l.grad().defined() ? l.grad().to(kCPU) : Tensor());
  return run;
}

// Runs every case in float64 and float32 on `dev` and compares with the CPU.
void run_all(Device dev, bool penalty = false) {
  for (const ConvCase& c : cases()) {
    for (DType dt : {kFloat64, kFloat32}) {
      const bool f32 = dt == kFloat32;
      double rtol = f32 ? c.rtol32 : 1e-9, atol = f32 ? c.atol32 : 1e-11;
      if (penalty && !f32) rtol = 1e-8, atol = 1e-10;
      if (penalty && f32) rtol *= 5, atol *= 5;
      const std::string what = c.name + (f32 ? "/f32" : "") + (penalty ? " (double backward)" : "") + " [" +
                               dev.str() + "]";
      Run want = run_case(c, dt, kCPU, penalty), got;
      try {
        got = run_case(c, dt, dev, penalty);
      } catch (const std::exception& e) {
        FAIL_CHECK(what << " threw: " << e.what());
        continue;
      }
      REQUIRE(got.tensors.size() == want.tensors.size());
      for (size_t k = 0; k < want.tensors.size(); ++k) {
        const size_t first_grad = penalty ? 2 : 1;  // [output, (penalty,) grads of the inputs]
        const std::string item = k == 0 ? "output"
                                 : k < first_grad ? "penalty"
                                                  : "grad of input " + std::to_string(k - first_grad);
        REQUIRE(got.tensors[k].defined() == want.tensors[k].defined());
        if (want.tensors[k].defined()) check_close(got.tensors[k], want.tensors[k], rtol, atol, what + " " + item);
      }
    }
  }
}

sim::Options parity_sim_options() {
  sim::Options o = sim::options();
  o.schedule_seed = 0x5eedf00d;
  o.poison = true;
  return o;
}

// Restores the sim workspace limit when a test ends.
struct WorkspaceRestore {
  size_t saved = sim::conv_workspace_limit();
  ~WorkspaceRestore() { sim::set_conv_workspace_limit(saved); }
};

// Restores DUEL_CUDA_CONV and the selected algorithms when a test ends.
struct EnvRestore {
  std::optional<std::string> saved;
  ConvAlgorithm sim_algo = sim::conv_algorithm();
#if defined(DUEL_WITH_CUDA)
  ConvAlgorithm cuda_algo = cuda::conv_algorithm();
#endif
  EnvRestore() {
    if (const char* e = std::getenv("DUEL_CUDA_CONV")) saved = e;
  }
  ~EnvRestore() {
    if (saved) setenv("DUEL_CUDA_CONV", saved->c_str(), 1);
    else unsetenv("DUEL_CUDA_CONV");
    sim::set_conv_algorithm(sim_algo);
#if defined(DUEL_WITH_CUDA)
    cuda::set_conv_algorithm(cuda_algo);
#endif
  }
};

}  // namespace

TEST_CASE("parity: conv im2col path, sim vs cpu", "[parity][conv]") {
  sim::ScopedOptions scoped(parity_sim_options());
  sim::ConvAlgorithmGuard algo(ConvAlgorithm::Im2col);
  const size_t live = sim::live_device_buffers();
  run_all(Device("sim"));
  CHECK(sim::live_device_buffers() == live);  // the scratch column matrices are freed
}

TEST_CASE("parity: conv im2col path, batch chunking", "[parity][conv]") {
  sim::ScopedOptions scoped(parity_sim_options());
  sim::ConvAlgorithmGuard algo(ConvAlgorithm::Im2col);
  WorkspaceRestore restore;
  SECTION("one image per chunk") {
    sim::set_conv_workspace_limit(1);
    run_all(Device("sim"));
  }
  SECTION("partial last chunk") {
    // "conv2d batch 5": C*kH*kW*outH*outW = 3*9*6*7 elements per image: chunks of 2, 2, 1
    // images in float64 and of 4, 1 in float32
    sim::set_conv_workspace_limit(2 * 3 * 9 * 6 * 7 * sizeof(double) + 8);
    run_all(Device("sim"));
  }
}

TEST_CASE("parity: conv im2col path, double backward", "[parity][conv]") {
  sim::ScopedOptions scoped(parity_sim_options());
  sim::ConvAlgorithmGuard algo(ConvAlgorithm::Im2col);
  run_all(Device("sim"), /*penalty=*/true);
}

TEST_CASE("parity: conv im2col path really runs its own kernels", "[parity][conv]") {
  sim::ScopedOptions scoped(parity_sim_options());
  Tensor x = uniform({2, 3, 8, 8}, -1, 1).to(Device("sim"));
  Tensor w = uniform({4, 3, 3, 3}, -1, 1).to(Device("sim"));
  auto launches = [&](ConvAlgorithm a) {
    sim::ConvAlgorithmGuard algo(a);
    sim::reset_stats();
    Tensor y = conv2d(x, w);
    return sim::stats().kernels_launched;
  };
  // implicit: one gemm_tile launch; im2col: im2col_kernel + one batched GEMM per group
  CHECK(launches(ConvAlgorithm::Implicit) == 1);
  CHECK(launches(ConvAlgorithm::Im2col) == 2);
  {
    sim::ConvAlgorithmGuard outer(ConvAlgorithm::Im2col);
    {
      sim::ConvAlgorithmGuard inner(ConvAlgorithm::Implicit);
      CHECK(sim::conv_algorithm() == ConvAlgorithm::Implicit);
    }
    CHECK(sim::conv_algorithm() == ConvAlgorithm::Im2col);
  }
}

TEST_CASE("conv algorithm selection: DUEL_CUDA_CONV, setter and errors", "[parity][conv]") {
  EnvRestore restore;
  CHECK(std::string(conv_algorithm_name(ConvAlgorithm::Implicit)) == "implicit");
  CHECK(std::string(conv_algorithm_name(ConvAlgorithm::Im2col)) == "im2col");

  unsetenv("DUEL_CUDA_CONV");
  sim::detail::reload_conv_algorithm_from_env();
  CHECK(sim::conv_algorithm() == ConvAlgorithm::Implicit);  // the default
  setenv("DUEL_CUDA_CONV", "im2col", 1);
  sim::detail::reload_conv_algorithm_from_env();
  CHECK(sim::conv_algorithm() == ConvAlgorithm::Im2col);
  setenv("DUEL_CUDA_CONV", "implicit", 1);
  sim::detail::reload_conv_algorithm_from_env();
  CHECK(sim::conv_algorithm() == ConvAlgorithm::Implicit);

  setenv("DUEL_CUDA_CONV", "gemm", 1);
  CHECK_THROWS_WITH(sim::detail::reload_conv_algorithm_from_env(),
                    Contains("DUEL_CUDA_CONV") && Contains("expected implicit or im2col") && Contains("'gemm'"));
  CHECK(sim::conv_algorithm() == ConvAlgorithm::Implicit);  // unchanged by the failed reload

  sim::set_conv_algorithm(ConvAlgorithm::Im2col);
  CHECK(sim::conv_algorithm() == ConvAlgorithm::Im2col);
#if defined(DUEL_WITH_CUDA)
  // the cuda backend has its own setting (no GPU needed to switch it)
  CHECK_THROWS_WITH(cuda::detail::reload_conv_algorithm_from_env(), Contains("DUEL_CUDA_CONV"));
  cuda::set_conv_algorithm(ConvAlgorithm::Implicit);
  {
    cuda::ConvAlgorithmGuard g(ConvAlgorithm::Im2col);
    CHECK(cuda::conv_algorithm() == ConvAlgorithm::Im2col);
    CHECK(sim::conv_algorithm() == ConvAlgorithm::Im2col);
  }
  CHECK(cuda::conv_algorithm() == ConvAlgorithm::Implicit);
#endif
}

TEST_CASE("parity: conv im2col path, cuda vs cpu", "[parity][conv]") {
  if (!cuda::is_available()) {
    SKIP_TEST("conv im2col: no CUDA device, cuda parity skipped (" << cuda::unavailable_reason() << ")");
  }
#if defined(DUEL_WITH_CUDA)
  {
    cuda::ConvAlgorithmGuard algo(ConvAlgorithm::Im2col);
    run_all(Device("cuda"));
    run_all(Device("cuda"), /*penalty=*/true);
  }
  cuda::ConvAlgorithmGuard algo(ConvAlgorithm::Implicit);
  run_all(Device("cuda"));
#endif
}

}  // namespace duel::test
