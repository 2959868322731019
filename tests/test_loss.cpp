// Every loss of tensor/ops/loss.h against PyTorch (tests/fixtures/nn_loss.txt;
// gaussian_kl against torch.distributions' closed form), gradcheck /
// gradgradcheck, extreme probabilities / logits, and errors.
#include <catch2/catch.hpp>

#include <cmath>

#include "duel.h"
#include "tests/fixture.h"

using namespace duel;
using namespace duel::test;

namespace {

// fixture config: reduction 0 mean, 1 sum, 2 none (make_nn_fixtures.py)
Reduction red(const Tensor& t) {
  switch (t.to_vector<int64_t>()[0]) {
    case 0: return Reduction::Mean;
    case 1: return Reduction::Sum;
    default: return Reduction::None;
  }
}
double num(const Tensor& t) { return t.to_vector<double>()[0]; }

using Loss2 = Tensor (*)(const Tensor&, const Tensor&, Reduction);
FxFn two(Loss2 f) {
  return [f](const TensorList& in) { return TensorList{f(in[0], in[1], red(in[2]))}; };
}
FxFn huber_call = [](const TensorList& in) { return TensorList{huber_loss(in[0], in[1], num(in[3]), red(in[2]))}; };
FxFn smooth_l1_call = [](const TensorList& in) {
  return TensorList{smooth_l1_loss(in[0], in[1], num(in[3]), red(in[2]))};
};
FxFn ce_call = [](const TensorList& in) { return TensorList{cross_entropy(in[0], in[1], red(in[2]), num(in[3]))}; };

}  // namespace

TEST_CASE("loss: forward and backward match PyTorch, gradcheck and gradgradcheck", "[nn][loss]") {
  FxTable table;
  for (std::string r : {"mean", "sum", "none"}) {
    table["mse_" + r] = two(mse_loss);
    table["l1_" + r] = two(l1_loss);
    table["bce_" + r] = two(binary_cross_entropy);
    table["bce_logits_" + r] = two(binary_cross_entropy_with_logits);
    table["nll_" + r] = two(nll_loss);
    table["gaussian_kl_" + r] = two(gaussian_kl);
    table["cross_entropy_" + r] = ce_call;
    table["cross_entropy_ls_" + r] = ce_call;
  }
  table["huber_mean"] = table["huber_none"] = table["huber_sum"] = huber_call;
  for (const char* n : {"smooth_l1_mean_b05", "smooth_l1_none_b2", "smooth_l1_sum_b1", "smooth_l1_mean_b0"})
    table[n] = smooth_l1_call;
  table["cross_entropy_4d"] = table["cross_entropy_4d_ls"] = ce_call;
  table["nll_3d_none"] = two(nll_loss);
  run_fixture_family("nn_loss.txt", table, {"*"});
}

TEST_CASE("loss: binary_cross_entropy at probabilities 0 and 1 is clamped like PyTorch, gradients finite",
          "[nn][loss]") {
  // PyTorch clamps each log at -100: loss = 100 where the target class has probability 0.
  for (DType dt : {kFloat64, kFloat32}) {
    INFO(dtype_name(dt));
    Tensor p = tensor({0.0, 0.0, 1.0, 1.0, 0.5}, dt).requires_grad_();
    Tensor y = tensor({0.0, 1.0, 0.0, 1.0, 1.0}, dt);
    Tensor l = binary_cross_entropy(p, y, Reduction::None);
    check_values(l, {0, 100, 100, 0, std::log(2.0)}, {5}, 1e-6, 1e-6, "loss");
    l.sum().backward();
    std::vector<double> g = p.grad().to_vector<double>();
    for (size_t i = 0; i < g.size(); ++i) {
      INFO("element " << i << " gradient " << g[i]);
      CHECK(std::isfinite(g[i]));
    }
    // Where no log is clamped, the derivative of the loss itself. (PyTorch's kernel uses
    // (p - y) / max(p (1 - p), 1e-12) instead, which gives 0 at p = 0, y = 0 and -1e12 at p = 0, y = 1;
    // duel differentiates the clamped function: 0 where a log is clamped.)
    CHECK(g[0] == Approx(1.0));   // p = 0, y = 0: d/dp -log(1 - p) = 1
    CHECK(g[1] == 0.0);           // p = 0, y = 1: log(p) clamped at -100
    CHECK(g[2] == 0.0);           // p = 1, y = 0: log(1 - p) clamped
    CHECK(g[3] == Approx(-1.0));  // p = 1, y = 1: d/dp -log(p) = -1
    CHECK(g[4] == Approx(-2.0));
  }
}

TEST_CASE("loss: binary_cross_entropy_with_logits is stable for huge logits, in float32 too", "[nn][loss]") {
  Tensor x = tensor({0.0, 0.0, 1e4, -1e4, 88.0, -88.0, 1e30, -1e30}, kFloat32).requires_grad_();
  Tensor y = tensor({0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.25, 0.75}, kFloat32);
  Tensor l = binary_cross_entropy_with_logits(x, y, Reduction::None);
  // max(x,0) - x*y + log1p(exp(-|x|)) evaluated by hand
  check_values(l, {std::log(2.0), std::log(2.0), 1e4, 1e4, 0, 0, 0.75e30, 0.75e30}, {8}, 1e-6, 1e-6, "loss");
  l.sum().backward();
  // sigmoid(x) - y
  check_values(x.grad(), {0.5, -0.5, 1, -1, 0, 0, 0.75, -0.75}, {8}, 1e-6, 1e-6, "gradient");
}

TEST_CASE("loss: cross_entropy equals log_softmax + nll and label smoothing mixes in the uniform target",
          "[nn][loss]") {
  // Independent reference computed here with std::exp/std::log.
  std::vector<double> z = {0.5, -1.0, 2.0, 0.0, 1.5, 1.5, -0.5, 3.0};  // [2, 4]
  std::vector<int64_t> t = {2, 3};
  Tensor logits = from_vector(z, {2, 4}, kFloat64);
  Tensor target = from_vector(t, {2}, kInt64);
  const double eps = 0.3;
  double expect = 0;
  for (int n = 0; n < 2; ++n) {
    double m = 0;
    for (int c = 0; c < 4; ++c) m += std::exp(z[n * 4 + c]);
    double lse = std::log(m), mean_nll = 0;
    for (int c = 0; c < 4; ++c) mean_nll += (lse - z[n * 4 + c]) / 4;
    expect += (1 - eps) * (lse - z[n * 4 + t[n]]) + eps * mean_nll;
  }
  CHECK(cross_entropy(logits, target, Reduction::Sum, eps).item() == Approx(expect).epsilon(1e-12));
}

TEST_CASE("loss: error messages", "[nn][loss]") {
  Tensor a = zeros({3, 4}, kFloat64), b = zeros({4, 3}, kFloat64);
  for (auto f : {mse_loss, l1_loss, binary_cross_entropy, binary_cross_entropy_with_logits, gaussian_kl}) {
    REQUIRE_THROWS_WITH(f(a, b, Reduction::Mean), Catch::Contains("[3, 4]") && Catch::Contains("[4, 3]"));
  }
  REQUIRE_THROWS_WITH(huber_loss(a, b), Catch::Contains("[3, 4]") && Catch::Contains("[4, 3]"));
  REQUIRE_THROWS_WITH(smooth_l1_loss(a, b), Catch::Contains("[3, 4]") && Catch::Contains("[4, 3]"));
  REQUIRE_THROWS_WITH(huber_loss(a, a, 0.0), Catch::Contains("delta must be positive"));
  SECTION("cross_entropy target out of range names the index and the number of classes") {
    Tensor target = from_vector(std::vector<int64_t>{1, 4, 0}, {3}, kInt64);
    REQUIRE_THROWS_WITH(cross_entropy(a, target), Catch::Contains("index 4") && Catch::Contains("size 4"));
    Tensor neg = from_vector(std::vector<int64_t>{1, -1, 0}, {3}, kInt64);
    REQUIRE_THROWS_WITH(nll_loss(a, neg), Catch::Contains("index -1") && Catch::Contains("size 4"));
  }
  SECTION("class targets must be int64 and match the batch") {
    REQUIRE_THROWS_WITH(cross_entropy(a, zeros({3}, kFloat64)), Catch::Contains("int64"));
    REQUIRE_THROWS_WITH(nll_loss(a, from_vector(std::vector<int64_t>{0, 1}, {2}, kInt64)),
                        Catch::Contains("[3, 4]") && Catch::Contains("[2]"));
    REQUIRE_THROWS_WITH(cross_entropy(a, from_vector(std::vector<int64_t>{0, 1, 2}, {3}, kInt64), Reduction::Mean, 1.5),
                        Catch::Contains("label_smoothing"));
  }
}
