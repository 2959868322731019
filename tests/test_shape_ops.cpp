// Shape and indexing ops (tensor/ops/shape_ops.h) and the differentiable views
// (Tensor members) against PyTorch fixtures (tests/fixtures/shape_ops.txt),
// gradcheck/gradgradcheck, and error messages.
#include <catch2/catch.hpp>

#include "tests/fixture.h"

using namespace duel;
using namespace duel::test;

namespace {

#define FX(...) [](const TensorList& x) -> TensorList { return {__VA_ARGS__}; }
#define FXV(...) [](const TensorList& x) -> TensorList { return __VA_ARGS__; }

const FxTable& shape_table() {
  static const FxTable t = {
      {"cat0", FX(cat({x[0], x[1], x[2]}, 0))},
      {"cat_last", FX(cat({x[0], x[1]}, -1))},
      {"cat_empty", FX(cat({x[0], x[1]}, 1))},
      {"cat_int", FX(cat({x[0], x[1]}, 0))},
      {"stack0", FX(stack({x[0], x[1], x[2]}, 0))},
      {"stack_last", FX(stack({x[0], x[1]}, -1))},
      {"split2", FXV(split(x[0], 2, 0))},
      {"split_sizes", FXV(split_sizes(x[0], {1, 3, 1}, 1))},
      {"chunk3", FXV(chunk(x[0], 3, 0))},
      {"pad_zero", FX(pad(x[0], {1, 2}))},
      {"pad_value_2d", FX(pad(x[0], {1, 0, 2, 1}, PadMode::Zero, -1.5))},
      {"pad_reflect_1d", FX(pad(x[0], {2, 1}, PadMode::Reflect))},
      {"pad_reflect_2d", FX(pad(x[0], {1, 2, 2, 1}, PadMode::Reflect))},
      {"flip02", FX(flip(x[0], {0, 2}))},
      {"flip_neg", FX(flip(x[0], {-1}))},
      {"repeat", FX(repeat(x[0], {2, 1, 3}))},
      {"repeat_same", FX(repeat(x[0], {2, 2}))},
      {"gather1", FX(gather(x[0], 1, x[1]))},
      {"gather0_small", FX(gather(x[0], 0, x[1]))},
      {"scatter_add1", FX(scatter_add(x[0], 1, x[1], x[2]))},
      {"scatter_add0", FX(scatter_add(x[0], 0, x[1], x[2]))},
      {"index_select0", FX(index_select(x[0], 0, x[1]))},
      {"index_select1", FX(index_select(x[0], 1, x[1]))},
      {"index_add0", FX(index_add(x[0], 0, x[1], x[2]))},
      {"index_add1", FX(index_add(x[0], 1, x[1], x[2]))},
      {"one_hot", FX(one_hot(x[0], 5))},
      {"one_hot_2d", FX(one_hot(x[0], 3, kFloat64))},
      {"slice_scatter", FX(slice_scatter(x[0], x[1], 1, 1, 5, 2))},
      {"slice_scatter0", FX(slice_scatter(x[0], x[1], 0, 0, 2))},
      {"reshape", FX(x[0].reshape({4, -1}))},
      {"reshape_t", FX(x[0].t().reshape({-1}))},
      {"view", FX(x[0].view({6, 4}))},
      {"permute", FX(x[0].permute({2, 0, 1}))},
      {"transpose", FX(x[0].transpose(0, 2))},
      {"t", FX(x[0].t())},
      {"narrow", FX(x[0].narrow(1, 1, 2))},
      {"slice_step", FX(x[0].slice(1, 0, 4, 2))},
      {"slice_neg", FX(x[0].slice(1, -3, 5))},
      {"select", FX(x[0].select(1, -1))},
      {"expand", FX(x[0].expand({2, 3, 4}))},
      {"expand_neg1", FX(x[0].expand({4, -1}))},
      {"squeeze_all", FX(x[0].squeeze())},
      {"squeeze_dim", FX(x[0].squeeze(2))},
      {"unsqueeze", FX(x[0].unsqueeze(1))},
      {"unsqueeze_neg", FX(x[0].unsqueeze(-1))},
      {"flatten12", FX(x[0].flatten(1, 2))},
      {"flatten_all", FX(x[0].flatten())},
      {"contiguous_t", FX(x[0].t().contiguous())},
      {"clone", FX(x[0].clone())},
      {"view_chain", FX(x[0].permute({1, 0, 2}).slice(0, 1, 3).slice(2, 0, 4, 2).reshape({-1, 2}) * 2.0)},
      {"overlapping_views", FX(x[0].slice(1, 0, 3) * x[0].slice(1, 1, 4))},
  };
  return t;
}

}  // namespace

TEST_CASE("shape ops: forward/backward vs PyTorch fixtures, gradcheck", "[shape_ops]") {
  // gradgradcheck on every case that gets gradcheck
  run_fixture_family("shape_ops.txt", shape_table(), {"*"});
}

TEST_CASE("shape ops: split/chunk return views sharing storage", "[shape_ops]") {
  Tensor a = arange(10.0, kFloat64).reshape({5, 2});
  auto parts = split(a, 2, 0);
  REQUIRE(parts.size() == 3);
  CHECK(parts[2].sizes() == Shape{1, 2});
  CHECK(parts[1].storage() == a.storage());
  CHECK(parts[1].offset() == 4);
  auto ch = chunk(a, 2, 1);
  REQUIRE(ch.size() == 2);
  CHECK(ch[1].sizes() == Shape{5, 1});
  CHECK(ch[1].strides() == Shape{2, 1});
  CHECK(ch[1].to_vector<double>() == std::vector<double>{1, 3, 5, 7, 9});
}

TEST_CASE("shape ops: scatter_add with src larger than index (gradient of src)", "[shape_ops]") {
  Tensor self = zeros({2, 4}, kFloat64).requires_grad_();
  Tensor idx = from_vector(std::vector<int64_t>{3, 3, 0, 1}, {2, 2}, TensorOptions(kInt64));
  Tensor src = det_values({2, 3}, -1, 1, 51).requires_grad_();  // src wider than index: column 2 unused
  auto sv = src.to_vector<double>();
  Tensor out = scatter_add(self, 1, idx, src);
  // independent reference: row 0 gets src[0,0]+src[0,1] at col 3; row 1 gets src[1,0] at 0 and src[1,1] at 1
  check_values(out, {0, 0, 0, sv[0] + sv[1], sv[3], sv[4], 0, 0}, {2, 4}, 0, 1e-15, "scatter_add forward");
  Tensor w = det_values({2, 4}, -1, 1, 52);
  (out * w).sum().backward();
  auto wv = w.to_vector<double>();
  check_values(src.grad(), {wv[3], wv[3], 0, wv[4], wv[5], 0}, {2, 3}, 0, 1e-15, "src gradient");
  check_values(self.grad(), wv, {2, 4}, 0, 0, "self gradient");
  CHECK(gradcheck([&idx](const TensorList& x) { return scatter_add(x[0], 1, idx, x[1]); }, {self, src}));
}

TEST_CASE("shape ops: gradgradcheck with non-contiguous leaves", "[shape_ops][gradgrad]") {
  Tensor nc = noncontiguous_copy(det_values({3, 4}, -1, 1, 61)).requires_grad_();
  REQUIRE_FALSE(nc.is_contiguous());
  Tensor idx = from_vector(std::vector<int64_t>{2, 0, 0}, {3}, TensorOptions(kInt64));
  CHECK(gradgradcheck([&idx](const TensorList& x) { return index_select(x[0], 1, idx) * x[0].slice(1, 0, 3); }, {nc}));
  CHECK(gradgradcheck([](const TensorList& x) { return cat({x[0] * x[0], x[0].t().reshape({3, 4})}, 0); }, {nc}));
  CHECK(gradgradcheck([](const TensorList& x) { return pad(x[0] * x[0], {1, 1, 0, 2}, PadMode::Reflect); }, {nc}));
}

TEST_CASE("shape ops: errors", "[shape_ops][errors]") {
  Tensor a = zeros({2, 3});
  REQUIRE_THROWS_WITH(cat({a, zeros({2, 4})}, 0), Catch::Contains("cat") && Catch::Contains("[2, 4]"));
  REQUIRE_THROWS_WITH(cat({a, zeros({2, 3, 1})}, 0), Catch::Contains("cat") && Catch::Contains("[2, 3, 1]"));
  REQUIRE_THROWS_WITH(cat({a, zeros({2, 3}, kFloat64)}, 0), Catch::Contains("float64"));
  REQUIRE_THROWS_WITH(cat({}, 0), Catch::Contains("non-empty"));
  REQUIRE_THROWS_WITH(cat({scalar_tensor(1.0), scalar_tensor(2.0)}, 0), Catch::Contains("cat"));
  REQUIRE_THROWS_WITH(stack({a, zeros({3, 2})}), Catch::Contains("stack") && Catch::Contains("[3, 2]"));
  REQUIRE_THROWS_WITH(split_sizes(a, {1, 1}, 1), Catch::Contains("split") && Catch::Contains("[2, 3]"));
  Tensor bad = from_vector(std::vector<int64_t>{0, 5}, {2}, TensorOptions(kInt64));
  REQUIRE_THROWS_WITH(index_select(a, 1, bad), Catch::Contains("index_select") && Catch::Contains("5"));
  REQUIRE_THROWS_WITH(index_select(a, 1, zeros({2})), Catch::Contains("int64"));
  REQUIRE_THROWS_WITH(gather(a, 1, from_vector(std::vector<int64_t>{0, 3}, {1, 2}, TensorOptions(kInt64))),
                      Catch::Contains("gather") && Catch::Contains("out of bounds"));
  REQUIRE_THROWS_WITH(one_hot(from_vector(std::vector<int64_t>{0, 7}, {2}, TensorOptions(kInt64)), 5),
                      Catch::Contains("7"));
  REQUIRE_THROWS_WITH(pad(zeros({2, 3}), {3, 0}, PadMode::Reflect), Catch::Contains("reflection"));
  REQUIRE_THROWS_WITH(pad(zeros({3}), {1}), Catch::Contains("pad"));
  REQUIRE_THROWS_WITH(repeat(a, {2}), Catch::Contains("repeat") && Catch::Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(slice_scatter(a, zeros({2, 2}), 1, 0, 3), Catch::Contains("slice_scatter") && Catch::Contains("[2, 2]"));
}

TEST_CASE("shape ops: zero-size inputs", "[shape_ops]") {
  Tensor e = zeros({0, 3}, kFloat64).requires_grad_();
  Tensor c = cat({e, ones({2, 3}, kFloat64)}, 0);
  CHECK(c.sizes() == Shape{2, 3});
  c.sum().backward();
  CHECK(e.grad().sizes() == Shape{0, 3});
  CHECK(stack({zeros({0}), zeros({0})}).sizes() == Shape{2, 0});
  Tensor idx = zeros({0}, kInt64);
  CHECK(index_select(ones({2, 3}), 1, idx).sizes() == Shape{2, 0});
  CHECK(flip(zeros({0, 2}), {0}).sizes() == Shape{0, 2});
  CHECK(repeat(zeros({0, 2}), {3, 1}).sizes() == Shape{0, 2});
  // as in PyTorch: split of an empty dim gives one empty piece, chunk gives `chunks` empty pieces
  auto sp = split(zeros({0, 2}), 2, 0);
  REQUIRE(sp.size() == 1);
  CHECK(sp[0].sizes() == Shape{0, 2});
  auto ch = chunk(zeros({0, 2}), 3, 0);
  REQUIRE(ch.size() == 3);
  CHECK(ch[2].sizes() == Shape{0, 2});
  auto ch5 = chunk(zeros({5, 2}), 4, 0);  // ceil(5 / 4) = 2 per chunk: 2, 2, 1
  REQUIRE(ch5.size() == 3);
  CHECK(ch5[2].sizes() == Shape{1, 2});
}

TEST_CASE("shape ops: 0-d inputs", "[shape_ops]") {
  Tensor s = scalar_tensor(2.0, kFloat64);
  Tensor i0 = zeros({1}, kInt64);
  REQUIRE_THROWS_WITH(index_select(s, 0, i0), Catch::Contains("index_select") && Catch::Contains("0-d"));
  REQUIRE_THROWS_WITH(gather(s, 0, zeros({}, kInt64)), Catch::Contains("gather") && Catch::Contains("0-d"));
  REQUIRE_THROWS_WITH(scatter_add(s, 0, zeros({}, kInt64), s), Catch::Contains("scatter_add") && Catch::Contains("0-d"));
  REQUIRE_THROWS_WITH(index_add(s, 0, i0, s), Catch::Contains("index_add") && Catch::Contains("0-d"));
  CHECK(stack({s, s}).sizes() == Shape{2});
  CHECK(one_hot(from_vector(std::vector<int64_t>{2}, {1}, TensorOptions(kInt64)).reshape({}), 3).to_vector<double>() ==
        std::vector<double>{0, 0, 1});
}
