// The implementation switch (kernels/impl.h): the table, set_impl / impl / ImplGuard, the
// errors for unknown ops and choices and for implementations this build or machine cannot
// run, DUEL_IMPL's parsing, and that a choice really reaches the kernels (the CPU GEMM
// variant, the emulator's im2col convolution, the cuDNN flags that the CUDA backend reads).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "duel.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cuda/conv_algorithm.h"
#include "kernels/cudnn/cudnn_ops.h"
#include "kernels/impl.h"
#include "tests/fixture.h"

namespace duel::test {
namespace {

using Catch::Matchers::Contains;

// Re-reads the settings DUEL_IMPL drives at the end of a test, after the variables are back.
struct ReloadFromEnv {
  ~ReloadFromEnv() {
    sim::detail::reload_conv_algorithm_from_env();
    detail::reload_conv_backend_from_env();
  }
};

#if defined(DUEL_WITH_CUDA)
constexpr bool kCuda = true;
#else
constexpr bool kCuda = false;
#endif

}  // namespace

TEST_CASE("impl: the table lists every op with a choice, defaults first", "[impl]") {
  const std::vector<ImplInfo> t = impl_table();
  REQUIRE(t.size() == 6);
  CHECK(t[0].op == "cpu:gemm");
  CHECK(t[1].op == "cpu:conv2d");
  CHECK(t[2].op == "sim:conv2d");
  CHECK(t[3].op == "cuda:conv2d");
  CHECK(t[4].op == "cuda:matmul");
  CHECK(t[5].op == "cuda:batch_norm");
  CHECK(t[1].choices == std::vector<std::string>{"implicit", "im2col"});
  CHECK(t[3].choices == std::vector<std::string>{"implicit", "im2col", "cudnn"});
  CHECK(t[5].fallback == "native");
  for (const ImplInfo& i : t) {
    INFO(i.op);
    CHECK(!i.what.empty());
    CHECK(i.current == impl(i.op));
    CHECK(std::find(i.choices.begin(), i.choices.end(), i.current) != i.choices.end());
  }
}

TEST_CASE("impl: unknown ops and choices are errors that list what exists", "[impl]") {
  CHECK_THROWS_WITH(set_impl("cpu:conv", "fast"),
                    Contains("set_impl") && Contains("unknown op 'cpu:conv'") && Contains("cpu:gemm, cpu:conv2d, sim:conv2d"));
  CHECK_THROWS_WITH(impl("gpu:gemm"), Contains("impl: unknown op 'gpu:gemm'"));
  const std::string before = impl("cpu:gemm");
  CHECK_THROWS_WITH(set_impl("cpu:gemm", "blas"), Contains("cpu:gemm has no implementation 'blas'") &&
                                                      Contains("auto, avx512, avx2, generic, eigen"));
  CHECK(impl("cpu:gemm") == before);
  CHECK_THROWS_WITH(set_impl("cpu:conv2d", "winograd"),
                    Contains("cpu:conv2d has no implementation 'winograd'") && Contains("implicit, im2col"));
  CHECK(impl("cpu:conv2d") == "implicit");
}

TEST_CASE("impl: cpu:gemm chooses the GEMM that matmul runs", "[impl]") {
  const std::string before = impl("cpu:gemm");
  manual_seed(3);
  Tensor a = randn({37, 53}), b = randn({53, 29});
  Tensor ref = matmul(a.to(kFloat64), b.to(kFloat64));
  {
    ImplGuard g("cpu:gemm", "eigen");
    CHECK(impl("cpu:gemm") == "eigen");
    CHECK(cpu::gemm_impl() == cpu::GemmImpl::Eigen);
    CHECK(cpu::gemm_resolved_impl() == cpu::GemmImpl::Eigen);
    CHECK(max(abs(matmul(a, b).to(kFloat64) - ref)).item() < 1e-4);
  }
  CHECK(impl("cpu:gemm") == before);
  {
    ImplGuard g("cpu:gemm", "generic");
    CHECK(cpu::gemm_resolved_impl() == cpu::GemmImpl::Generic);
    CHECK(max(abs(matmul(a, b).to(kFloat64) - ref)).item() < 1e-4);
  }
  if (!cpu::gemm_impl_supported(cpu::GemmImpl::Avx512))
    CHECK_THROWS_WITH(set_impl("cpu:gemm", "avx512"), Contains("cpu:gemm=avx512: this CPU cannot run it"));
}

TEST_CASE("impl: sim:conv2d chooses the emulator's convolution path", "[impl]") {
  manual_seed(5);
  Tensor x = randn({2, 3, 7, 7}, TensorOptions(kFloat64)), w = randn({4, 3, 3, 3}, TensorOptions(kFloat64));
  Tensor ref = conv2d(x, w, {}, Conv2dOptions{});
  for (const char* choice : {"im2col", "implicit"}) {
    INFO(choice);
    ImplGuard g("sim:conv2d", choice);
    CHECK(std::string(conv_algorithm_name(sim::conv_algorithm())) == choice);
    Tensor y = conv2d(x.to(Device("sim")), w.to(Device("sim")), {}, Conv2dOptions{}).to(kCPU);
    CHECK(max(abs(y - ref)).item() < 1e-12);
  }
}

TEST_CASE("impl: cuda ops in this build", "[impl]") {
  if (!kCuda) {
    // only the default can be chosen, and the error says why
    CHECK_NOTHROW(set_impl("cuda:conv2d", "implicit"));
    CHECK_THROWS_WITH(set_impl("cuda:conv2d", "im2col"), Contains("cuda:conv2d=im2col") && Contains("no CUDA backend"));
    CHECK_THROWS_WITH(set_impl("cuda:matmul", "cublas"), Contains("no CUDA backend"));
    CHECK_THROWS_WITH(set_impl("cuda:batch_norm", "cudnn"), Contains("no CUDA backend"));
    CHECK(impl("cuda:conv2d") == "implicit");
  }
  if (!cudnn::is_available()) {
    // cuDNN cannot be chosen without a usable GPU; the choice stays as it was
    const std::string before = impl("cuda:conv2d");
    CHECK_THROWS(set_impl("cuda:conv2d", "cudnn"));
    CHECK(impl("cuda:conv2d") == before);
    if (kCuda) CHECK_THROWS_WITH(set_impl("cuda:batch_norm", "cudnn"), Contains("cuda:batch_norm=cudnn") &&
                                                                          Contains("unavailable"));
  }
}

TEST_CASE("impl: DUEL_IMPL is parsed strictly and names itself in errors", "[impl]") {
  test::ScopedEnv env("DUEL_IMPL");
  setenv("DUEL_IMPL", "cpu:gemm=eigen, sim:conv2d = im2col", 1);  // spaces around items are allowed
  CHECK(detail::impl_from_env("sim:conv2d") == "im2col");
  setenv("DUEL_IMPL", "cpu:gemm=eigen,gpu:conv2d=cudnn", 1);
  CHECK_THROWS_WITH(detail::impl_from_env("cpu:gemm"), Contains("DUEL_IMPL: unknown op 'gpu:conv2d'"));
  setenv("DUEL_IMPL", "cpu:gemm=eigen,sim:conv2d=im2col,cpu:gemm=generic", 1);
  CHECK(detail::impl_from_env("cpu:gemm") == "generic");  // the last one wins
  CHECK(detail::impl_from_env("sim:conv2d") == "im2col");
  CHECK(detail::impl_from_env("cuda:matmul").empty());
  setenv("DUEL_IMPL", "cpu:gemm", 1);
  CHECK_THROWS_WITH(detail::impl_from_env("cpu:gemm"), Contains("DUEL_IMPL: expected a comma-separated list"));
  setenv("DUEL_IMPL", "cpu:gemm=fast", 1);
  CHECK_THROWS_WITH(detail::impl_from_env("cpu:gemm"),
                    Contains("DUEL_IMPL: cpu:gemm has no implementation 'fast'") && Contains("eigen"));
  setenv("DUEL_IMPL", "", 1);
  CHECK(detail::impl_from_env("cpu:gemm").empty());
}

TEST_CASE("impl: DUEL_IMPL drives each family's setting when it is first read", "[impl]") {
  ReloadFromEnv reload;  // destroyed last: after both variables are restored
  test::ScopedEnv impl_env("DUEL_IMPL"), conv_env("DUEL_CUDA_CONV");
  setenv("DUEL_IMPL", "sim:conv2d=im2col", 1);
  sim::detail::reload_conv_algorithm_from_env();
  CHECK(impl("sim:conv2d") == "im2col");
  CHECK(sim::conv_algorithm() == ConvAlgorithm::Im2col);
  // cuDNN per op: batch norm only. The request is taken as it is (cuDNN is checked when a
  // CUDA op runs); cpu and sim tensors never reach cuDNN.
  setenv("DUEL_IMPL", "cuda:batch_norm=cudnn", 1);
  detail::reload_conv_backend_from_env();
  CHECK(cudnn::selected(cudnn::Op::BatchNorm));
  CHECK_FALSE(cudnn::selected(cudnn::Op::Conv2d));
  CHECK(conv_backend() == ConvBackend::Native);
  const cudnn::CallCounts before = cudnn::call_counts();
  for (const char* dev : {"cpu", "sim"}) {
    Tensor x = randn({4, 3, 5, 5}).to(Device(dev)).requires_grad_();
    Tensor y = batch_norm(x, {}, {}, {}, {}, true, 0.1, 1e-5);
    REQUIRE_NOTHROW(y.sum().backward());
  }
  CHECK(cudnn::call_counts().bn_forward_training == before.bn_forward_training);
  // an op DUEL_IMPL does not name falls back to the older variable
  setenv("DUEL_IMPL", "cpu:gemm=auto", 1);
  setenv("DUEL_CUDA_CONV", "im2col", 1);
  sim::detail::reload_conv_algorithm_from_env();
  CHECK(sim::conv_algorithm() == ConvAlgorithm::Im2col);
}

}  // namespace duel::test
