// matmul / linear (tensor/ops/linalg.h) against PyTorch fixtures
// (tests/fixtures/linalg.txt), gradcheck/gradgradcheck, strided operands.
#include <catch2/catch.hpp>

#include "tests/fixture.h"

using namespace duel;
using namespace duel::test;

namespace {

#define FX(...) [](const TensorList& x) -> TensorList { return {__VA_ARGS__}; }

const FxTable& linalg_table() {
  static const FxTable t = {
      {"dot", FX(matmul(x[0], x[1]))},
      {"mv", FX(matmul(x[0], x[1]))},
      {"vm", FX(matmul(x[0], x[1]))},
      {"mm", FX(x[0].matmul(x[1]))},
      {"mm_1x1", FX(matmul(x[0], x[1]))},
      {"mm_outer", FX(matmul(x[0], x[1]))},
      {"bmm", FX(matmul(x[0], x[1]))},
      {"b3_m2", FX(matmul(x[0], x[1]))},
      {"m2_b3", FX(matmul(x[0], x[1]))},
      {"bcast_batch", FX(matmul(x[0], x[1]))},
      {"nd_1d", FX(matmul(x[0], x[1]))},
      {"1d_nd", FX(matmul(x[0], x[1]))},
      {"mm_k0", FX(matmul(x[0], x[1]))},
      {"mm_m0", FX(matmul(x[0], x[1]))},
      {"bmm_k0", FX(matmul(x[0], x[1]))},
      {"linear", FX(linear(x[0], x[1], x[2]))},
      {"linear_nobias_3d", FX(linear(x[0], x[1]))},
      {"linear_1d", FX(linear(x[0], x[1], x[2]))},
      {"matmul_chain", FX(matmul(tanh(matmul(x[0], x[1])), x[2]))},
  };
  return t;
}

// Naive reference product of row-major [M,K] x [K,N] value arrays.
std::vector<double> ref_mm(const std::vector<double>& a, const std::vector<double>& b, int64_t M, int64_t K,
                           int64_t N) {
  std::vector<double> c(M * N, 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) c[m * N + n] += a[m * K + k] * b[k * N + n];
  return c;
}

}  // namespace

TEST_CASE("linalg: forward/backward vs PyTorch fixtures, gradcheck", "[linalg]") {
  // gradgradcheck on every case that gets gradcheck
  run_fixture_family("linalg.txt", linalg_table(), {"*"});
}

TEST_CASE("linalg: matmul with transposed, strided and expanded operands", "[linalg]") {
  // every combination of operand layouts must give the naive product
  const int64_t M = 5, K = 4, N = 3;
  Tensor a = det_values({M, K}, -1, 1, 21), b = det_values({K, N}, -1, 1, 22);
  auto av = a.to_vector<double>(), bv = b.to_vector<double>();
  auto expect = ref_mm(av, bv, M, K, N);
  std::vector<Tensor> as = {a, a.t().contiguous().t(), noncontiguous_copy(a),
                            stack({a, a}, 2).reshape({M, 2 * K}).slice(1, 0, 2 * K, 2)};
  std::vector<Tensor> bs = {b, b.t().contiguous().t(), noncontiguous_copy(b)};
  for (size_t i = 0; i < as.size(); ++i)
    for (size_t j = 0; j < bs.size(); ++j)
      check_values(matmul(as[i], bs[j]), expect, {M, N}, 1e-13, 1e-13,
                   "layout a#" + std::to_string(i) + " b#" + std::to_string(j));

  // stride-0 (expanded) operands: a column/row broadcast along M, K or N
  Tensor col = det_values({M, 1}, -1, 1, 23);
  Tensor a_rows = col.expand({M, K});  // every row constant, stride 0 along K
  Tensor row = det_values({1, K}, -1, 1, 24);
  Tensor a_same = row.expand({M, K});  // every row identical, stride 0 along M
  for (auto& ax : {a_rows, a_same}) {
    auto ref = ref_mm(ax.contiguous().to_vector<double>(), bv, M, K, N);
    check_values(matmul(ax, b), ref, {M, N}, 1e-13, 1e-13, "expanded a");
  }
  Tensor bcol = det_values({1, 1}, -1, 1, 25).expand({K, 1});  // [K,1] with stride 0 along K
  auto refc = ref_mm(av, bcol.contiguous().to_vector<double>(), M, K, 1);
  check_values(matmul(a, bcol), refc, {M, 1}, 1e-13, 1e-13, "expanded b column");
  Tensor brow = det_values({1, N}, -1, 1, 26).expand({K, N});  // stride 0 along K
  auto refr = ref_mm(av, brow.contiguous().to_vector<double>(), M, K, N);
  check_values(matmul(a, brow), refr, {M, N}, 1e-13, 1e-13, "expanded b rows");
  Tensor a1 = det_values({1, 1}, -1, 1, 27).expand({M, 1});  // K = 1, stride 0 along M
  Tensor b1 = det_values({1, N}, -1, 1, 28);
  auto ref1 = ref_mm(a1.contiguous().to_vector<double>(), b1.to_vector<double>(), M, 1, N);
  check_values(matmul(a1, b1), ref1, {M, N}, 1e-13, 1e-13, "expanded K=1");
  Tensor v1 = det_values({1}, -1, 1, 29).expand({K});  // 1-D stride-0 vector
  auto refv = ref_mm(av, v1.contiguous().to_vector<double>(), M, K, 1);
  check_values(matmul(a, v1), refv, {M}, 1e-13, 1e-13, "expanded vector");
}

TEST_CASE("linalg: large and batched products match the naive reference (Eigen paths)", "[linalg]") {
  for (auto dims : std::vector<std::array<int64_t, 4>>{{1, 70, 90, 65}, {16, 5, 7, 3}, {3, 64, 1, 64}}) {
    auto [B, M, K, N] = dims;
    Tensor a = det_values({B, M, K}, -1, 1, 31), b = det_values({B, K, N}, -1, 1, 32);
    auto av = a.to_vector<double>(), bv = b.to_vector<double>();
    std::vector<double> expect;
    for (int64_t i = 0; i < B; ++i) {
      std::vector<double> ai(av.begin() + i * M * K, av.begin() + (i + 1) * M * K);
      std::vector<double> bi(bv.begin() + i * K * N, bv.begin() + (i + 1) * K * N);
      auto ci = ref_mm(ai, bi, M, K, N);
      expect.insert(expect.end(), ci.begin(), ci.end());
    }
    check_values(matmul(a, b), expect, {B, M, N}, 1e-12, 1e-12, "batched f64");
    check_values(matmul(a.to(kFloat32), b.to(kFloat32)), expect, {B, M, N}, 1e-4, 1e-4, "batched f32");
    // transposed storage for both operands
    Tensor at = a.transpose(1, 2).contiguous().transpose(1, 2), bt = b.transpose(1, 2).contiguous().transpose(1, 2);
    check_values(matmul(at, bt), expect, {B, M, N}, 1e-12, 1e-12, "batched transposed");
  }
}

TEST_CASE("linalg: gradgradcheck of matmul forms and non-contiguous leaves", "[linalg][gradgrad]") {
  Tensor a = det_values({3, 4}, -1, 1, 41).requires_grad_();
  Tensor b = det_values({4, 2}, -1, 1, 42).requires_grad_();
  CHECK(gradgradcheck([](const TensorList& x) { return matmul(x[0], x[1]); }, {a, b}));
  CHECK(gradgradcheck([](const TensorList& x) { return matmul(x[1].t(), x[0].t()); }, {a, b}));
  Tensor v = det_values({4}, -1, 1, 43).requires_grad_();
  CHECK(gradgradcheck([](const TensorList& x) { return matmul(x[0], x[1]); }, {a, v}));
  CHECK(gradgradcheck([](const TensorList& x) { return matmul(x[0], x[0]); }, {v}));
  Tensor nc = noncontiguous_copy(det_values({2, 3, 4}, -1, 1, 44)).requires_grad_();
  REQUIRE_FALSE(nc.is_contiguous());
  CHECK(gradcheck([](const TensorList& x) { return matmul(x[0], x[1]); }, {nc, b}));
  CHECK(gradgradcheck([](const TensorList& x) { return matmul(x[0], x[1]) * matmul(x[0], x[1]); }, {nc, b}));
  Tensor w = det_values({2, 4}, -1, 1, 45).requires_grad_(), bias = det_values({2}, -1, 1, 46).requires_grad_();
  CHECK(gradgradcheck([](const TensorList& x) { return tanh(linear(x[0], x[1], x[2])); }, {nc, w, bias}));
}

TEST_CASE("linalg: errors name both shapes", "[linalg][errors]") {
  REQUIRE_THROWS_WITH(matmul(zeros({2, 3}), zeros({4, 5})),
                      Catch::Contains("matmul") && Catch::Contains("[2, 3]") && Catch::Contains("[4, 5]"));
  REQUIRE_THROWS_WITH(matmul(zeros({2, 2, 3}), zeros({3, 3, 4})),
                      Catch::Contains("matmul") && Catch::Contains("[2, 2, 3]") && Catch::Contains("[3, 3, 4]"));
  REQUIRE_THROWS_WITH(matmul(zeros({3}), zeros({4})), Catch::Contains("[3]") && Catch::Contains("[4]"));
  REQUIRE_THROWS_WITH(matmul(zeros({2, 3}), zeros({3, 2}, kFloat64)),
                      Catch::Contains("matmul") && Catch::Contains("float32") && Catch::Contains("float64"));
  REQUIRE_THROWS_WITH(matmul(zeros({2, 3}, kInt64), zeros({3, 2}, kInt64)), Catch::Contains("int64"));
  REQUIRE_THROWS_WITH(matmul(scalar_tensor(1.0), zeros({3})), Catch::Contains("at least 1 dim"));
  REQUIRE_THROWS_WITH(linear(zeros({2, 3}), zeros({4, 5})),
                      Catch::Contains("linear") && Catch::Contains("[2, 3]") && Catch::Contains("[4, 5]"));
  REQUIRE_THROWS_WITH(linear(zeros({2, 3}), zeros({4, 3}), zeros({5})),
                      Catch::Contains("linear") && Catch::Contains("bias") && Catch::Contains("[5]"));
}
