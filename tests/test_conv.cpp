// conv2d, conv_transpose2d, conv1d, conv_transpose1d against PyTorch
// (tests/fixtures/nn_conv.txt, written by tests/fixtures/make_nn_fixtures.py),
// gradcheck / gradgradcheck, and the error messages.
#include <catch2/catch.hpp>

#include "duel.h"
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
