// The zoo's adversarial losses (gan/losses.h) against hand-derived values, and the library's
// gradient penalty against central finite differences of its own value: its gradient with
// respect to the critic's parameters exists only if the input gradient is taken with
// create_graph (a second derivative).
#include <catch2/catch.hpp>
#include <cmath>

#include "duel.h"
#include "gan/losses.h"
#include "gan/models.h"
#include "nn/nn.h"

using namespace duel;

namespace {
Tensor vec(std::vector<double> v) { return from_vector(v, {(int64_t)v.size(), 1}, TensorOptions(kFloat64)); }
}  // namespace

TEST_CASE("gan losses: hand-derived values", "[gan][losses]") {
  const double log2 = std::log(2.0);
  // logit 0 = probability 1/2: -[log 1/2 + log 1/2] = 2 log 2
  CHECK(gan::minimax_d_loss(vec({0, 0}), vec({0, 0})).item() == Approx(2 * log2));
  CHECK(gan::minimax_d_loss(vec({0.5}), vec({0.5}), gan::DOutput::kProbability).item() == Approx(2 * log2));
  CHECK(gan::non_saturating_g_loss(vec({0})).item() == Approx(log2));
  CHECK(gan::minimax_g_loss(vec({0})).item() == Approx(-log2));
  // logit 2: -log sigma(2) = log(1 + e^-2)
  CHECK(gan::non_saturating_g_loss(vec({2})).item() == Approx(std::log1p(std::exp(-2.0))));
  CHECK(gan::minimax_g_loss(vec({2})).item() == Approx(-std::log1p(std::exp(2.0))));
  // Wasserstein: E[D(fake)] - E[D(real)] = 1 - 2
  CHECK(gan::wasserstein_d_loss(vec({1, 3}), vec({0, 2})).item() == Approx(-1.0));
  CHECK(gan::wasserstein_g_loss(vec({0, 2})).item() == Approx(-1.0));
  // hinge: mean(relu(1 - [0.5, 2])) + mean(relu(1 + [-2, 0])) = 0.25 + 0.5
  CHECK(gan::hinge_d_loss(vec({0.5, 2}), vec({-2, 0})).item() == Approx(0.75));
  CHECK(gan::hinge_g_loss(vec({-2, 0})).item() == Approx(1.0));
  // least squares (a = 0, b = c = 1): 1/2 mean([0, 1]) + 1/2 mean([0, 1])
  CHECK(gan::least_squares_d_loss(vec({1, 0}), vec({0, 1})).item() == Approx(0.5));
  CHECK(gan::least_squares_g_loss(vec({0, 1})).item() == Approx(0.25));
  CHECK(gan::least_squares_d_loss(vec({1}), vec({-1}), -1, 1).item() == Approx(0.0));
}

TEST_CASE("lsgan-qi: the loss-sensitive objective and its L1 margin, by hand", "[gan][losses]") {
  // two pairs: x = [0, 0] vs G(z) = [1, -1] (L1 2), x = [1, 1] vs [1, 0.5] (L1 0.5); tau 0.5
  Tensor x = from_vector(std::vector<double>{0, 0, 1, 1}, {2, 2}, TensorOptions(kFloat64));
  Tensor y = from_vector(std::vector<double>{1, -1, 1, 0.5}, {2, 2}, TensorOptions(kFloat64));
  Tensor delta = gan::l1_margin(x, y, 0.5);
  CHECK(delta.to_vector<double>() == std::vector<double>{1.0, 0.25});
  // L(x) = [0.5, 1], L(G(z)) = [2, 1]: hinge [1 + 0.5 - 2, 0.25 + 1 - 1]^+ = [0, 0.25]
  // S = mean L(x) + lambda mean hinge = 0.75 + 3 * 0.125
  Tensor Lx = vec({0.5, 1}).requires_grad_(), Lg = vec({2, 1}).requires_grad_();
  Tensor S = gan::loss_sensitive_loss(Lx, Lg, delta, 3.0);
  CHECK(S.item() == Approx(0.75 + 3 * 0.125));
  S.backward();
  // dS/dL(x_i) = 1/2 + lambda/2 [hinge_i > 0]; dS/dL(G(z_i)) = -lambda/2 [hinge_i > 0]
  CHECK(Lx.grad().to_vector<double>() == std::vector<double>{0.5, 0.5 + 1.5});
  CHECK(Lg.grad().to_vector<double>() == std::vector<double>{0.0, -1.5});
  CHECK(gan::loss_sensitive_g_loss(vec({2, 1})).item() == Approx(1.5));
  CHECK_THROWS_WITH(gan::loss_sensitive_loss(vec({1, 2}), vec({1}), delta, 1.0),
                    Catch::Contains("loss_sensitive_loss") && Catch::Contains("[2, 1]"));
}

TEST_CASE("ebgan: the pull-away term is the mean squared cosine of distinct pairs", "[gan][losses]") {
  // codes (1,0), (0,1), (2,2): cosines 0, 1/sqrt2, 1/sqrt2 -> squares 0, 1/2, 1/2 over 3 pairs
  Tensor s = from_vector(std::vector<double>{1, 0, 0, 1, 2, 2}, {3, 2}, TensorOptions(kFloat64));
  CHECK(gan::pull_away_term(s).item() == Approx(1.0 / 3.0));
  Tensor same = from_vector(std::vector<double>{1, 1, 3, 3}, {2, 2}, TensorOptions(kFloat64));
  CHECK(gan::pull_away_term(same).item() == Approx(1.0));  // identical directions
  CHECK_THROWS_WITH(gan::pull_away_term(zeros({1, 4})), Catch::Contains("expected codes [N >= 2, d], got [1, 4]"));
}

TEST_CASE("infogan: the mutual-information loss is a cross-entropy plus half a squared error, by hand", "[gan][losses]") {
  // categorical: logits [0, log 3] for code 1 -> p = 3/4, CE = -log(3/4); logits [0, 0] for code 0 -> log 2
  Tensor logits = from_vector(std::vector<double>{0, std::log(3.0), 0, 0}, {2, 2}, TensorOptions(kFloat64));
  Tensor codes = from_vector(std::vector<int64_t>{1, 0}, {}, TensorOptions(kInt64));
  const double ce = (-std::log(0.75) + std::log(2.0)) / 2;
  CHECK(gan::info_loss(logits, codes, Tensor(), Tensor()).item() == Approx(ce));
  // continuous: c - mu = (1, -2) and (0, 0.5): squared sums 5 and 0.25, halved, averaged
  Tensor c = from_vector(std::vector<double>{1, 0, 0.5, 0.5}, {2, 2}, TensorOptions(kFloat64));
  Tensor mu = from_vector(std::vector<double>{0, 2, 0.5, 0}, {2, 2}, TensorOptions(kFloat64)).requires_grad_();
  Tensor L = gan::info_loss(logits, codes, mu, c);
  CHECK(L.item() == Approx(ce + (5 + 0.25) / 4));
  L.backward();
  // d/dmu of (c - mu)^2 / 4 (half, mean over 2) = -(c - mu) / 2
  CHECK(mu.grad().to_vector<double>() == std::vector<double>{-0.5, 1.0, 0.0, -0.25});
  CHECK_THROWS_WITH(gan::info_loss(logits, codes, mu, zeros({2, 3}, TensorOptions(kFloat64))),
                    Catch::Contains("info_loss") && Catch::Contains("[2, 3]"));
  CHECK_THROWS_WITH(gan::info_loss(logits, from_vector(std::vector<int64_t>{1}, {}, TensorOptions(kInt64)), Tensor(), Tensor()),
                    Catch::Contains("info_loss") && Catch::Contains("[2, 2]") && Catch::Contains("[1]"));
}

TEST_CASE("gan::gradient_penalty: value and parameter gradients match finite differences", "[gan][gp]") {
  // a conv + batch-norm + tanh critic in float64 (every layer twice differentiable)
  Generator init(5);
  auto critic = std::make_shared<nn::Sequential>();
  critic->emplace_back<nn::Conv2d>(1, 2, 3, nn::ConvOptions{.stride = 2, .padding = 1, .gen = &init});
  critic->emplace_back<nn::BatchNorm2d>(2);
  critic->emplace_back<nn::Tanh>();
  critic->emplace_back<nn::Flatten>();
  critic->emplace_back<nn::Linear>(2 * 3 * 3, 1, true, &init);
  critic->to(kFloat64);
  Generator data(9);
  Tensor real = randn({3, 1, 6, 6}, TensorOptions(kFloat64), &data);
  Tensor fake = randn({3, 1, 6, 6}, TensorOptions(kFloat64), &data);
  const double lambda = 2.5;
  auto penalty = [&]() {
    Generator eps_gen(77);  // the same interpolation points every time
    return gan::gradient_penalty(*critic, real, fake, lambda, eps_gen);
  };

  // the value, from the definition with the input gradient by central differences
  {
    Generator eps_gen(77);
    Tensor eps = rand({3, 1, 1, 1}, TensorOptions(kFloat64), &eps_gen);
    Tensor x_hat = (eps * real + (1.0 - eps) * fake).contiguous();
    const double h = 1e-6;
    double expected = 0;
    for (int64_t i = 0; i < 3; ++i) {
      double sq = 0;
      for (int64_t j = 0; j < 36; ++j) {
        Tensor plus = x_hat.clone(), minus = x_hat.clone();
        plus.data<double>()[i * 36 + j] += h;
        minus.data<double>()[i * 36 + j] -= h;
        NoGradGuard ng;
        // the batch-norm statistics couple the samples: differentiate the sum over the batch
        const double g = (sum((*critic)(plus)).item() - sum((*critic)(minus)).item()) / (2 * h);
        sq += g * g;
      }
      expected += (std::sqrt(sq) - 1) * (std::sqrt(sq) - 1);
    }
    expected = lambda * expected / 3;
    CHECK(penalty().item() == Approx(expected).epsilon(1e-6));
  }

  // d penalty / d theta by autograd (a second derivative) against central differences
  std::vector<Tensor> params = critic->parameters();
  Tensor p = penalty();
  REQUIRE(p.requires_grad());
  // (the output layer's bias does not reach the input gradient: its gradient is undefined, i.e. 0)
  TensorList grads = autograd::grad({p}, params, {}, false, /*allow_unused=*/true);
  const double h = 1e-5;
  int checked = 0;
  for (size_t k = 0; k < params.size(); ++k) {
    Tensor w = params[k];
    std::vector<double> g = grads[k].defined() ? grads[k].contiguous().to_vector<double>()
                                               : std::vector<double>(w.numel(), 0.0);
    if (k + 1 < params.size()) REQUIRE(grads[k].defined());
    for (int64_t j = 0; j < w.numel(); ++j) {
      double* x = w.data<double>() + j;
      const double saved = *x;
      double up, down;
      {
        NoGradGuard ng;
        *x = saved + h;
      }
      up = penalty().item();
      *x = saved - h;
      down = penalty().item();
      *x = saved;
      INFO("parameter " << k << " element " << j);
      CHECK(g[j] == Approx((up - down) / (2 * h)).epsilon(1e-5).margin(1e-7));
      ++checked;
    }
  }
  CHECK(checked > 30);
}

TEST_CASE("semi-supervised losses: source logit, feature matching, conditional entropy (hand-derived)", "[gan][losses]") {
  auto rows = [](std::vector<double> v, int64_t n) {
    return from_vector(v, {n, (int64_t)v.size() / n}, TensorOptions(kFloat64));
  };
  const double l2 = std::log(2.0), l3 = std::log(3.0);
  // K classes: D(x) = Z / (Z + 1) with Z = 1 + 3 = 4 -> logit log 4 (sigmoid(log 4) = 4/5)
  CHECK(gan::source_logit(rows({0, l3}, 1)).item() == Approx(std::log(4.0)));
  // K + 1 classes: 1 - p(K+1 | x) = (2 + 2) / (2 + 2 + 1) = 4/5: the same logit log 4
  CHECK(gan::source_logit(rows({l2, l2, 0}, 1), true).item() == Approx(std::log(4.0)));
  CHECK(gan::source_logit(rows({0, 0, l3}, 1), true).item() == Approx(std::log(2.0 / 3.0)));
  CHECK_THROWS_WITH(gan::source_logit(rows({1}, 1), true), Catch::Contains("got [1, 1]"));
  // feature matching: batch means [2, 3] and [1, 1] -> mean([1, 4]) = 2.5; only the fake side learns
  Tensor fr = rows({1, 2, 3, 4}, 2).requires_grad_(), ff = rows({0, 0, 2, 2}, 2).requires_grad_();
  Tensor fm = gan::feature_matching_loss(fr, ff);
  CHECK(fm.item() == Approx(2.5));
  fm.backward();
  CHECK_FALSE(fr.grad().defined());
  // d/dff[i][j] = -2 (mean_r - mean_f)_j / (2 features * 2 samples): -[1, 2] / 2
  CHECK(ff.grad().to_vector<double>() == std::vector<double>{-0.5, -1.0, -0.5, -1.0});
  CHECK_THROWS_WITH(gan::feature_matching_loss(rows({1, 2}, 1), rows({1, 2, 3}, 1)), Catch::Contains("[1, 2] and [1, 3]"));
  // conditional entropy: uniform over 4 -> log 4; p = (1/2, 1/2, 0...) at logits (0, 0, -inf-ish)
  CHECK(gan::conditional_entropy(rows({0, 0, 0, 0, 7, 7, -60, -60}, 2)).item() == Approx((std::log(4.0) + l2) / 2));
}

TEST_CASE("historical averaging: the penalty is the distance to the mean of all past parameters", "[gan][losses]") {
  nn::Linear lin(1, 1, /*bias=*/false);
  lin.weight.detach().fill_(1.0);
  gan::HistoricalAverage ha(lin);
  CHECK(ha.penalty().item() == Approx(0.0));
  lin.weight.detach().fill_(3.0);  // theta_2 = 3: penalty against avg(1) = 4, then avg(1, 3) = 2
  CHECK(ha.penalty().item() == Approx(4.0));
  ha.update();
  CHECK(ha.penalty().item() == Approx(1.0));
  lin.weight.detach().fill_(8.0);  // avg(1, 3, 8) = 4
  ha.update();
  CHECK(ha.penalty().item() == Approx(16.0));
  // the gradient reaches the parameters: d/dw (w - 4)^2 = 8
  ha.penalty().backward();
  CHECK(lin.weight.grad().item() == Approx(8.0));
  // the averages and the count are buffers: a checkpoint holds them
  CHECK(ha.buffers().size() == 2);
}
