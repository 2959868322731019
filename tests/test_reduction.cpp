// Reductions (tensor/ops/reduction.h) against PyTorch fixtures
// (tests/fixtures/reduction.txt), gradcheck/gradgradcheck, and edge cases.
#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>

#include "tests/fixture.h"

using namespace duel;
using namespace duel::test;

namespace {

#define FX(...) [](const TensorList& x) -> TensorList { return {__VA_ARGS__}; }
#define FX2(EXPR) [](const TensorList& x) -> TensorList { auto r = EXPR; return {r.first, r.second}; }

const FxTable& reduction_table() {
  static const FxTable t = {
      {"sum_all", FX(sum(x[0]))},
      {"sum_dim1", FX(sum(x[0], {1}))},
      {"sum_dims02", FX(x[0].sum({2, 0}))},
      {"sum_keep_neg", FX(sum(x[0], {-1}, true))},
      {"sum_0d", FX(sum(x[0]))},
      {"sum_size0_dim0", FX(sum(x[0], {0}))},
      {"sum_size0_dim1", FX(sum(x[0], {1}))},
      {"sum_int", FX(sum(x[0], {0}))},
      {"sum_bool", FX(sum(x[0]))},
      {"sum_size1", FX(sum(x[0], {1, 2}))},
      {"mean_all", FX(mean(x[0]))},
      {"mean_dim1_keep", FX(mean(x[0], {1}, true))},
      {"mean_neg", FX(x[0].mean({-1, -2}))},
      {"var_all", FX(var(x[0]))},
      {"var_dim_biased_keep", FX(var(x[0], {1}, false, true))},
      {"var_dims02", FX(var(x[0], {0, 2}))},
      {"std_all", FX(duel::std(x[0]))},
      {"std_dim1_biased", FX(duel::std(x[0], {1}, false))},
      {"amax_all_ties", FX(amax(x[0]))},
      {"amax_dim1_ties", FX(amax(x[0], {1}))},
      {"amin_dims_keep_ties", FX(amin(x[0], {0, 2}, true))},
      {"amax_dim0", FX(amax(x[0], {0}))},
      {"amin_all", FX(amin(x[0]))},
      {"max_all_ties", FX(max(x[0]))},
      {"min_all", FX(min(x[0]))},
      {"max_dim1", FX2(max(x[0], 1))},
      {"max_dim0_keep", FX2(max(x[0], 0, true))},
      {"min_dim_neg", FX2(min(x[0], -1))},
      {"min_dim1_keep", FX2(min(x[0], 1, true))},
      {"argmax_dim1", FX(argmax(x[0], 1))},
      {"argmin_dim0_keep", FX(argmin(x[0], 0, true))},
      {"max_dim_int", FX2(max(x[0], 1))},
      {"logsumexp_dim1", FX(logsumexp(x[0], {1}))},
      {"logsumexp_dims_keep", FX(logsumexp(x[0], {0, 2}, true))},
      {"logsumexp_large", FX(logsumexp(x[0], {1}))},
      {"norm2_all", FX(norm(x[0]))},
      {"norm2_dim1_keep", FX(norm(x[0], 2.0, {1}, true))},
      {"norm1_dim0", FX(norm(x[0], 1.0, {0}))},
      {"norm2_zero_row", FX(norm(x[0], 2.0, {1}))},
      {"sum_to_31", FX(sum_to(x[0], {3, 1}))},
      {"sum_to_13", FX(sum_to(x[0], {1, 3}))},
      {"sum_to_4", FX(sum_to(x[0], {4}))},
  };
  return t;
}

}  // namespace

TEST_CASE("reduction: forward/backward vs PyTorch fixtures, gradcheck", "[reduction]") {
  // gradgradcheck on every case that gets gradcheck
  run_fixture_family("reduction.txt", reduction_table(), {"*"});
}

TEST_CASE("reduction: gradgradcheck with non-contiguous leaves", "[reduction][gradgrad]") {
  Tensor nc = noncontiguous_copy(det_values({3, 4}, -1, 1, 11)).requires_grad_();
  REQUIRE_FALSE(nc.is_contiguous());
  CHECK(gradgradcheck([](const TensorList& x) { return sum(x[0] * x[0], {0}); }, {nc}));
  CHECK(gradgradcheck([](const TensorList& x) { return mean(x[0].t() * x[0].t(), {1}, true); }, {nc}));
  CHECK(gradgradcheck([](const TensorList& x) { return duel::std(x[0], {1}); }, {nc}));
  CHECK(gradgradcheck([](const TensorList& x) { return logsumexp(x[0].t(), {0}); }, {nc}));
}

TEST_CASE("reduction: large sums match a serial reference (parallel kernel paths)", "[reduction]") {
  // full reduction of a long row (split across threads), many outputs, few long rows, strided input
  for (auto shape : std::vector<Shape>{{200000}, {512, 300}, {3, 40000}}) {
    int64_t n = shape_numel(shape);
    std::vector<double> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = std::sin(0.37 * (double)i) + 0.001 * (double)(i % 7);
    Tensor t = from_vector(v, shape, TensorOptions(kFloat64));
    double total = std::accumulate(v.begin(), v.end(), 0.0);
    CHECK(sum(t).item() == Approx(total).epsilon(1e-12).margin(1e-9));
    double mx = *std::max_element(v.begin(), v.end());
    CHECK(amax(t).item() == mx);
    if (shape.size() == 2) {
      int64_t R = shape[0], C = shape[1];
      std::vector<double> rows(R, 0.0), cols(C, 0.0);
      for (int64_t i = 0; i < R; ++i)
        for (int64_t j = 0; j < C; ++j) rows[i] += v[i * C + j], cols[j] += v[i * C + j];
      check_values(sum(t, {1}), rows, {R}, 1e-12, 1e-9, "row sums");
      check_values(sum(t, {0}), cols, {C}, 1e-12, 1e-9, "column sums");
      check_values(sum(t.t(), {1}), cols, {C}, 1e-12, 1e-9, "transposed row sums");
      // float32 sums accumulate in double
      Tensor f = t.to(kFloat32);
      CHECK(sum(f).item() == Approx(total).epsilon(1e-5).margin(1e-3));
    }
  }
}

TEST_CASE("reduction: max/min along a dim return the first extreme index", "[reduction]") {
  Tensor a = tensor({{1.0, 5.0, 5.0, 2.0}, {-3.0, -3.0, 0.0, -4.0}}, kFloat64).requires_grad_();
  auto [mx, imx] = max(a, 1);
  CHECK(imx.to_vector<int64_t>() == std::vector<int64_t>{1, 2});
  CHECK(mx.to_vector<double>() == std::vector<double>{5.0, 0.0});
  auto [mn, imn] = min(a, 1);
  CHECK(imn.to_vector<int64_t>() == std::vector<int64_t>{0, 3});
  // the gradient of max-along-dim goes only to the returned index
  mx.sum().backward();
  CHECK(a.grad().to_vector<double>() == std::vector<double>{0, 1, 0, 0, 0, 0, 1, 0});
  CHECK(argmax(a, 0).to_vector<int64_t>() == std::vector<int64_t>{0, 0, 0, 0});
  CHECK(imx.dtype() == kInt64);
  CHECK_FALSE(imx.requires_grad());
}

TEST_CASE("reduction: NaN propagates through max/amax", "[reduction]") {
  Tensor a = tensor({1.0, NAN, 3.0}, kFloat64);
  CHECK(std::isnan(amax(a).item()));
  CHECK(std::isnan(amin(a).item()));
  CHECK(std::isnan(max(a, 0).first.item()));
  CHECK(max(a, 0).second.item() == 1);
}

TEST_CASE("reduction: zero-size and 0-d inputs", "[reduction]") {
  Tensor e = zeros({0, 3}, kFloat64);
  CHECK(sum(e).item() == 0.0);
  CHECK(sum(e, {0}).sizes() == Shape{3});
  CHECK(std::isnan(mean(e).item()));
  REQUIRE_THROWS_WITH(amax(e), Catch::Contains("amax") && Catch::Contains("size 0") && Catch::Contains("[0, 3]"));
  REQUIRE_THROWS_WITH(max(e, 0), Catch::Contains("max") && Catch::Contains("[0, 3]"));
  Tensor s = scalar_tensor(2.5, kFloat64).requires_grad_();
  CHECK(sum(s).dim() == 0);
  CHECK(sum(s, {0}).item() == 2.5);
  CHECK(mean(s).item() == 2.5);
  CHECK(amax(s).item() == 2.5);
  // a size-1 dim reduced with keepdim
  Tensor k = ones({2, 1, 3});
  CHECK(sum(k, {1}, true).sizes() == Shape{2, 1, 3});
}

TEST_CASE("reduction: errors", "[reduction][errors]") {
  Tensor a = zeros({2, 3});
  REQUIRE_THROWS_WITH(sum(a, {2}), Catch::Contains("sum") && Catch::Contains("dim 2"));
  REQUIRE_THROWS_WITH(sum(a, {1, -1}), Catch::Contains("sum") && Catch::Contains("repeats"));
  REQUIRE_THROWS_WITH(mean(zeros({2}, kInt64)), Catch::Contains("mean") && Catch::Contains("int64"));
  REQUIRE_THROWS_WITH(norm(a, 3.0), Catch::Contains("norm") && Catch::Contains("p = 3"));
  REQUIRE_THROWS_WITH(sum_to(a, {4}), Catch::Contains("sum_to") && Catch::Contains("[2, 3]"));
}

TEST_CASE("reduction: logsumexp with infinite rows", "[reduction]") {
  Tensor a = tensor({{-INFINITY, -INFINITY}, {INFINITY, 1.0}, {0.0, 0.0}}, kFloat64);
  auto v = logsumexp(a, {1}).to_vector<double>();
  CHECK(v[0] == -INFINITY);
  CHECK(v[1] == INFINITY);
  CHECK(v[2] == Approx(std::log(2.0)));
  // reducing an empty dim gives -inf, as in PyTorch
  Tensor e = logsumexp(zeros({0, 3}, kFloat64), {0});
  CHECK(e.sizes() == Shape{3});
  CHECK(e.to_vector<double>() == std::vector<double>(3, -INFINITY));
}

TEST_CASE("reduction: the outer-reduction path (unit-stride kept dims) equals the strided path bit for bit",
          "[reduction]") {
  // b has its kept dim at unit stride (the outer-reduction path); a holds the same values with
  // the kept dim at stride 2 (the output-by-output path). Sums must agree exactly: each output
  // adds its elements in the same order on both paths.
  struct Case {
    Shape shape;
    Dims dims;
    int64_t narrow_dim, narrow_len;  // narrow_dim >= 0: take a prefix, so the reduced dims do not merge
  };
  for (DType dt : {kFloat32, kFloat64}) {
    for (const Case& c : {Case{{64, 6272}, {0}, -1, 0}, Case{{1000, 300}, {0}, -1, 0}, Case{{3, 17}, {0}, -1, 0},
                          Case{{5, 40, 33}, {0, 1}, -1, 0}, Case{{4, 7, 300}, {0, 1}, 1, 4},
                          Case{{2, 9, 6, 20}, {0, 1, 2}, 1, 5}}) {
      INFO("shape " << shape_str(c.shape) << " dtype " << dtype_name(dt));
      Shape s2 = c.shape;
      s2.push_back(2);
      Tensor base = randn(s2, TensorOptions(dt));
      Tensor a = base.select((int64_t)c.shape.size(), 0);  // kept dim at stride 2
      Tensor b = a.contiguous();                             // the same values at unit stride
      if (c.narrow_dim >= 0) {
        a = a.narrow(c.narrow_dim, 0, c.narrow_len);
        b = b.narrow(c.narrow_dim, 0, c.narrow_len);
      }
      CHECK(sum(b, c.dims).to_vector<double>() == sum(a, c.dims).to_vector<double>());
      CHECK(amax(b, c.dims).to_vector<double>() == amax(a, c.dims).to_vector<double>());
      CHECK(amin(b, c.dims).to_vector<double>() == amin(a, c.dims).to_vector<double>());
      // and both against a float64 reference
      Tensor ref = sum(b.to(kFloat64), c.dims);
      CHECK(allclose(sum(b, c.dims).to(kFloat64), ref, dt == kFloat32 ? 1e-5 : 1e-12, 1e-5));
    }
  }
}
