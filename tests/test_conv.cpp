// conv2d, conv_transpose2d, conv1d, conv_transpose1d against PyTorch
// (tests/fixtures/nn_conv.txt, written by tests/fixtures/make_nn_fixtures.py),
// gradcheck / gradgradcheck, and the error messages.
#include <array>
#include <catch2/catch.hpp>

#include "duel.h"
#include "kernels/cpu/conv.h"  // cpu::detail::implicit_conv_passes
#include "tests/fixture.h"

using namespace duel;
using namespace duel::test;

namespace {

std::vector<int64_t> iv(const Tensor& t) { return t.to_vector<int64_t>(); }

// Fixture inputs: x, w, [b], stride, padding, [output_padding], dilation, groups.
Conv2dOptions opts2d(const TensorList& in, size_t k, bool transposed) {
  auto pair = [&](size_t i) { auto v = iv(in[i]); return std::array<int64_t, 2>{v.at(0), v.at(1)}; };
  Conv2dOptions o;
  o.stride = pair(k++);
  o.padding = pair(k++);
  if (transposed) o.output_padding = pair(k++);
  o.dilation = pair(k++);
  o.groups = iv(in[k]).at(0);
  return o;
}

Conv1dOptions opts1d(const TensorList& in, size_t k, bool transposed) {
  Conv1dOptions o;
  o.stride = iv(in[k++]).at(0);
  o.padding = iv(in[k++]).at(0);
  if (transposed) o.output_padding = iv(in[k++]).at(0);
  o.dilation = iv(in[k++]).at(0);
  o.groups = iv(in[k]).at(0);
  return o;
}

// The number of inputs tells whether the case has a bias.
FxFn conv2d_call = [](const TensorList& in) {
  bool bias = in.size() == 7;
  return TensorList{conv2d(in[0], in[1], bias ? in[2] : Tensor(), opts2d(in, bias ? 3 : 2, false))};
};
FxFn conv_transpose2d_call = [](const TensorList& in) {
  bool bias = in.size() == 8;
  return TensorList{conv_transpose2d(in[0], in[1], bias ? in[2] : Tensor(), opts2d(in, bias ? 3 : 2, true))};
};
FxFn conv1d_call = [](const TensorList& in) {
  bool bias = in.size() == 7;
  return TensorList{conv1d(in[0], in[1], bias ? in[2] : Tensor(), opts1d(in, bias ? 3 : 2, false))};
};
FxFn conv_transpose1d_call = [](const TensorList& in) {
  bool bias = in.size() == 8;
  return TensorList{conv_transpose1d(in[0], in[1], bias ? in[2] : Tensor(), opts1d(in, bias ? 3 : 2, true))};
};

}  // namespace

TEST_CASE("conv: forward and backward match PyTorch, gradcheck and gradgradcheck", "[nn][conv]") {
  FxTable table = {
      {"conv2d_basic", conv2d_call},
      {"conv2d_groups", conv2d_call},
      {"conv2d_partial", conv2d_call},
      {"conv2d_depthwise", conv2d_call},
      {"conv2d_1x1", conv2d_call},
      {"conv2d_batch", conv2d_call},
      {"conv_transpose2d_basic", conv_transpose2d_call},
      {"conv_transpose2d_groups", conv_transpose2d_call},
      {"conv_transpose2d_dil_outpad", conv_transpose2d_call},
      {"conv_transpose2d_stride3", conv_transpose2d_call},
      {"conv1d_basic", conv1d_call},
      {"conv1d_groups", conv1d_call},
      {"conv_transpose1d_basic", conv_transpose1d_call},
      {"conv_transpose1d_groups", conv_transpose1d_call},
  };
  // every case: float64 (contiguous and non-contiguous leaves), float32, gradcheck (both layouts)
  // and gradgradcheck on these
  run_fixture_family("nn_conv.txt", table,
                     {"conv2d_basic", "conv2d_groups", "conv2d_partial", "conv2d_depthwise", "conv_transpose2d_basic",
                      "conv_transpose2d_groups", "conv_transpose2d_dil_outpad", "conv1d_basic", "conv1d_groups"});
}

TEST_CASE("conv: input given as a permuted (NHWC-stored) view", "[nn][conv]") {
  // x stored as [N, H, W, C] and viewed as [N, C, H, W]; compared with the same values stored contiguously.
  // The contiguous result itself is checked against PyTorch above.
  Tensor nhwc = det_values({2, 5, 4, 3}, -1, 1, 7);
  Tensor x = nhwc.permute({0, 3, 1, 2});
  REQUIRE_FALSE(x.is_contiguous());
  Tensor w = det_values({4, 3, 3, 2}, -0.5, 0.5, 8);
  Conv2dOptions o;
  o.set_padding(1).set_stride(2);
  check_close(conv2d(x, w, {}, o), conv2d(x.contiguous(), w, {}, o), 1e-14, 1e-14, "permuted input");

  // gradcheck with a transposed weight view and a permuted input
  Tensor xl = det_values({1, 2, 3, 4}, -1, 1, 9).permute({0, 1, 3, 2}).detach().requires_grad_();  // [1,2,4,3]
  Tensor wl = det_values({2, 3, 2, 2}, -1, 1, 10).transpose(0, 1).detach().requires_grad_();   // [3,2,2,2]
  REQUIRE_FALSE(xl.is_contiguous());
  REQUIRE_FALSE(wl.is_contiguous());
  CHECK(gradcheck([](const TensorList& in) { return conv2d(in[0], in[1], {}, Conv2dOptions().set_padding(1)); },
                  {xl, wl}));
  CHECK(gradgradcheck(
      [](const TensorList& in) { return conv_transpose2d(in[0].narrow(1, 0, 2).transpose(2, 3).contiguous(),
                                                         in[1].narrow(0, 0, 2), {}, Conv2dOptions().set_stride(2)); },
      {xl, wl}));
}

TEST_CASE("conv: gradgradcheck of a conv -> leaky_relu -> conv net", "[nn][conv]") {
  Tensor x = det_values({2, 2, 5, 5}, -1, 1, 11).requires_grad_();
  Tensor w1 = det_values({3, 2, 3, 3}, -0.6, 0.6, 12).requires_grad_();
  Tensor b1 = det_values({3}, -0.2, 0.2, 13).requires_grad_();
  Tensor w2 = det_values({2, 3, 2, 2}, -0.6, 0.6, 14).requires_grad_();
  auto net = [](const TensorList& in) {
    Tensor h = leaky_relu(conv2d(in[0], in[1], in[2], Conv2dOptions().set_stride(2).set_padding(1)), 0.2);
    return conv2d(h, in[3], {}, Conv2dOptions().set_dilation(1));
  };
  // no pre-activation sits near the kink (finite differences would straddle it)
  {
    NoGradGuard ng;
    Tensor pre = conv2d(x, w1, b1, Conv2dOptions().set_stride(2).set_padding(1));
    REQUIRE(min(abs(pre)).item() > 1e-3);
  }
  CHECK(gradcheck(net, {x, w1, b1, w2}));
  CHECK(gradgradcheck(net, {x, w1, b1, w2}));
}

TEST_CASE("conv: error messages", "[nn][conv]") {
  Tensor x = zeros({1, 3, 5, 5}, kFloat64);
  SECTION("channel mismatch names both shapes") {
    Tensor w = zeros({4, 2, 3, 3}, kFloat64);
    REQUIRE_THROWS_WITH(conv2d(x, w), Catch::Contains("[1, 3, 5, 5]") && Catch::Contains("[4, 2, 3, 3]"));
    REQUIRE_THROWS_WITH(conv_transpose2d(x, zeros({2, 2, 3, 3}, kFloat64)),
                        Catch::Contains("[1, 3, 5, 5]") && Catch::Contains("[2, 2, 3, 3]"));
    REQUIRE_THROWS_WITH(conv1d(zeros({1, 3, 8}, kFloat64), zeros({2, 4, 3}, kFloat64)),
                        Catch::Contains("[1, 3, 8]") && Catch::Contains("[2, 4, 3]"));
  }
  SECTION("groups must divide the channels") {
    REQUIRE_THROWS_WITH(conv2d(zeros({1, 4, 5, 5}, kFloat64), zeros({3, 2, 3, 3}, kFloat64), {},
                               Conv2dOptions().set_groups(2)),
                        Catch::Contains("divisible by groups 2"));
  }
  SECTION("kernel larger than the input") {
    REQUIRE_THROWS_WITH(conv2d(zeros({1, 1, 2, 6}, kFloat64), zeros({1, 1, 3, 3}, kFloat64)),
                        Catch::Contains("too small") && Catch::Contains("[1, 1, 2, 6]") && Catch::Contains("3x3"));
    // stride 2: (2 - 3) / 2 must not truncate to 0 and give a 1-row output
    REQUIRE_THROWS_WITH(conv2d(zeros({1, 1, 2, 6}, kFloat64), zeros({1, 1, 3, 3}, kFloat64), {},
                               Conv2dOptions().set_stride(2)),
                        Catch::Contains("too small"));
    // dilation makes the effective kernel 5 wide
    REQUIRE_THROWS_WITH(conv2d(zeros({1, 1, 4, 4}, kFloat64), zeros({1, 1, 3, 3}, kFloat64), {},
                               Conv2dOptions().set_dilation(2)),
                        Catch::Contains("too small"));
  }
  SECTION("bias of the wrong size") {
    REQUIRE_THROWS_WITH(conv2d(x, zeros({4, 3, 3, 3}, kFloat64), zeros({3}, kFloat64)),
                        Catch::Contains("bias of shape [3]") && Catch::Contains("4 output channels"));
  }
  SECTION("wrong ranks and options") {
    REQUIRE_THROWS_WITH(conv2d(zeros({3, 5, 5}, kFloat64), zeros({4, 3, 3, 3}, kFloat64)),
                        Catch::Contains("4-D input") && Catch::Contains("[3, 5, 5]"));
    REQUIRE_THROWS_WITH(conv2d(x, zeros({4, 3, 3, 3}, kFloat64), {}, Conv2dOptions().set_stride(0)),
                        Catch::Contains("stride must be positive"));
    REQUIRE_THROWS_WITH(conv_transpose2d(x, zeros({3, 2, 3, 3}, kFloat64), {},
                                         Conv2dOptions().set_stride(2).set_output_padding(2)),
                        Catch::Contains("output_padding"));
    REQUIRE_THROWS_WITH(conv2d(x, zeros({4, 3, 3, 3}, kFloat32)), Catch::Contains("float32"));
  }
}

// The CPU's float32 convolutions run as an implicit GEMM by default (cpu:conv2d=implicit,
// kernels/cpu/conv.cpp): the GEMM gathers patches from the image and scatters the input
// gradient itself. Every pass is checked against the same convolution in float64 (im2col +
// Eigen, the path the fixtures and gradchecks above cover) and against the float32 im2col path,
// over geometries that reach each branch: padding (a bordered copy) and none (the image read in
// place), stride and dilation (gathered panels) and stride 1 on wide rows (copied panels), 1x1,
// groups, a 1x1 output, K and O past one GEMM K block (accumulating into the stored output;
// scatter-adding twice), and conv_transpose2d (whose forward pass is the input gradient).
TEST_CASE("conv: the implicit-GEMM path against im2col and against float64", "[nn][conv]") {
  struct Case {
    Shape x, w;
    std::array<int64_t, 2> stride, padding, dilation;
    int64_t groups;
    bool transposed;
  };
  const std::vector<Case> cases = {
      {{5, 3, 13, 11}, {7, 3, 4, 4}, {2, 2}, {1, 1}, {1, 1}, 1, false},     // DCGAN's discriminator
      {{3, 4, 9, 10}, {6, 2, 3, 5}, {1, 1}, {2, 1}, {2, 2}, 2, false},      // groups, dilation, odd kernel
      {{2, 5, 8, 8}, {3, 5, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1, false},       // 1x1
      {{4, 3, 6, 7}, {5, 3, 3, 3}, {1, 1}, {0, 0}, {1, 1}, 1, false},       // no border
      {{2, 2, 40, 40}, {3, 2, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, false},     // wide rows
      {{9, 16, 4, 4}, {1, 16, 4, 4}, {1, 1}, {0, 0}, {1, 1}, 1, false},     // 1x1 output (D4)
      {{3, 5, 9, 8}, {4, 5, 3, 2}, {2, 1}, {1, 0}, {1, 1}, 1, false},       // stride 2x1, padding 1x0
      {{3, 64, 6, 6}, {20, 64, 4, 4}, {1, 1}, {1, 1}, {1, 1}, 1, false},    // K = 1024: three K blocks
      {{2, 8, 5, 5}, {400, 8, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, false},     // O = 400: two for gx
      {{4, 6, 5, 5}, {6, 3, 4, 4}, {2, 2}, {1, 1}, {1, 1}, 1, true},        // transposed (G)
  };
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const Case& c = cases[ci];
    INFO("case " << ci << ": x " << shape_str(c.x) << " w " << shape_str(c.w));
    Generator gen(100 + ci);
    Tensor x64 = randn(c.x, TensorOptions(kFloat64), &gen), w64 = randn(c.w, TensorOptions(kFloat64), &gen);
    Conv2dOptions o;
    o.stride = c.stride, o.padding = c.padding, o.dilation = c.dilation, o.groups = c.groups;
    // y, dL/dx, dL/dw for L = sum(y * r), r fixed
    auto passes = [&](DType dt) {
      Tensor x = cast(x64, dt).detach().requires_grad_(), w = cast(w64, dt).detach().requires_grad_();
      Tensor y = c.transposed ? conv_transpose2d(x, w, {}, o) : conv2d(x, w, {}, o);
      Generator rg(7);
      Tensor r = randn(y.sizes(), TensorOptions(dt), &rg);
      TensorList g = autograd::grad({sum(y * r)}, {x, w});
      return TensorList{cast(y.detach(), kFloat64), cast(g[0], kFloat64), cast(g[1], kFloat64)};
    };
    const TensorList want = passes(kFloat64);
    const int64_t before = cpu::detail::implicit_conv_passes();
    TensorList implicit_ = passes(kFloat32);
    CHECK(cpu::detail::implicit_conv_passes() - before == 3);  // all three passes took the implicit path
    TensorList im2col;
    {
      ImplGuard guard("cpu:conv2d", "im2col");
      im2col = passes(kFloat32);
    }
    for (int i = 0; i < 3; ++i) {
      INFO("pass " << i << " (y, dx, dw)");
      const double scale = max(abs(want[i])).item();
      CHECK(allclose(implicit_[i], want[i], 1e-5, 1e-5 * scale));
      CHECK(allclose(im2col[i], want[i], 1e-5, 1e-5 * scale));
      CHECK(allclose(implicit_[i], im2col[i], 1e-5, 1e-5 * scale));
    }
  }
}

TEST_CASE("conv: cpu:conv2d chooses the path, and eigen and float64 always take im2col", "[nn][conv][impl]") {
  Generator gen(3);
  Tensor x = randn({2, 3, 8, 8}, {}, &gen), w = randn({4, 3, 3, 3}, {}, &gen);
  CHECK(impl("cpu:conv2d") == "implicit");
  int64_t before = cpu::detail::implicit_conv_passes();
  {
    ImplGuard guard("cpu:conv2d", "im2col");
    conv2d(x, w);
  }
  {
    ImplGuard guard("cpu:gemm", "eigen");
    conv2d(x, w);
  }
  conv2d(cast(x, kFloat64), cast(w, kFloat64));
  CHECK(cpu::detail::implicit_conv_passes() == before);
  conv2d(x, w);
  CHECK(cpu::detail::implicit_conv_passes() == before + 1);
}
