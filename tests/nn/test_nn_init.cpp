// Initialisers: statistics of the draws, bounds, fans and gains (hand-derived
// from the formulas of Glorot & Bengio, He et al., Saxe et al.), orthogonality,
// determinism, and PyTorch's default layer initialisation ranges.
#include <catch2/catch.hpp>
#include <cmath>

#include "nn/nn.h"

using namespace duel;
namespace init = duel::nn::init;

namespace {

struct Stats {
  double mean = 0, std = 0, min = 1e300, max = -1e300;
};

Stats stats(const Tensor& t) {
  auto v = t.to_vector<double>();
  Stats s;
  for (double x : v) {
    s.mean += x;
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
  }
  s.mean /= v.size();
  for (double x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / (v.size() - 1));
  return s;
}

}  // namespace

TEST_CASE("init: normal_ and uniform_ statistics", "[nnlib]") {
  Generator gen(42);
  Tensor w = empty({200, 100});
  init::normal_(w, 0.0, 0.02, &gen);  // DCGAN
  Stats s = stats(w);
  CHECK(std::abs(s.mean) < 4 * 0.02 / std::sqrt(20000.0));
  CHECK(s.std == Approx(0.02).epsilon(0.02));
  init::normal_(w, 1.0, 0.5, &gen);
  s = stats(w);
  CHECK(s.mean == Approx(1.0).margin(4 * 0.5 / std::sqrt(20000.0)));
  CHECK(s.std == Approx(0.5).epsilon(0.02));

  init::uniform_(w, -0.3, 0.7, &gen);
  s = stats(w);
  CHECK(s.min >= -0.3);
  CHECK(s.max < 0.7);
  CHECK(s.min < -0.29);
  CHECK(s.max > 0.69);
  CHECK(s.mean == Approx(0.2).margin(4 * std::sqrt(1.0 / 12 / 20000)));
  CHECK(s.std == Approx(1.0 / std::sqrt(12.0)).epsilon(0.02));

  Tensor d = empty({3, 4}, TensorOptions(kFloat64));
  init::constant_(d, 0.25);
  CHECK(d.to_vector<double>() == std::vector<double>(12, 0.25));
  init::zeros_(d);
  CHECK(d.to_vector<double>() == std::vector<double>(12, 0.0));
  init::ones_(d);
  CHECK(d.to_vector<double>() == std::vector<double>(12, 1.0));
  init::eye_(d);
  CHECK(d.to_vector<double>() == std::vector<double>{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0});
}

TEST_CASE("init: fans and gains as PyTorch", "[nnlib]") {
  CHECK(init::calculate_fan_in_and_fan_out(empty({5, 3})) == std::pair<int64_t, int64_t>{3, 5});
  CHECK(init::calculate_fan_in_and_fan_out(empty({16, 8, 3, 3})) == std::pair<int64_t, int64_t>{72, 144});
  // ConvTranspose2d weight [in = 8, out = 4, 4, 4]: fan_in uses dim 1
  CHECK(init::calculate_fan_in_and_fan_out(empty({8, 4, 4, 4})) == std::pair<int64_t, int64_t>{64, 128});
  CHECK_THROWS(init::calculate_fan_in_and_fan_out(empty({5})));
  using NL = init::Nonlinearity;
  CHECK(init::calculate_gain(NL::Linear) == 1.0);
  CHECK(init::calculate_gain(NL::Conv2d) == 1.0);
  CHECK(init::calculate_gain(NL::Sigmoid) == 1.0);
  CHECK(init::calculate_gain(NL::Tanh) == Approx(5.0 / 3));
  CHECK(init::calculate_gain(NL::ReLU) == Approx(std::sqrt(2.0)));
  CHECK(init::calculate_gain(NL::LeakyReLU, 0.2) == Approx(std::sqrt(2.0 / 1.04)));
  CHECK(init::calculate_gain(NL::LeakyReLU, std::sqrt(5.0)) == Approx(std::sqrt(1.0 / 3)));
  CHECK(init::calculate_gain(NL::SELU) == 0.75);
}

TEST_CASE("init: xavier and kaiming bounds and standard deviations", "[nnlib]") {
  Generator gen(3);
  Tensor w = empty({128, 256});
  init::xavier_uniform_(w, 1.0, &gen);
  double a = std::sqrt(6.0 / (128 + 256));
  Stats s = stats(w);
  CHECK(s.max <= a);
  CHECK(s.min >= -a);
  CHECK(s.max > 0.99 * a);
  CHECK(s.std == Approx(a / std::sqrt(3.0)).epsilon(0.02));

  init::xavier_normal_(w, 2.0, &gen);
  CHECK(stats(w).std == Approx(2.0 * std::sqrt(2.0 / (128 + 256))).epsilon(0.02));

  Tensor c = empty({64, 32, 3, 3});
  init::kaiming_normal_(c, 0.0, init::FanMode::FanOut, init::Nonlinearity::ReLU, &gen);
  s = stats(c);
  CHECK(s.std == Approx(std::sqrt(2.0) / std::sqrt(64.0 * 9)).epsilon(0.02));
  CHECK(std::abs(s.mean) < 4 * s.std / std::sqrt((double)c.numel()));

  init::kaiming_uniform_(c, 0.0, init::FanMode::FanIn, init::Nonlinearity::ReLU, &gen);
  double bound = std::sqrt(3.0) * std::sqrt(2.0) / std::sqrt(32.0 * 9);
  s = stats(c);
  CHECK(s.max <= bound);
  CHECK(s.min >= -bound);
  CHECK(s.std == Approx(bound / std::sqrt(3.0)).epsilon(0.02));
}

TEST_CASE("init: orthogonal_ gives orthonormal rows or columns (times gain)", "[nnlib]") {
  Generator gen(5);
  auto check_gram = [](const Tensor& q2d, double gain2) {
    // q2d [r, c] float64; the Gram matrix of the shorter side is gain^2 * I
    Tensor g = q2d.size(0) <= q2d.size(1) ? matmul(q2d, q2d.t()) : matmul(q2d.t(), q2d);
    auto v = g.to_vector<double>();
    int64_t n = g.size(0);
    double worst = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) worst = std::max(worst, std::abs(v[i * n + j] - (i == j ? gain2 : 0.0)));
    CHECK(worst < 1e-12);
  };
  Tensor wide = empty({6, 10}, TensorOptions(kFloat64));
  init::orthogonal_(wide, 1.0, &gen);
  check_gram(wide, 1.0);
  Tensor tall = empty({10, 6}, TensorOptions(kFloat64));
  init::orthogonal_(tall, 2.0, &gen);
  check_gram(tall, 4.0);
  Tensor square = empty({7, 7}, TensorOptions(kFloat64));
  init::orthogonal_(square, std::sqrt(2.0), &gen);
  check_gram(square, 2.0);
  check_gram(square.t(), 2.0);
  Tensor conv = empty({4, 2, 3, 3}, TensorOptions(kFloat64));
  init::orthogonal_(conv, 1.0, &gen);
  check_gram(conv.reshape({4, 18}), 1.0);
  Tensor f32 = empty({5, 5});
  init::orthogonal_(f32, 1.0, &gen);
  Tensor g = matmul(f32, f32.t());
  CHECK(allclose(g, eye(5), 0, 1e-5));
  CHECK_THROWS(init::orthogonal_(empty({5})));
}

TEST_CASE("init: deterministic streams and PyTorch's default layer ranges", "[nnlib]") {
  Generator g1(9), g2(9);
  nn::Linear a(20, 30, true, &g1), b(20, 30, true, &g2);
  CHECK(a.weight.to_vector<double>() == b.weight.to_vector<double>());
  CHECK(a.bias.to_vector<double>() == b.bias.to_vector<double>());
  manual_seed(11);
  nn::Conv2d c1(3, 8, 3);
  manual_seed(11);
  nn::Conv2d c2(3, 8, 3);
  CHECK(c1.weight.to_vector<double>() == c2.weight.to_vector<double>());
  CHECK_FALSE(c1.weight.to_vector<double>() == a.weight.to_vector<double>());

  // kaiming_uniform(a = sqrt(5)) -> U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias the same bound
  nn::Linear big(400, 300);
  double bound = 1.0 / 20.0;
  Stats s = stats(big.weight);
  CHECK(s.max <= bound);
  CHECK(s.min >= -bound);
  CHECK(s.max > 0.98 * bound);
  CHECK(s.std == Approx(bound / std::sqrt(3.0)).epsilon(0.03));
  s = stats(big.bias);
  CHECK(s.max <= bound);
  CHECK(s.min >= -bound);
  nn::ConvTranspose2d ct(16, 4, 4);  // weight [16, 4, 4, 4]: fan_in = 4 * 16 = 64
  s = stats(ct.weight);
  CHECK(s.max <= 1.0 / 8);
  CHECK(s.max > 0.95 / 8);
  nn::LSTMCell cell(5, 16);
  s = stats(cell.weight_hh);
  CHECK(s.max <= 0.25);
  CHECK(s.min >= -0.25);
  nn::BatchNorm2d bn(4);
  CHECK(bn.weight.to_vector<double>() == std::vector<double>(4, 1.0));
  CHECK(bn.bias.to_vector<double>() == std::vector<double>(4, 0.0));
  CHECK(bn.running_var.to_vector<double>() == std::vector<double>(4, 1.0));
}
