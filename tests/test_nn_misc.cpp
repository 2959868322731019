// embedding, prelu, elu against PyTorch (tests/fixtures/nn_misc.txt), dropout's
// statistics, gradcheck / gradgradcheck, errors.
#include <catch2/catch.hpp>

#include <cmath>

#include "duel.h"
#include "tests/fixture.h"

using namespace duel;
using namespace duel::test;

namespace {
FxFn embedding_call = [](const TensorList& in) { return TensorList{embedding(in[0], in[1])}; };
FxFn prelu_call = [](const TensorList& in) { return TensorList{prelu(in[0], in[1])}; };
FxFn elu_call = [](const TensorList& in) { return TensorList{elu(in[0], in[1].to_vector<double>()[0])}; };
}  // namespace

TEST_CASE("nn misc: embedding, prelu, elu match PyTorch, gradcheck and gradgradcheck", "[nn][misc]") {
  FxTable table = {
      {"embedding", embedding_call}, {"embedding_1d", embedding_call}, {"prelu_channels", prelu_call},
      {"prelu_shared", prelu_call},  {"elu_1", elu_call},              {"elu_05", elu_call},
      {"elu_large", elu_call},
  };
  run_fixture_family("nn_misc.txt", table, {"*"});
}

TEST_CASE("nn misc: dropout zeroes about p of the values, scales the rest, and masks the gradient the same way",
          "[nn][misc]") {
  manual_seed(123);
  const int64_t n = 20000;
  const double p = 0.3;
  Tensor x = full({n}, 2.0, kFloat64).requires_grad_();
  Tensor y = dropout(x, p, true);
  y.sum().backward();
  std::vector<double> yv = y.to_vector<double>(), gv = x.grad().to_vector<double>();
  int64_t zeros_ = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (yv[i] == 0) {
      ++zeros_;
      REQUIRE(gv[i] == 0);
    } else {
      REQUIRE(yv[i] == Approx(2.0 / (1 - p)));
      REQUIRE(gv[i] == Approx(1.0 / (1 - p)));
    }
  }
  // binomial(n, p): sd = sqrt(n p (1-p)) ~ 65; allow 5 sd
  CHECK(std::abs(zeros_ - p * n) < 5 * std::sqrt(n * p * (1 - p)));
  CHECK(dropout(x, p, false).is_same(x));
  CHECK(max(abs(dropout(x, 1.0, true))).item() == 0);
  REQUIRE_THROWS_WITH(dropout(x, 1.5, true), Catch::Contains("[0, 1]"));
}

TEST_CASE("nn misc: error messages", "[nn][misc]") {
  Tensor w = zeros({5, 3}, kFloat64);
  REQUIRE_THROWS_WITH(embedding(from_vector(std::vector<int64_t>{0, 5}, {2}, kInt64), w),
                      Catch::Contains("index 5") && Catch::Contains("size 5"));
  REQUIRE_THROWS_WITH(embedding(zeros({2}, kFloat64), w), Catch::Contains("int64"));
  REQUIRE_THROWS_WITH(prelu(zeros({2, 3, 4}, kFloat64), zeros({4}, kFloat64)),
                      Catch::Contains("4 parameters") && Catch::Contains("[2, 3, 4]"));
}
