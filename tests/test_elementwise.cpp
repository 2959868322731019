// Elementwise ops (tensor/ops/elementwise.h) against PyTorch fixtures
// (tests/fixtures/elementwise.txt), gradcheck/gradgradcheck, and edge cases.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "tests/fixture.h"

using namespace duel;
using namespace duel::test;

namespace {

#define FX(...) [](const TensorList& x) -> TensorList { return {__VA_ARGS__}; }

const FxTable& elementwise_table() {
  static const FxTable t = {
      {"add_bcast", FX(x[0] + x[1])},
      {"add_bcast_both", FX(add(x[0], x[1]))},
      {"add_0d", FX(x[0] + x[1])},
      {"add_alpha", FX(add(x[0], x[1], -1.5))},
      {"add_f32_f64", FX(x[0] + x[1])},
      {"add_int", FX(x[0] + x[1])},
      {"add_size0", FX(x[0] + x[1])},
      {"sub", FX(x[0] - x[1])},
      {"sub_alpha", FX(sub(x[0], x[1], 0.5))},
      {"mul_bcast", FX(x[0] * x[1])},
      {"mul_self", FX(mul(x[0], x[0]))},
      {"mul_int_scalar", FX(x[0] * 0.5)},
      {"div", FX(x[0] / x[1])},
      {"div_int", FX(div(x[0], x[1]))},
      {"neg", FX(-x[0])},
      {"pow_tt", FX(pow(x[0], x[1]))},
      {"pow_tt_bcast", FX(pow(x[0], x[1]))},
      {"pow_s2", FX(pow(x[0], 2.0))},
      {"pow_s3", FX(x[0].pow(3.0))},
      {"pow_s05", FX(pow(x[0], 0.5))},
      {"pow_sneg", FX(pow(x[0], -1.5))},
      {"pow_s0", FX(pow(x[0], 0.0))},
      {"pow_s1", FX(pow(x[0], 1.0))},
      {"pow_base", FX(pow(2.5, x[0]))},
      {"maximum_ties", FX(maximum(x[0], x[1]))},
      {"minimum_ties", FX(minimum(x[0], x[1]))},
      {"maximum", FX(maximum(x[0], x[1]))},
      {"minimum", FX(minimum(x[0], x[1]))},
      {"exp", FX(exp(x[0]))},
      {"log", FX(log(x[0]))},
      {"log1p", FX(log1p(x[0]))},
      {"sqrt", FX(sqrt(x[0]))},
      {"rsqrt", FX(rsqrt(x[0]))},
      {"abs", FX(abs(x[0]))},
      {"abs_zero", FX(x[0].abs())},
      {"abs_int", FX(abs(x[0]))},
      {"sign", FX(sign(x[0]))},
      {"square", FX(square(x[0]))},
      {"reciprocal", FX(reciprocal(x[0]))},
      {"sin", FX(sin(x[0]))},
      {"cos", FX(cos(x[0]))},
      {"clamp_edges", FX(clamp(x[0], -0.5, 0.7))},
      {"clamp", FX(clamp(x[0], -0.5, 0.7))},
      {"clamp_min", FX(clamp_min(x[0], -0.3))},
      {"clamp_max", FX(clamp_max(x[0], 0.4))},
      {"clamp_min_int", FX(clamp_min(x[0], -2))},
      {"relu_zero", FX(relu(x[0]))},
      {"relu", FX(relu(x[0]))},
      {"leaky_relu", FX(leaky_relu(x[0]))},
      {"leaky_relu_02_zero", FX(leaky_relu(x[0], 0.2))},
      {"prelu_1", FX(prelu(x[0], x[1]))},
      {"prelu_c", FX(prelu(x[0], x[1]))},
      {"elu", FX(elu(x[0]))},
      {"elu_07_zero", FX(elu(x[0], 0.7))},
      {"tanh", FX(tanh(x[0]))},
      {"sigmoid", FX(sigmoid(x[0]))},
      {"sigmoid_large", FX(sigmoid(x[0]))},
      {"softplus", FX(softplus(x[0]))},
      {"softplus_beta", FX(softplus(x[0], 2.0, 3.0))},
      {"logsigmoid", FX(logsigmoid(x[0]))},
      {"where", FX(where(x[0], x[1], x[2]))},
      {"where_bcast", FX(where(x[0], x[1], x[2]))},
      {"masked_fill", FX(masked_fill(x[0], x[1], -2.0))},
      {"eq", FX(eq(x[0], x[1]))},
      {"ne", FX(x[0] != x[1])},
      {"lt", FX(x[0] < x[1])},
      {"le", FX(le(x[0], x[1]))},
      {"gt", FX(gt(x[0], x[1]))},
      {"ge", FX(x[0] >= x[1])},
      {"gt_scalar", FX(x[0] > 0.5)},
      {"le_scalar", FX(x[0] <= 1.0)},
      {"logical_and", FX(logical_and(x[0], x[1]))},
      {"logical_or", FX(logical_or(x[0], x[1]))},
      {"logical_not", FX(logical_not(x[0]))},
      {"logical_and_float", FX(logical_and(x[0], x[1]))},
      {"add_scalar", FX(x[0] + 2.5)},
      {"rsub_scalar", FX(2.5 - x[0])},
      {"sub_scalar", FX(x[0] - 1.25)},
      {"mul_scalar", FX(x[0] * -3.0)},
      {"rmul_scalar", FX(-3.0 * x[0])},
      {"div_scalar", FX(x[0] / 4.0)},
      {"rdiv_scalar", FX(3.0 / x[0])},
      {"composite", FX(tanh(x[0] * x[1] + exp(-x[0])) / (1.0 + x[1] * x[1]))},
  };
  return t;
}

Tensor leaf(const Shape& s, double lo = -1, double hi = 1, uint64_t salt = 0) {
  return det_values(s, lo, hi, salt).requires_grad_();
}

}  // namespace

TEST_CASE("elementwise: forward/backward vs PyTorch fixtures, gradcheck", "[elementwise]") {
  // gradgradcheck on every case that gets gradcheck
  run_fixture_family("elementwise.txt", elementwise_table(), {"*"});
}

TEST_CASE("elementwise: gradgradcheck on broadcast and non-contiguous inputs", "[elementwise][gradgrad]") {
  Tensor a = leaf({3, 4}, -1, 1, 1);
  Tensor b = leaf({4}, 0.5, 1.5, 2);
  // transposed use of a leaf inside the function
  CHECK(gradgradcheck([](const TensorList& x) { return tanh(x[0].t()) * x[1].unsqueeze(1); }, {a, b}));
  CHECK(gradgradcheck([](const TensorList& x) { return div(x[0], x[1]) ; }, {a, b}));
  CHECK(gradgradcheck([](const TensorList& x) { return log(x[1]) * exp(x[0]); }, {a, b}));
  CHECK(gradgradcheck([](const TensorList& x) { return pow(x[1], x[0]); }, {a, b}));
  // a non-contiguous leaf
  Tensor nc = noncontiguous_copy(det_values({3, 4}, 0.2, 2.0, 3)).requires_grad_();
  REQUIRE_FALSE(nc.is_contiguous());
  REQUIRE(nc.is_leaf());
  CHECK(gradgradcheck([](const TensorList& x) { return sqrt(x[0]) * sigmoid(x[0]); }, {nc}));
  CHECK(gradgradcheck([](const TensorList& x) { return where(x[0] > 1.0, x[0] * x[0], softplus(x[0])); }, {nc}));
}

TEST_CASE("elementwise: relu/leaky_relu/elu/tanh/sigmoid fused backward equals composite formula", "[elementwise]") {
  // Without create_graph the fused kernels run; with create_graph the composite formulas. Both must agree.
  Tensor x = noncontiguous_copy(det_values({4, 5}, -2, 2, 7)).requires_grad_();
  Tensor g = det_values({4, 5}, -1, 1, 8);
  for (auto op : std::vector<std::function<Tensor(const Tensor&)>>{
           [](const Tensor& t) { return relu(t); }, [](const Tensor& t) { return leaky_relu(t, 0.1); },
           [](const Tensor& t) { return elu(t, 0.7); }, [](const Tensor& t) { return tanh(t); },
           [](const Tensor& t) { return sigmoid(t); }}) {
    Tensor g1 = autograd::grad({op(x)}, {x}, {g})[0];
    Tensor g2 = autograd::grad({op(x)}, {x}, {g}, /*create_graph=*/true)[0];
    check_close(g1, g2.detach(), 1e-14, 1e-15, "fused vs composite");
  }
}

TEST_CASE("elementwise: dtype promotion and result dtypes", "[elementwise]") {
  Tensor f32 = ones({2}, kFloat32), f64 = ones({2}, kFloat64), i64 = ones({2}, kInt64), b = ones({2}, kBool);
  CHECK((f32 + f64).dtype() == kFloat64);
  CHECK((i64 + f32).dtype() == kFloat32);
  CHECK((b + i64).dtype() == kInt64);
  CHECK((b + b).dtype() == kInt64);  // arithmetic on masks counts in int64
  CHECK((i64 * 2.0).dtype() == kInt64);  // integral scalar keeps int64
  CHECK((i64 * 0.5).dtype() == kFloat32);
  CHECK((f64 * 0.5).dtype() == kFloat64);
  CHECK((f32 < f64).dtype() == kBool);
  CHECK(div(i64, i64).dtype() == kFloat32);  // true division, as in PyTorch
  CHECK(neg(i64).dtype() == kInt64);
  CHECK(cast(f32, kInt64).dtype() == kInt64);
  CHECK(where(f32 > 0.0, f32, f64).dtype() == kFloat64);
}

TEST_CASE("elementwise: integer division by zero does not crash and follows IEEE", "[elementwise]") {
  Tensor a = from_vector(std::vector<int64_t>{1, -1, 0}, {3}, TensorOptions(kInt64));
  Tensor z = zeros({3}, kInt64);
  Tensor q = a / z;
  auto v = q.to_vector<double>();
  CHECK(std::isinf(v[0]));
  CHECK(v[0] > 0);
  CHECK(std::isinf(v[1]));
  CHECK(v[1] < 0);
  CHECK(std::isnan(v[2]));
}

TEST_CASE("elementwise: casts to bool test for non-zero", "[elementwise]") {
  Tensor f = tensor({0.0, 0.5, -0.25, 2.0, 256.0}, kFloat64);
  CHECK(cast(f, kBool).to_vector<double>() == std::vector<double>{0, 1, 1, 1, 1});
  Tensor i = from_vector(std::vector<int64_t>{0, 256, -1, 512}, {4}, TensorOptions(kInt64));
  CHECK(cast(i, kBool).to_vector<double>() == std::vector<double>{0, 1, 1, 1});
  // float -> int64 truncates toward zero, as in C and PyTorch
  CHECK(cast(tensor({-1.7, 1.7, 2.5}, kFloat64), kInt64).to_vector<int64_t>() == std::vector<int64_t>{-1, 1, 2});
}

TEST_CASE("elementwise: clamp on int64 with infinite bounds", "[elementwise]") {
  Tensor i = from_vector(std::vector<int64_t>{-7, 0, 9}, {3}, TensorOptions(kInt64));
  CHECK(clamp_min(i, -2).to_vector<int64_t>() == std::vector<int64_t>{-2, 0, 9});
  CHECK(clamp_max(i, 3).to_vector<int64_t>() == std::vector<int64_t>{-7, 0, 3});
  CHECK(clamp(i, -1, 1).to_vector<int64_t>() == std::vector<int64_t>{-1, 0, 1});
}

TEST_CASE("elementwise: cast is differentiable between floating dtypes", "[elementwise]") {
  Tensor x = tensor({1.0, 2.0, 3.0}, kFloat64).requires_grad_();
  Tensor y = (cast(x, kFloat32) * tensor({2.0, 3.0, 4.0}, kFloat32)).sum();
  y.backward();
  REQUIRE(x.grad().dtype() == kFloat64);
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 3, 4});
  CHECK(gradcheck([](const TensorList& t) { return cast(cast(t[0], kFloat32), kFloat64) * 2.0; },
                  {tensor({0.5, -0.25}, kFloat64).requires_grad_()},
                  GradcheckOptions{1e-3, 1e-5, 1e-3}));
}

TEST_CASE("elementwise: allclose", "[elementwise]") {
  Tensor a = tensor({1.0, 2.0}, kFloat64);
  CHECK(allclose(a, tensor({1.0, 2.0 + 1e-9}, kFloat64)));
  CHECK_FALSE(allclose(a, tensor({1.0, 2.1}, kFloat64)));
  CHECK_FALSE(allclose(a, tensor({1.0, 2.0, 3.0}, kFloat64)));
  CHECK_FALSE(allclose(tensor({NAN}, kFloat64), tensor({NAN}, kFloat64)));
}

TEST_CASE("elementwise: ops on large non-contiguous and broadcast tensors (parallel kernels)", "[elementwise]") {
  // sizes above the parallel grain, with transposed and stride-0 operands; reference computed by hand
  const int64_t R = 300, C = 257;
  std::vector<double> av(R * C), bv(C);
  for (int64_t i = 0; i < R * C; ++i) av[i] = std::sin(0.001 * i);
  for (int64_t j = 0; j < C; ++j) bv[j] = std::cos(0.01 * j);
  Tensor a = from_vector(av, {R, C}, TensorOptions(kFloat64));
  Tensor b = from_vector(bv, {C}, TensorOptions(kFloat64));
  Tensor at = a.t().contiguous().t();  // same values, column-major storage
  REQUIRE_FALSE(at.is_contiguous());
  Tensor out = at * b + exp(at);
  std::vector<double> expect(R * C);
  for (int64_t i = 0; i < R; ++i)
    for (int64_t j = 0; j < C; ++j) expect[i * C + j] = av[i * C + j] * bv[j] + std::exp(av[i * C + j]);
  check_values(out, expect, {R, C}, 1e-14, 1e-14, "large broadcast");
  Tensor sl = a.slice(1, 1, C, 2);  // strided columns
  Tensor o2 = sl * 2.0;
  std::vector<double> e2;
  for (int64_t i = 0; i < R; ++i)
    for (int64_t j = 1; j < C; j += 2) e2.push_back(av[i * C + j] * 2.0);
  check_values(o2, e2, sl.sizes(), 1e-15, 0, "large strided");
}

TEST_CASE("elementwise: errors name the op and the shapes", "[elementwise][errors]") {
  Tensor a = zeros({2, 3}), b = zeros({4});
  REQUIRE_THROWS_WITH(a + b, Catch::Contains("add") && Catch::Contains("[2, 3]") && Catch::Contains("[4]"));
  REQUIRE_THROWS_WITH(mul(a, zeros({3, 3})), Catch::Contains("mul") && Catch::Contains("[3, 3]"));
  REQUIRE_THROWS_WITH(where(zeros({2, 3}), a, a), Catch::Contains("where") && Catch::Contains("bool"));
  REQUIRE_THROWS_WITH(exp(zeros({2}, kInt64)), Catch::Contains("exp") && Catch::Contains("int64"));
  REQUIRE_THROWS_WITH(clamp(a, 1.0, -1.0), Catch::Contains("clamp"));
  REQUIRE_THROWS_WITH(prelu(zeros({2, 3}), zeros({4})), Catch::Contains("prelu") && Catch::Contains("[2, 3]"));
}

TEST_CASE("elementwise: elu does not produce NaN gradients for large positive inputs", "[elementwise]") {
  Tensor x = tensor({1000.0, -1.0, 0.5}, kFloat32).requires_grad_();
  elu(x).sum().backward();
  auto g = x.grad().to_vector<double>();
  CHECK(g[0] == 1.0);
  CHECK(g[1] == Approx(std::exp(-1.0)).epsilon(1e-6));
  CHECK(g[2] == 1.0);
}

TEST_CASE("elementwise: binary ops on random layouts and broadcasts (property test)", "[elementwise]") {
  // reference: element-wise loops over values read with explicit strides
  uint64_t s = 777;
  auto next = [&s](int64_t n) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return (int64_t)((s >> 33) % (uint64_t)n);
  };
  auto layout = [&next](const Tensor& t) {  // same values, random storage layout
    switch (next(3)) {
      case 0: return t;
      case 1: return noncontiguous_copy(t);
      default: return t.dim() >= 2 ? t.transpose(0, -1).contiguous().transpose(0, -1) : t;
    }
  };
  for (int iter = 0; iter < 200; ++iter) {
    Shape full = {1 + next(4), 1 + next(5), 1 + next(6)};
    Shape sa = full, sb = full;
    for (size_t d = 0; d < 3; ++d) {
      if (next(3) == 0) sa[d] = 1;
      if (next(3) == 0) sb[d] = 1;
    }
    if (next(2)) sb.erase(sb.begin());  // fewer dims
    Tensor a = det_values(sa, -2, 2, iter), b = det_values(sb, 0.5, 2, iter + 1000);
    auto av = a.to_vector<double>(), bv = b.to_vector<double>();
    Shape out = broadcast_shapes(sa, sb, "test");
    std::vector<double> add_ref, div_ref, max_ref;
    for (int64_t i = 0; i < out[0]; ++i)
      for (int64_t j = 0; j < out[1]; ++j)
        for (int64_t k = 0; k < out[2]; ++k) {
          int64_t ia = (sa[0] == 1 ? 0 : i) * sa[1] * sa[2] + (sa[1] == 1 ? 0 : j) * sa[2] + (sa[2] == 1 ? 0 : k);
          size_t o = 3 - sb.size();
          Shape bi = {i, j, k};
          int64_t ib = 0;
          for (size_t d = 0; d < sb.size(); ++d) ib = ib * sb[d] + (sb[d] == 1 ? 0 : bi[d + o]);
          add_ref.push_back(av[ia] + 0.5 * bv[ib]);
          div_ref.push_back(av[ia] / bv[ib]);
          max_ref.push_back(std::max(av[ia], bv[ib]));
        }
    Tensor la = layout(a), lb = layout(b);
    check_values(add(la, lb, 0.5), add_ref, out, 1e-15, 1e-15, "add " + shape_str(sa) + " " + shape_str(sb));
    check_values(la / lb, div_ref, out, 1e-15, 1e-15, "div");
    check_values(maximum(la, lb), max_ref, out, 0, 0, "maximum");
  }
}

// exp and sigmoid of contiguous float tensors run 8 lanes at a time (kernels/cpu/simd_math.h)
// where the CPU has AVX2; held against double precision on lengths around the lane width, on
// values up to the range limit, and at the extremes the scalar formulas take over (overflow,
// denormals, infinities, NaN).
TEST_CASE("elementwise: float exp and sigmoid agree with double precision (the SIMD path)", "[elementwise]") {
  Generator gen(5);
  for (int64_t n : {1, 7, 8, 9, 31, 1000}) {
    std::vector<float> x = (rand({n}, TensorOptions(kFloat32), &gen) * 170.0 - 85.0).to_vector<float>();
    Tensor t = from_vector(x, {n});
    std::vector<float> e = exp(t).to_vector<float>(), s = sigmoid(t).to_vector<float>();
    for (int64_t i = 0; i < n; ++i) {
      INFO("n " << n << ", x " << x[i]);
      const double ref_e = std::exp((double)x[i]), ref_s = 1.0 / (1.0 + std::exp(-(double)x[i]));
      CHECK(std::abs(e[i] - ref_e) <= 3e-7 * ref_e);
      if (ref_s > 1e-37) CHECK(std::abs(s[i] - ref_s) <= 4e-7 * ref_s);
    }
  }
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.0f, 1e-6f, -1e-6f, 88.0f, 89.0f, -88.0f, -104.0f, 80.0f, -80.0f, inf, -inf, NAN, 3.0f,
                          -3.0f, 50.0f, -50.0f};
  std::vector<float> e = exp(from_vector(x, {(int64_t)x.size()})).to_vector<float>();
  std::vector<float> s = sigmoid(from_vector(x, {(int64_t)x.size()})).to_vector<float>();
  for (size_t i = 0; i < x.size(); ++i) {
    INFO("x " << x[i]);
    if (std::isnan(x[i])) {
      CHECK(std::isnan(e[i]));
      CHECK(std::isnan(s[i]));
      continue;
    }
    CHECK(e[i] == std::exp(x[i]));  // this group has values past 80: the scalar formulas, exactly
    const float ref_s = x[i] >= 0 ? 1.0f / (1.0f + std::exp(-x[i])) : std::exp(x[i]) / (1.0f + std::exp(x[i]));
    CHECK(s[i] == ref_s);
  }
  CHECK(std::isinf(e[4]));  // exp(89) overflows
  CHECK(s[9] == 1.0f);
  CHECK(s[10] == 0.0f);
}

// elu of a contiguous float tensor takes the vectorised exp too (then x > 0 ? x : alpha * (e - 1)):
// against double precision around the lane width, and for values whose exp overflows or is NaN.
TEST_CASE("elementwise: float elu agrees with double precision (the SIMD path)", "[elementwise]") {
  Generator gen(6);
  const double alpha = 0.7;
  for (int64_t n : {1, 7, 8, 9, 31, 1000}) {
    std::vector<float> x = (rand({n}, TensorOptions(kFloat32), &gen) * 40.0 - 30.0).to_vector<float>();
    std::vector<float> y = elu(from_vector(x, {n}), alpha).to_vector<float>();
    for (int64_t i = 0; i < n; ++i) {
      INFO("n " << n << ", x " << x[i]);
      const double ref = x[i] > 0 ? x[i] : alpha * std::expm1((double)x[i]);
      CHECK(std::abs(y[i] - ref) <= 4e-7 * std::abs(ref) + 1e-7);  // exp(x) - 1 in float near 0
    }
  }
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.0f, -0.0f, 100.0f, 1e30f, inf, -inf, -200.0f, NAN};
  std::vector<float> y = elu(from_vector(x, {(int64_t)x.size()}), alpha).to_vector<float>();
  CHECK(y[0] == 0.0f);
  CHECK(y[1] == 0.0f);
  CHECK(y[2] == 100.0f);  // exp(100) overflows; the select keeps x
  CHECK(y[3] == 1e30f);
  CHECK(y[4] == inf);
  CHECK(y[5] == float(-alpha));
  CHECK(y[6] == float(-alpha));
  CHECK(std::isnan(y[7]));
}

// tanh of contiguous float tensors runs 8 lanes at a time too: a polynomial below |x| = 0.625,
// 1 - 2 / (e^{2|x|} + 1) above, std::tanh past 40 and for NaN.
TEST_CASE("elementwise: float tanh agrees with double precision (the SIMD path)", "[elementwise]") {
  Generator gen(6);
  auto ulp_error = [](float got, double ref) {
    const double ulp = std::nextafter((float)std::abs(ref), INFINITY) - (float)std::abs(ref);
    return std::abs((double)got - ref) / ulp;
  };
  for (double scale : {0.001, 0.7, 3.0, 20.0, 45.0}) {
    for (int64_t n : {1, 7, 8, 9, 31, 1000}) {
      std::vector<float> x = ((rand({n}, TensorOptions(kFloat32), &gen) * 2.0 - 1.0) * scale).to_vector<float>();
      std::vector<float> y = tanh(from_vector(x, {n})).to_vector<float>();
      for (int64_t i = 0; i < n; ++i) {
        INFO("scale " << scale << ", n " << n << ", x " << x[i] << ", tanh " << y[i]);
        CHECK(ulp_error(y[i], std::tanh((double)x[i])) <= 3.0);
      }
    }
  }
  // both sides of the switch at 0.625, zeros, tiny values, +-40, the saturated range, inf, NaN
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.6249999f, 0.625f, 0.6250001f, -0.6249999f, -0.625f, 0.0f, -0.0f, 1e-30f, -1e-20f,
                          40.0f,      -40.0f, 9.5f,       -9.5f,       inf,     -inf, NAN};
  std::vector<float> y = tanh(from_vector(x, {(int64_t)x.size()})).to_vector<float>();
  for (size_t i = 0; i < x.size(); ++i) {
    INFO("x " << x[i] << ", tanh " << y[i]);
    if (std::isnan(x[i])) {
      CHECK(std::isnan(y[i]));
      continue;
    }
    CHECK(ulp_error(y[i], std::tanh((double)x[i])) <= 3.0);
    CHECK(std::signbit(y[i]) == std::signbit(x[i]));
  }
  CHECK(y[13] == 1.0f);
  CHECK(y[14] == -1.0f);
}
