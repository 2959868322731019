// cuDNN cross-checks (docs/kernels.md, "cuDNN cross-check").
//
// On a machine with a GPU, duel's hand-written CUDA kernels (kernels/cuda/conv.cu,
// batch_norm.cu) and the cuDNN path (kernels/cudnn/cudnn_ops.cpp, selected with
// set_conv_backend(ConvBackend::Cudnn)) run the same ops on the same inputs, through the
// public front-ends (conv2d / conv_transpose2d / batch_norm and their backward), on the
// DCGAN layer shapes (batch 64) and the MinAtar DQN conv (batch 32) of
// docs/performance.md, plus small cases for groups, dilation and output_padding. Every
// output and gradient is compared three ways: native vs cuDNN, and each against a float64
// CPU reference computed from the same inputs, so a mismatch says which side is wrong.
//
// Tolerances (per element, |got - want| <= atol + rtol * |want|, with atol scaled by the
// largest |want| of the tensor):
//   float32: rtol 1e-4, atol 5e-4 * max|want|  (cuDNN uses plain FP32 math here: TF32 is
//            off, cudnn::allow_tf32() == false; FFT/Winograd algorithms stay well inside)
//   float64: rtol 1e-9, atol 1e-10 * max|want|
// Call counters (cudnn::call_counts) check that each case really ran through cuDNN.
//
// Without a GPU (or without cuDNN in the build) the cross-checks WARN that they were
// skipped and pass; the backend-switch tests below run everywhere.
#include <catch2/catch.hpp>

#include "tests/skip.h"

#include <cmath>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "duel.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cudnn/cudnn_ops.h"

namespace duel::test {
namespace {

using Catch::Matchers::Contains;

// Restores DUEL_CUDNN and the selected backend when a test ends.
struct EnvRestore {
  std::optional<std::string> saved;
  ConvBackend backend = conv_backend();
  EnvRestore() {
    if (const char* e = std::getenv("DUEL_CUDNN")) saved = e;
  }
  ~EnvRestore() {
    if (saved) setenv("DUEL_CUDNN", saved->c_str(), 1);
    else unsetenv("DUEL_CUDNN");
    try {
      detail::reload_conv_backend_from_env();
      set_conv_backend(backend);
    } catch (...) {
      set_conv_backend(ConvBackend::Native);
    }
  }
};

// Max-normalised comparison; returns a description of the worst element on failure.
void compare(const std::string& what, const Tensor& got, const Tensor& want, double rtol, double atol_rel) {
  INFO(what);
  REQUIRE(got.defined());
  REQUIRE(want.defined());
  REQUIRE(shape_str(got.sizes()) == shape_str(want.sizes()));
  std::vector<double> g = got.to(kCPU).to_vector<double>(), w = want.to(kCPU).to_vector<double>();
  double wmax = 0;
  for (double v : w) wmax = std::max(wmax, std::fabs(v));
  const double atol = atol_rel * wmax;
  size_t bad = 0, worst = 0;
  double worst_excess = 0, max_err = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double err = std::fabs(g[i] - w[i]);
    const double excess = err - (atol + rtol * std::fabs(w[i]));
    max_err = std::max(max_err, err);
    if (!(excess <= 0)) {  // NaN counts as bad
      if (bad == 0 || excess > worst_excess || std::isnan(excess)) worst = i, worst_excess = excess;
      ++bad;
    }
  }
  if (bad) {
    std::ostringstream os;
    os << what << ": " << bad << " of " << g.size() << " elements differ; worst at flat index " << worst << ": got "
       << g[worst] << ", want " << w[worst] << " (max |want| " << wmax << ", max |err| " << max_err << ", atol "
       << atol << ", rtol " << rtol << ")";
    FAIL(os.str());
  }
  SUCCEED(what << ": max |err| " << max_err << " (max |want| " << wmax << ")");
}

void tolerances(DType dt, double& rtol, double& atol_rel) {
  if (dt == kFloat32) rtol = 1e-4, atol_rel = 5e-4;
  else rtol = 1e-9, atol_rel = 1e-10;
}

#define SKIP_WITHOUT_CUDNN(what) \
  if (!cudnn::is_available()) SKIP_TEST("cuDNN cross-check skipped (" << what << "): " << cudnn::unavailable_reason())

// ------------------------------------------------------------------------------------ conv
struct ConvCase {
  std::string name;
  bool transposed;
  int64_t N, C, H, W;  // input
  int64_t O, k;        // output channels (conv: weight [O, C/g, k, k]; transposed: [C, O/g, k, k])
  Conv2dOptions opt;
};

Conv2dOptions opts(int64_t stride, int64_t pad, int64_t dil = 1, int64_t groups = 1, int64_t out_pad = 0) {
  Conv2dOptions o;
  o.set_stride(stride).set_padding(pad).set_dilation(dil).set_groups(groups).set_output_padding(out_pad);
  return o;
}

std::vector<ConvCase> conv_cases() {
  return {
      // the DCGAN discriminator (conv2d) and generator (conv_transpose2d) at batch 64, 28x28
      {"D1 1->64 k4s2p1", false, 64, 1, 28, 28, 64, 4, opts(2, 1)},
      {"D2 64->128 k4s2p1", false, 64, 64, 14, 14, 128, 4, opts(2, 1)},
      {"D3 128->256 k4s2p1", false, 64, 128, 7, 7, 256, 4, opts(2, 1)},
      {"D4 256->1 k3s1p0", false, 64, 256, 3, 3, 1, 3, opts(1, 0)},
      {"G1 100->256 k4s1p0 (transposed)", true, 64, 100, 1, 1, 256, 4, opts(1, 0)},
      {"G2 256->128 k3s2p1 (transposed)", true, 64, 256, 4, 4, 128, 3, opts(2, 1)},
      {"G3 128->64 k4s2p1 (transposed)", true, 64, 128, 7, 7, 64, 4, opts(2, 1)},
      {"G4 64->1 k4s2p1 (transposed)", true, 64, 64, 14, 14, 1, 4, opts(2, 1)},
      // the MinAtar DQN conv at batch 32: 4 and 10 input channels -> 16, k3, 10x10 -> 8x8
      {"DQN 4->16 k3", false, 32, 4, 10, 10, 16, 3, opts(1, 0)},
      {"DQN 10->16 k3", false, 32, 10, 10, 10, 16, 3, opts(1, 0)},
      // the options the engine supports: groups, dilation, stride, padding, output_padding
      {"groups 2 dil 2 s2 p2", false, 3, 6, 11, 9, 4, 3, opts(2, 2, 2, 2)},
      {"transposed groups 2 s2 p1 out_pad 1", true, 2, 4, 5, 6, 6, 3, opts(2, 1, 1, 2, 1)},
      // output_padding (2) >= stride (1), allowed since < dilation (3): cuDNN's output size
      // formula cannot express this geometry, so the forward falls back to duel's kernel
      {"transposed s1 dil 3 out_pad 2 (fallback)", true, 2, 3, 5, 5, 2, 2, opts(1, 0, 3, 1, 2)},
  };
}

// A fresh leaf on `dev` holding t's values (never the caller's tensor, even when t is
// already there: every run accumulates into its own .grad).
Tensor leaf(const Tensor& t, Device dev) { return t.to(dev).clone().requires_grad_(); }

struct ConvResult {
  Tensor y, gx, gw;
};

// y = conv(x, w); backward of sum(y * gy).
ConvResult run_conv(const ConvCase& c, const Tensor& x0, const Tensor& w0, const Tensor& gy0, Device dev) {
  Tensor x = leaf(x0, dev), w = leaf(w0, dev);
  Tensor y = c.transposed ? conv_transpose2d(x, w, {}, c.opt) : conv2d(x, w, {}, c.opt);
  y.backward(gy0.to(dev));
  return {y, x.grad(), w.grad()};
}

void check_conv(const ConvCase& c, DType dt, uint64_t seed) {
  INFO("conv case " << c.name << ", " << dtype_name(dt));
  const int64_t g = c.opt.groups;
  Shape xs = {c.N, c.C, c.H, c.W};
  Shape ws = c.transposed ? Shape{c.C, c.O / g, c.k, c.k} : Shape{c.O, c.C / g, c.k, c.k};
  manual_seed(seed);
  Tensor x = randn(xs, TensorOptions(dt));
  Tensor w = randn(ws, TensorOptions(dt)) * (1.0 / std::sqrt(double(ws[1] * c.k * c.k)));
  Tensor yshape = c.transposed ? conv_transpose2d(x, w, {}, c.opt) : conv2d(x, w, {}, c.opt);
  Tensor gy = randn(yshape.sizes(), TensorOptions(dt));

  // float64 CPU reference from the same values
  ConvResult ref = run_conv(c, x.to(kFloat64), w.to(kFloat64), gy.to(kFloat64), kCPU);

  ConvResult native, viacudnn;
  {
    ConvBackendGuard guard(ConvBackend::Native);
    native = run_conv(c, x, w, gy, Device("cuda"));
  }
  const cudnn::CallCounts before = cudnn::call_counts();
  {
    ConvBackendGuard guard(ConvBackend::Cudnn);
    viacudnn = run_conv(c, x, w, gy, Device("cuda"));
  }
  const cudnn::CallCounts after = cudnn::call_counts();
  // conv2d: forward = cudnnConvolutionForward, gx = BackwardData, gw = BackwardFilter;
  // conv_transpose2d: forward = BackwardData, gx = Forward, gw = BackwardFilter.
  // The fallback case: cuDNN cannot express any of its three passes (the 10x10 side is
  // not what cuDNN's output formula gives for a 5x5 one), so all run on duel's kernels.
  if (c.name.find("fallback") == std::string::npos) {
    CHECK(after.conv_forward == before.conv_forward + 1);
    CHECK(after.conv_backward_data == before.conv_backward_data + 1);
    CHECK(after.conv_backward_filter == before.conv_backward_filter + 1);
  } else {
    CHECK(after.conv_forward == before.conv_forward);
    CHECK(after.conv_backward_data == before.conv_backward_data);
    CHECK(after.conv_backward_filter == before.conv_backward_filter);
  }

  double rtol, atol;
  tolerances(dt, rtol, atol);
  const char* names[3] = {"y", "grad x", "grad w"};
  const Tensor* n[3] = {&native.y, &native.gx, &native.gw};
  const Tensor* d[3] = {&viacudnn.y, &viacudnn.gx, &viacudnn.gw};
  const Tensor* r[3] = {&ref.y, &ref.gx, &ref.gw};
  for (int i = 0; i < 3; ++i) {
    compare(c.name + " " + names[i] + ": cudnn vs native", *d[i], *n[i], rtol, atol);
    compare(c.name + " " + names[i] + ": cudnn vs cpu float64", *d[i], r[i]->to(dt), rtol, atol);
    compare(c.name + " " + names[i] + ": native vs cpu float64", *n[i], r[i]->to(dt), rtol, atol);
  }
}

// ------------------------------------------------------------------------------ batch norm
struct BnResult {
  Tensor y, gx, gw, gb, running_mean, running_var, y_eval, gx_eval, gw_eval;
};

// One training step (forward, running-stat update, backward of sum(y * gy)), then an eval
// forward with the updated running statistics and its backward.
BnResult run_bn(const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& gy0, Device dev) {
  const int64_t C = x0.size(1);
  const DType dt = x0.dtype();
  Tensor x = leaf(x0, dev), w = leaf(w0, dev), b = leaf(b0, dev);
  Tensor rm = (0.1 * ones({C}, TensorOptions(dt))).to(dev), rv = (2.0 * ones({C}, TensorOptions(dt))).to(dev);
  Tensor gy = gy0.to(dev);
  Tensor y = batch_norm(x, w, b, rm, rv, /*training=*/true, /*momentum=*/0.1, /*eps=*/1e-5);
  y.backward(gy);
  BnResult r{y, x.grad(), w.grad(), b.grad(), rm, rv, {}, {}, {}};
  Tensor xe = leaf(x0, dev), we = leaf(w0, dev), be = leaf(b0, dev);
  Tensor ye = batch_norm(xe, we, be, rm, rv, /*training=*/false, 0.1, 1e-5);
  ye.backward(gy);
  r.y_eval = ye;
  r.gx_eval = xe.grad();
  r.gw_eval = we.grad();
  return r;
}

void check_bn(const Shape& shape, DType dt, uint64_t seed) {
  INFO("batch_norm " << shape_str(shape) << ", " << dtype_name(dt));
  const int64_t C = shape[1];
  manual_seed(seed);
  // a non-zero mean per element, so the centring matters
  Tensor x = randn(shape, TensorOptions(dt)) * 2.0 + 0.5;
  Tensor w = randn({C}, TensorOptions(dt)), b = randn({C}, TensorOptions(dt)), gy = randn(shape, TensorOptions(dt));

  BnResult ref = run_bn(x.to(kFloat64), w.to(kFloat64), b.to(kFloat64), gy.to(kFloat64), kCPU);
  BnResult native, viacudnn;
  {
    ConvBackendGuard guard(ConvBackend::Native);
    native = run_bn(x, w, b, gy, Device("cuda"));
  }
  const cudnn::CallCounts before = cudnn::call_counts();
  {
    ConvBackendGuard guard(ConvBackend::Cudnn);
    viacudnn = run_bn(x, w, b, gy, Device("cuda"));
  }
  const cudnn::CallCounts after = cudnn::call_counts();
  CHECK(after.bn_forward_training == before.bn_forward_training + 1);
  CHECK(after.bn_backward == before.bn_backward + 1);

  double rtol, atol;
  tolerances(dt, rtol, atol);
  const std::string s = "batch_norm " + shape_str(shape);
  const char* names[9] = {"y",           "grad x",      "grad weight", "grad bias", "running_mean (momentum 0.1)",
                          "running_var (unbiased, momentum 0.1)", "eval y", "eval grad x", "eval grad weight"};
  auto fields = [](BnResult& r) {
    return std::vector<Tensor*>{&r.y, &r.gx, &r.gw, &r.gb, &r.running_mean, &r.running_var, &r.y_eval, &r.gx_eval,
                                &r.gw_eval};
  };
  auto n = fields(native), d = fields(viacudnn), r = fields(ref);
  for (int i = 0; i < 9; ++i) {
    compare(s + " " + names[i] + ": cudnn vs native", *d[i], *n[i], rtol, atol);
    compare(s + " " + names[i] + ": cudnn vs cpu float64", *d[i], r[i]->to(dt), rtol, atol);
  }
}

}  // namespace

// ----------------------------------------------------------------- the backend switch ----
TEST_CASE("cudnn: backend switch defaults, env var and errors", "[cudnn]") {
  EnvRestore restore;
  unsetenv("DUEL_CUDNN");
  detail::reload_conv_backend_from_env();
  CHECK(conv_backend() == ConvBackend::Native);
  CHECK(std::string(conv_backend_name(ConvBackend::Cudnn)) == "cudnn");
  CHECK(std::string(conv_backend_name(ConvBackend::Native)) == "native");

  // DUEL_CUDNN is a request, read without validation (a CPU-only program keeps working)
  setenv("DUEL_CUDNN", "1", 1);
  detail::reload_conv_backend_from_env();
  CHECK(conv_backend() == ConvBackend::Cudnn);
  setenv("DUEL_CUDNN", "native", 1);
  detail::reload_conv_backend_from_env();
  CHECK(conv_backend() == ConvBackend::Native);
  setenv("DUEL_CUDNN", "yes please", 1);
  CHECK_THROWS_WITH(detail::reload_conv_backend_from_env(),
                    Contains("DUEL_CUDNN") && Contains("expected 0, 1, native or cudnn") && Contains("yes please"));
  unsetenv("DUEL_CUDNN");
  detail::reload_conv_backend_from_env();

  // Native can always be selected
  REQUIRE_NOTHROW(set_conv_backend(ConvBackend::Native));
  CHECK(conv_backend() == ConvBackend::Native);

  if (!cudnn::is_available()) {
    const std::string reason = cudnn::unavailable_reason();
    INFO("unavailable_reason: " << reason);
    CHECK(!reason.empty());
#if !defined(DUEL_WITH_CUDA)
    CHECK_THAT(reason, Contains("without CUDA"));
    CHECK_FALSE(cudnn::built_with_cudnn());
#elif !defined(DUEL_WITH_CUDNN)
    CHECK_THAT(reason, Contains("without cuDNN"));
    CHECK_FALSE(cudnn::built_with_cudnn());
#else
    CHECK(cudnn::built_with_cudnn());
    if (!cuda::is_available()) CHECK_THAT(reason, Contains("no CUDA device available"));
#endif
    // selecting cuDNN fails with that reason and leaves the backend unchanged
    CHECK_THROWS_WITH(set_conv_backend(ConvBackend::Cudnn), Contains("set_conv_backend(cudnn)") && Contains(reason));
    CHECK(conv_backend() == ConvBackend::Native);
    CHECK_THROWS_WITH(ConvBackendGuard(ConvBackend::Cudnn), Contains("cuDNN backend is unavailable"));
    CHECK(conv_backend() == ConvBackend::Native);
    WARN("cuDNN unavailable here (" << reason << "): backend selection errors checked, cross-checks skipped");
  } else {
    {
      ConvBackendGuard guard(ConvBackend::Cudnn);
      CHECK(conv_backend() == ConvBackend::Cudnn);
    }
    CHECK(conv_backend() == ConvBackend::Native);
    CHECK_THAT(cudnn::version_string(), Contains("built against cuDNN"));
  }
}

TEST_CASE("cudnn: cpu and sim tensors ignore the switch", "[cudnn]") {
  EnvRestore restore;
  // Force the request through the environment (set_conv_backend would refuse without a GPU).
  setenv("DUEL_CUDNN", "1", 1);
  detail::reload_conv_backend_from_env();
  REQUIRE(conv_backend() == ConvBackend::Cudnn);
  const cudnn::CallCounts before = cudnn::call_counts();
  manual_seed(7);
  for (const char* dev : {"cpu", "sim"}) {
    INFO("device " << dev);
    Tensor x = randn({2, 3, 6, 6}, TensorOptions(kFloat64)).to(Device(dev)).requires_grad_();
    Tensor w = randn({4, 3, 3, 3}, TensorOptions(kFloat64)).to(Device(dev)).requires_grad_();
    Tensor y = batch_norm(conv2d(x, w, {}, opts(2, 1)), {}, {}, {}, {}, true, 0.1, 1e-5);
    REQUIRE_NOTHROW(y.sum().backward());
    CHECK(x.grad().defined());
  }
  const cudnn::CallCounts after = cudnn::call_counts();
  CHECK(after.conv_forward == before.conv_forward);
  CHECK(after.conv_backward_data == before.conv_backward_data);
  CHECK(after.conv_backward_filter == before.conv_backward_filter);
  CHECK(after.bn_forward_training == before.bn_forward_training);
  CHECK(after.bn_backward == before.bn_backward);
}

TEST_CASE("cudnn: direct calls name the op and what was expected", "[cudnn]") {
  Tensor x = zeros({1, 2, 4, 4}), w = zeros({3, 2, 3, 3}), y = zeros({1, 3, 2, 2});
  Conv2dGeometry g;
  g.N = 1, g.C = 2, g.H = 4, g.W = 4, g.O = 3, g.kH = 3, g.kW = 3, g.outH = 2, g.outW = 2;
  const float *xp = x.data<float>(), *wp = w.data<float>();
  float* yp = y.data<float>();
  Tensor m = zeros({2}), s = ones({2}), out = zeros({1, 2, 4, 4});
  if (cudnn::built_with_cudnn()) {
    // host pointers (a CPU tensor's data) are refused before any cuDNN call, GPU or not
    CHECK_THROWS_WITH(cudnn::conv2d_forward<float>(xp, wp, yp, g),
                      Contains("conv2d") && Contains("x must be on a cuda device"));
    Tensor gx = zeros({1, 2, 4, 4});
    CHECK_THROWS_WITH(cudnn::conv2d_backward_input<float>(yp, wp, gx.data<float>(), g),
                      Contains("conv2d_input_grad") && Contains("on a cuda device"));
    CHECK_THROWS_WITH(cudnn::batch_norm_forward<float>(xp, nullptr, nullptr, 1, 2, 16, 1e-5, m.data<float>(),
                                                       s.data<float>(), out.data<float>()),
                      Contains("batch_norm") && Contains("input must be on a cuda device"));
  } else {
    CHECK_THROWS_WITH(cudnn::conv2d_forward<float>(xp, wp, yp, g),
                      Contains("conv2d") && Contains("cuDNN backend was selected") && Contains("without"));
    CHECK_THROWS_WITH(cudnn::batch_norm_forward<float>(xp, nullptr, nullptr, 1, 2, 16, 1e-5, m.data<float>(),
                                                       s.data<float>(), out.data<float>()),
                      Contains("batch_norm") && Contains("without"));
  }
}

// ------------------------------------------------------------------- GPU cross-checks ----
TEST_CASE("cudnn: conv2d / conv_transpose2d forward and backward vs duel's CUDA kernels", "[cudnn][gpu]") {
  SKIP_WITHOUT_CUDNN("conv");
  cudnn::set_allow_tf32(false);
  uint64_t seed = 100;
  for (const ConvCase& c : conv_cases()) check_conv(c, kFloat32, seed++);
  // float64 on the smaller shapes (cuDNN's double algorithms are slow)
  for (const ConvCase& c : conv_cases())
    if (c.name.rfind("D1", 0) == 0 || c.name.rfind("G4", 0) == 0 || c.name.rfind("DQN", 0) == 0 ||
        c.name.find("groups") != std::string::npos)
      check_conv(c, kFloat64, seed++);
}

TEST_CASE("cudnn: conv with algorithm search by timing (Find)", "[cudnn][gpu]") {
  SKIP_WITHOUT_CUDNN("conv, Find");
  cudnn::set_algo_search(cudnn::AlgoSearch::Find);
  try {
    check_conv(conv_cases()[1], kFloat32, 500);  // D2
    check_conv(conv_cases()[6], kFloat32, 501);  // G3
  } catch (...) {
    cudnn::set_algo_search(cudnn::AlgoSearch::Heuristic);
    throw;
  }
  cudnn::set_algo_search(cudnn::AlgoSearch::Heuristic);
}

TEST_CASE("cudnn: batch_norm training, running stats, eval and backward vs duel's CUDA kernels", "[cudnn][gpu]") {
  SKIP_WITHOUT_CUDNN("batch_norm");
  uint64_t seed = 300;
  // DCGAN: [64,128,7,7] (D2 output), [64,64,14,14] (G3 output), [64,256,4,4] (G1 output),
  // and a 2-D [N, C] input (BatchNorm1d)
  for (const Shape& s : {Shape{64, 128, 7, 7}, Shape{64, 64, 14, 14}, Shape{64, 256, 4, 4}, Shape{64, 128}})
    check_bn(s, kFloat32, seed++);
  for (const Shape& s : {Shape{64, 64, 14, 14}, Shape{8, 5, 3, 3}}) check_bn(s, kFloat64, seed++);
}

}  // namespace duel::test
