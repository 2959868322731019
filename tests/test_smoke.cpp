#include <catch2/catch.hpp>

#include "duel.h"

using namespace duel;

TEST_CASE("smoke: add, mul, sum, backward") {
  Tensor x = tensor({1.0, 2.0, 3.0}, kFloat64).requires_grad_();
  Tensor y = (x * x + x).sum();
  REQUIRE(y.item() == Approx(1 + 1 + 4 + 2 + 9 + 3));
  y.backward();
  auto g = x.grad().to_vector<double>();
  REQUIRE(g == std::vector<double>{3, 5, 7});
}
