// softmax / log_softmax against PyTorch (tests/fixtures/nn_softmax.txt),
// gradcheck / gradgradcheck, stability and errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "duel.h"
#include "tests/fixture.h"

using namespace duel;
using namespace duel::test;

namespace {
int64_t dim_of(const TensorList& in) { return in[1].to_vector<int64_t>()[0]; }
FxFn softmax_call = [](const TensorList& in) { return TensorList{softmax(in[0], dim_of(in))}; };
FxFn log_softmax_call = [](const TensorList& in) { return TensorList{log_softmax(in[0], dim_of(in))}; };
}  // namespace

TEST_CASE("softmax: forward and backward match PyTorch, gradcheck and gradgradcheck", "[nn][softmax]") {
  FxTable table;
  for (const char* s : {"d1", "d0", "mid", "neg_dim", "large"}) {
    table[std::string("softmax_") + s] = softmax_call;
    table[std::string("log_softmax_") + s] = log_softmax_call;
  }
  run_fixture_family("nn_softmax.txt", table, {"*"});
}

TEST_CASE("softmax: non-contiguous input, second derivatives through a composite", "[nn][softmax]") {
  Tensor x = det_values({4, 3, 2}, -2, 2, 81).permute({2, 0, 1}).detach().requires_grad_();  // [2, 4, 3]
  REQUIRE_FALSE(x.is_contiguous());
  for (int64_t d : {0, 1, 2}) {
    INFO("dim " << d);
    CHECK(gradgradcheck([d](const TensorList& in) { return softmax(in[0], d) * in[0]; }, {x}));
    CHECK(gradgradcheck([d](const TensorList& in) { return log_softmax(in[0], d) * in[0]; }, {x}));
  }
}

TEST_CASE("softmax: extreme inputs stay finite, log_softmax is exact where softmax underflows", "[nn][softmax]") {
  for (DType dt : {kFloat32, kFloat64}) {
    INFO(dtype_name(dt));
    Tensor x = tensor({{0.0, 200.0, -200.0}, {-1e4, -1e4, -1e4}}, dt).requires_grad_();
    Tensor ls = log_softmax(x, 1);
    // row 0: log_softmax = x - 200 - log(1 + e^-200 + e^-400) = x - 200 (to double precision)
    check_values(ls, {-200, 0, -400, -std::log(3.0), -std::log(3.0), -std::log(3.0)}, {2, 3}, 1e-6, 1e-6,
                 "log_softmax");
    Tensor s = softmax(x, 1);
    check_values(s, {0, 1, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3}, {2, 3}, 1e-6, 1e-30, "softmax");
    (ls * tensor({{1.0, 2.0, 3.0}, {1.0, 0.0, 0.0}}, dt)).sum().backward();
    // d/dx sum(w * log_softmax) = w - softmax * sum(w)
    check_values(x.grad(), {1 - 0 * 6, 2 - 6, 3 - 0, 1 - 1.0 / 3, -1.0 / 3, -1.0 / 3}, {2, 3}, 1e-6, 1e-6, "grad");
  }
}

TEST_CASE("softmax: error messages", "[nn][softmax]") {
  REQUIRE_THROWS_WITH(softmax(zeros({2, 3}, kFloat64), 2), Catch::Contains("softmax"));
  REQUIRE_THROWS_WITH(log_softmax(zeros({2, 3}, kInt64), 1), Catch::Contains("floating"));
}

// float rows over the last dim run an AVX2 path (a polynomial exp) where the CPU has it; held
// here against softmax computed in double from the same float inputs, on the row lengths
// around the 8-lane width and the zoo's vocabularies, with masked (-1e9), -inf and NaN entries.
TEST_CASE("softmax: float rows agree with a double-precision reference (the SIMD path)", "[nn][softmax]") {
  Generator gen(11);
  for (int64_t D : {1, 3, 8, 9, 17, 64, 4168, 5000}) {
    for (double scale : {1.0, 30.0}) {
      INFO("D " << D << ", scale " << scale);
      const int64_t rows = 3;
      std::vector<float> x = (randn({rows, D}, TensorOptions(kFloat32), &gen) * scale).to_vector<float>();
      for (int64_t d = 1; d < D; d += 3) x[D + d] = -1e9f;  // row 1: masked entries
      if (D > 2) x[2 * D + 2] = -std::numeric_limits<float>::infinity();
      Tensor t = from_vector(x, {rows, D});
      std::vector<float> s = softmax(t, 1).to_vector<float>(), ls = log_softmax(t, 1).to_vector<float>();
      for (int64_t r = 0; r < rows; ++r) {
        double mx = -INFINITY, sum = 0;
        for (int64_t d = 0; d < D; ++d) mx = std::max(mx, (double)x[r * D + d]);
        for (int64_t d = 0; d < D; ++d) sum += std::exp((double)x[r * D + d] - mx);
        for (int64_t d = 0; d < D; ++d) {
          const double ref = std::exp((double)x[r * D + d] - mx) / sum;
          const double log_ref = (double)x[r * D + d] - mx - std::log(sum);
          INFO("row " << r << ", d " << d << ", x " << x[r * D + d]);
          if (ref < 1e-30) {
            REQUIRE(s[r * D + d] < 1e-30f);
          } else {
            // x - max is rounded to float first: an error of up to |x - max| 2^-24 in the exponent
            REQUIRE(std::abs(s[r * D + d] - ref) <= ref * (1e-6 + 1.2e-7 * std::abs(x[r * D + d] - mx)));
          }
          if (std::isfinite(log_ref)) REQUIRE(std::abs(ls[r * D + d] - log_ref) <= 2e-6 * std::max(1.0, std::abs(log_ref)));
        }
      }
      // masked entries get exactly 0
      for (int64_t d = 1; d < D; d += 3) CHECK(s[D + d] == 0.0f);
      if (D > 2) CHECK(s[2 * D + 2] == 0.0f);
    }
  }
  // a NaN anywhere in a row makes the whole row NaN, as in the scalar path and PyTorch
  std::vector<float> with_nan(20, 1.0f);
  with_nan[13] = NAN;
  Tensor n = from_vector(with_nan, {1, 20});
  for (float v : softmax(n, 1).to_vector<float>()) CHECK(std::isnan(v));
}
