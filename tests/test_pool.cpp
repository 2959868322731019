// max/avg pooling, nearest/bilinear upsampling and pixel shuffle against
// PyTorch (tests/fixtures/nn_pool.txt), gradcheck / gradgradcheck, errors.
#include <catch2/catch.hpp>

#include "duel.h"
#include "tests/fixture.h"

using namespace duel;
using namespace duel::test;

namespace {

std::vector<int64_t> iv(const Tensor& t) { return t.to_vector<int64_t>(); }

// Fixture inputs: x, kernel, stride, padding, [count_include_pad].
Pool2dOptions pool_opts(const TensorList& in) {
  Pool2dOptions o;
  auto k = iv(in[1]), s = iv(in[2]), p = iv(in[3]);
  o.kernel = {k[0], k[1]};
  o.stride = {s[0], s[1]};
  o.padding = {p[0], p[1]};
  if (in.size() > 4) o.count_include_pad = iv(in[4])[0] != 0;
  return o;
}

FxFn max_pool_call = [](const TensorList& in) { return TensorList{max_pool2d(in[0], pool_opts(in))}; };
FxFn max_pool_indices_call = [](const TensorList& in) {
  auto [y, idx] = max_pool2d_with_indices(in[0], pool_opts(in));
  return TensorList{y, idx};
};
FxFn avg_pool_call = [](const TensorList& in) { return TensorList{avg_pool2d(in[0], pool_opts(in))}; };
FxFn nearest_call = [](const TensorList& in) { return TensorList{upsample_nearest2d(in[0], iv(in[1])[0])}; };
FxFn bilinear_call = [](const TensorList& in) {
  auto size = iv(in[1]);
  return TensorList{upsample_bilinear2d(in[0], size[0], size[1], iv(in[2])[0] != 0)};
};
FxFn shuffle_call = [](const TensorList& in) { return TensorList{pixel_shuffle(in[0], iv(in[1])[0])}; };

}  // namespace

TEST_CASE("pool: forward and backward match PyTorch, gradcheck and gradgradcheck", "[nn][pool]") {
  FxTable table = {
      {"max_pool2d_overlap", max_pool_call},
      {"max_pool2d_rect", max_pool_call},
      {"max_pool2d_partial", max_pool_call},
      {"max_pool2d_negative", max_pool_call},
      {"max_pool2d_indices", max_pool_indices_call},
      {"avg_pool2d_pad_incl", avg_pool_call},
      {"avg_pool2d_pad_excl", avg_pool_call},
      {"avg_pool2d_rect_incl", avg_pool_call},
      {"avg_pool2d_rect_excl", avg_pool_call},
      {"avg_pool2d_partial", avg_pool_call},
      {"upsample_nearest2d_2", nearest_call},
      {"upsample_nearest2d_3", nearest_call},
      {"upsample_bilinear2d_up", bilinear_call},
      {"upsample_bilinear2d_up_ac", bilinear_call},
      {"upsample_bilinear2d_down", bilinear_call},
      {"upsample_bilinear2d_down_ac", bilinear_call},
      {"upsample_bilinear2d_mixed", bilinear_call},
      {"upsample_bilinear2d_mixed_ac", bilinear_call},
      {"upsample_bilinear2d_to1_ac", bilinear_call},
      {"pixel_shuffle_2", shuffle_call},
      {"pixel_shuffle_3", shuffle_call},
  };
  run_fixture_family("nn_pool.txt", table, {"*"});
}

TEST_CASE("pool: odd-sized non-contiguous inputs (partial windows) pass gradcheck and gradgradcheck", "[nn][pool]") {
  // [1, 2, 5, 7] stored as [1, 7, 5, 2]; 5x7 with 2x2 / stride 2 windows drops the last row and column,
  // 3x3 / stride 2 / pad 1 windows hang over the edges.
  Tensor base = det_values({1, 7, 5, 2}, -2, 2, 21);
  Tensor x = base.permute({0, 3, 2, 1}).detach().requires_grad_();
  REQUIRE(x.sizes() == Shape{1, 2, 5, 7});
  REQUIRE_FALSE(x.is_contiguous());
  Pool2dOptions drop;
  drop.kernel = {2, 2};
  Pool2dOptions over;
  over.kernel = {3, 3};
  over.stride = {2, 2};
  over.padding = {1, 1};
  for (bool incl : {true, false}) {
    over.count_include_pad = incl;
    INFO("count_include_pad " << incl);
    CHECK(gradcheck([&](const TensorList& in) { return avg_pool2d(in[0], over); }, {x}));
    CHECK(gradgradcheck([&](const TensorList& in) { return avg_pool2d(in[0], drop); }, {x}));
  }
  // det_values has no ties closer than the finite-difference step in these windows
  CHECK(gradcheck([&](const TensorList& in) { return max_pool2d(in[0], over); }, {x}));
  CHECK(gradgradcheck([&](const TensorList& in) { return max_pool2d(in[0], drop); }, {x}));
  // a partial-window avg pool composed with something nonlinear: second derivative is not trivially zero
  CHECK(gradgradcheck([&](const TensorList& in) { return avg_pool2d(in[0] * in[0], over) * in[0].narrow(2, 0, 3).narrow(3, 0, 4); },
                      {x}));
}

TEST_CASE("pool: max_pool2d gradient goes to the argmax only, also for -inf padding", "[nn][pool]") {
  // every window of this all-negative input overlaps the padding; padding must behave as -inf
  Tensor x = tensor({{-5.0, -1.0}, {-3.0, -4.0}}, kFloat64).reshape({1, 1, 2, 2}).detach().requires_grad_();
  Pool2dOptions o;
  o.kernel = {2, 2};
  o.stride = {1, 1};
  o.padding = {1, 1};
  Tensor y = max_pool2d(x, o);
  check_values(y, {-5, -1, -1, -3, -1, -1, -3, -3, -4}, {1, 1, 3, 3}, 0, 0, "values");
  y.sum().backward();
  check_values(x.grad(), {1, 4, 3, 1}, {1, 1, 2, 2}, 0, 0, "gradient counts");
}

TEST_CASE("pool: error messages", "[nn][pool]") {
  Tensor x = zeros({1, 1, 2, 5}, kFloat64);
  Pool2dOptions big;
  big.kernel = {3, 3};
  REQUIRE_THROWS_WITH(max_pool2d(x, big), Catch::Contains("[1, 1, 2, 5]") && Catch::Contains("3x3 window"));
  REQUIRE_THROWS_WITH(avg_pool2d(x, big), Catch::Contains("[1, 1, 2, 5]") && Catch::Contains("3x3 window"));
  Pool2dOptions strided = big;  // (2 - 3) / 2 + 1 must not truncate to a 1-row output
  strided.stride = {2, 2};
  REQUIRE_THROWS_WITH(max_pool2d(x, strided), Catch::Contains("3x3 window"));
  REQUIRE_THROWS_WITH(avg_pool2d(zeros({1, 1, 5, 2}, kFloat64), strided), Catch::Contains("3x3 window"));
  Pool2dOptions pad;
  pad.kernel = {2, 2};
  pad.padding = {2, 0};
  REQUIRE_THROWS_WITH(max_pool2d(zeros({1, 1, 6, 6}, kFloat64), pad), Catch::Contains("at most half the kernel"));
  REQUIRE_THROWS_WITH(max_pool2d(zeros({2, 6, 6}, kFloat64), Pool2dOptions{}), Catch::Contains("4-D input"));
  REQUIRE_THROWS_WITH(pixel_shuffle(zeros({1, 6, 2, 2}, kFloat64), 2), Catch::Contains("divisible by upscale^2 = 4"));
  REQUIRE_THROWS_WITH(upsample_bilinear2d(zeros({1, 1, 2, 2}, kFloat64), 0, 3), Catch::Contains("must be positive"));
}
