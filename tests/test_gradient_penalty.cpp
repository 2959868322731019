// The WGAN-GP gradient penalty end to end: a small conv/batch-norm critic,
// the input gradient taken with create_graph, and the penalty's gradient with
// respect to every critic parameter (a second-order derivative through conv,
// batch_norm, leaky_relu, linear and norm). Checked against PyTorch
// (tests/fixtures/nn_gp.txt), against central finite differences, and with
// gradcheck.
#include <catch2/catch.hpp>

#include <cmath>

#include "duel.h"
#include "tests/fixture.h"

using namespace duel;
using namespace duel::test;

namespace {

// params: w1 [4,1,3,3], b1 [4], bn_w [4], bn_b [4], w2 [8,4,3,3], b2 [8], lw [1,32], lb [1]
Tensor critic(const Tensor& x, const TensorList& p) {
  Conv2dOptions o;
  o.set_stride(2).set_padding(1);
  Tensor h = conv2d(x, p[0], p[1], o);
  h = batch_norm(h, p[2], p[3], {}, {}, /*training=*/true);
  h = leaky_relu(h, 0.2);
  h = leaky_relu(conv2d(h, p[4], p[5], o), 0.2);
  return linear(h.flatten(1), p[6], p[7]);
}

Tensor gradient_penalty(const Tensor& real, const Tensor& fake, const Tensor& eps, const TensorList& params) {
  Tensor x_hat = (eps * real + (1.0 - eps) * fake).detach().requires_grad_();
  TensorList grads = autograd::grad({critic(x_hat, params).sum()}, {x_hat}, {}, /*create_graph=*/true);
  Tensor n = norm(grads[0].flatten(1), 2, {1});
  return mean(pow(n - 1.0, 2.0));
}

// fixture inputs: real, fake, eps, then the 8 parameters
FxFn gp_call = [](const TensorList& in) {
  return TensorList{gradient_penalty(in[0], in[1], in[2], TensorList(in.begin() + 3, in.end()))};
};

const char* kParamNames[] = {"w1", "b1", "bn_w", "bn_b", "w2", "b2", "lw", "lb"};

}  // namespace

TEST_CASE("gp: WGAN-GP penalty and its parameter gradients match PyTorch", "[nn][gp]") {
  // forward + backward vs PyTorch in float64 (contiguous and non-contiguous parameters) and float32
  // (the case is flagged nogradcheck: the next test runs gradcheck params -> penalty)
  run_fixture_family("nn_gp.txt", {{"wgan_gp", gp_call}}, {});
}

TEST_CASE("gp: penalty gradient w.r.t. every critic parameter matches central finite differences", "[nn][gp]") {
  const FxCase& c = find_case("nn_gp.txt", "wgan_gp");
  Tensor real = c.input("real").make(), fake = c.input("fake").make(), eps = c.input("eps").make();
  REQUIRE(real.sizes() == Shape{3, 1, 8, 8});
  TensorList params;
  for (const char* n : kParamNames) params.push_back(c.input(n).make().requires_grad_());

  Tensor penalty = gradient_penalty(real, fake, eps, params);
  REQUIRE(penalty.item() > 1e-3);  // the gradient norms are not all 1: the penalty is not at its minimum
  penalty.backward();

  const double h = 1e-6;
  int checked = 0;
  for (size_t k = 0; k < params.size(); ++k) {
    Tensor p = params[k];
    // bn_b, b2 and lb only move leaky_relu's kinks and the critic's value, not its input gradient:
    // their penalty gradient is 0 and the backward pass never reaches them (grad undefined)
    std::vector<double> analytic =
        p.grad().defined() ? p.grad().to_vector<double>() : std::vector<double>(p.numel(), 0.0);
    double* data = p.data<double>();
    REQUIRE(p.is_contiguous());
    // every element of the small parameters, every 7th (and the last) of w2
    std::vector<int64_t> idx;
    const int64_t step = p.numel() > 64 ? 7 : 1;
    for (int64_t i = 0; i < p.numel(); i += step) idx.push_back(i);
    if (idx.back() != p.numel() - 1) idx.push_back(p.numel() - 1);
    for (int64_t i : idx) {
      const double orig = data[i];
      data[i] = orig + h;
      const double plus = gradient_penalty(real, fake, eps, params).item();
      data[i] = orig - h;
      const double minus = gradient_penalty(real, fake, eps, params).item();
      data[i] = orig;
      const double numeric = (plus - minus) / (2 * h);
      INFO(kParamNames[k] << "[" << i << "]: analytic " << analytic[i] << ", numeric " << numeric);
      CHECK(std::abs(analytic[i] - numeric) <= 1e-5 * std::abs(numeric) + 1e-8);
      ++checked;
    }
  }
  CHECK(checked > 100);

  // and the engine's gradcheck on params -> penalty, with every parameter stored non-contiguously
  TensorList strided;
  for (auto& p : params) strided.push_back(noncontiguous_copy(p.detach()).requires_grad_());
  REQUIRE_FALSE(strided[4].is_contiguous());
  CHECK(gradcheck([&](const TensorList& ps) { return gradient_penalty(real, fake, eps, ps); }, strided));
}

TEST_CASE("gp: fused and composite batch_norm backward give the same penalty gradient", "[nn][gp]") {
  // penalty.backward() passes through batch_norm's forward node without a graph (the fused kernel)
  // and through the nodes of the create_graph backward (the composite formula); forcing the
  // composite formula everywhere must not change the result.
  const FxCase& c = find_case("nn_gp.txt", "wgan_gp");
  Tensor real = c.input("real").make(), fake = c.input("fake").make(), eps = c.input("eps").make();
  TensorList a, b;
  for (bool force : {false, true}) {
    TensorList params;
    for (const char* n : kParamNames) params.push_back(c.input(n).make().requires_grad_());
    detail::set_force_composite_batch_norm(force);
    Tensor penalty = gradient_penalty(real, fake, eps, params);
    penalty.backward();
    detail::set_force_composite_batch_norm(false);
    for (auto& p : params) (force ? b : a).push_back(p.grad().defined() ? p.grad() : zeros_like(p));
  }
  for (size_t k = 0; k < a.size(); ++k) check_close(a[k], b[k], 1e-10, 1e-12, kParamNames[k]);
  CHECK(max(abs(a[4])).item() > 1e-3);  // w2's gradient is not trivially zero
}
