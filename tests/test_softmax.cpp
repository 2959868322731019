// softmax / log_softmax against PyTorch (tests/fixtures/nn_softmax.txt),
// gradcheck / gradgradcheck, stability and errors.
#include <catch2/catch.hpp>

#include <cmath>

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
