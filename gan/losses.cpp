#include "gan/losses.h"

#include "autograd/engine.h"
#include "gan/data.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/linalg.h"
#include "tensor/ops/loss.h"
#include "tensor/ops/nn_ops.h"
#include "tensor/ops/shape_ops.h"
#include "tensor/ops/reduction.h"

namespace duel::gan {
namespace {
// -mean log sigma(d) (target 1) or -mean log(1 - sigma(d)) (target 0), from logits or probabilities.
Tensor bce(const Tensor& d, double target, DOutput out) {
  Tensor t = full_like(d, target);
  return out == DOutput::kLogit ? binary_cross_entropy_with_logits(d, t) : binary_cross_entropy(d, t);
}
}  // namespace

Tensor minimax_d_loss(const Tensor& d_real, const Tensor& d_fake, DOutput out) {
  return bce(d_real, 1.0, out) + bce(d_fake, 0.0, out);
}
Tensor minimax_g_loss(const Tensor& d_fake, DOutput out) { return -bce(d_fake, 0.0, out); }
Tensor non_saturating_g_loss(const Tensor& d_fake, DOutput out) { return bce(d_fake, 1.0, out); }

Tensor wasserstein_d_loss(const Tensor& d_real, const Tensor& d_fake) { return mean(d_fake) - mean(d_real); }
Tensor wasserstein_g_loss(const Tensor& d_fake) { return -mean(d_fake); }

Tensor hinge_d_loss(const Tensor& d_real, const Tensor& d_fake) {
  return mean(relu(1.0 - d_real)) + mean(relu(1.0 + d_fake));
}
Tensor hinge_g_loss(const Tensor& d_fake) { return -mean(d_fake); }

Tensor least_squares_d_loss(const Tensor& d_real, const Tensor& d_fake, double a, double b) {
  return mean(pow(d_real - b, 2.0)) * 0.5 + mean(pow(d_fake - a, 2.0)) * 0.5;
}
Tensor least_squares_g_loss(const Tensor& d_fake, double c) { return mean(pow(d_fake - c, 2.0)) * 0.5; }

Tensor info_loss(const Tensor& q_logits, const Tensor& c_cat, const Tensor& q_mean, const Tensor& c_cont) {
  DUEL_CHECK(q_logits.dim() == 2 && c_cat.dim() == 1 && q_logits.size(0) == c_cat.size(0),
             "info_loss: expected categorical logits [N, K] and codes [N], got ", shape_str(q_logits.sizes()), " and ",
             shape_str(c_cat.sizes()));
  Tensor loss = cross_entropy(q_logits, c_cat);
  if (!c_cont.defined() && !q_mean.defined()) return loss;
  DUEL_CHECK(q_mean.defined() && c_cont.defined() && q_mean.sizes() == c_cont.sizes() && q_mean.dim() == 2 &&
                 q_mean.size(0) == q_logits.size(0),
             "info_loss: the continuous codes and Q's means must both be [N, C] with N = ", q_logits.size(0), ", got ",
             q_mean.defined() ? shape_str(q_mean.sizes()) : "none", " and ", c_cont.defined() ? shape_str(c_cont.sizes()) : "none");
  Tensor d = c_cont - q_mean;
  return loss + mean(sum(d * d, {1})) * 0.5;
}

Tensor loss_sensitive_loss(const Tensor& L_real, const Tensor& L_fake, const Tensor& margin, double lambda) {
  DUEL_CHECK(L_real.sizes() == L_fake.sizes() && L_real.numel() == margin.numel(), "loss_sensitive_loss: L(x) ",
             shape_str(L_real.sizes()), ", L(G(z)) ", shape_str(L_fake.sizes()), " and the margin ",
             shape_str(margin.sizes()), " must hold one value per sample each");
  Tensor Lx = L_real.flatten(), Lg = L_fake.flatten();
  return mean(Lx) + mean(relu(margin.detach().flatten() + Lx - Lg)) * lambda;
}
Tensor loss_sensitive_g_loss(const Tensor& L_fake) { return mean(L_fake); }

Tensor l1_margin(const Tensor& x, const Tensor& y, double tau) {
  DUEL_CHECK(x.sizes() == y.sizes() && x.dim() >= 1, "l1_margin: x ", shape_str(x.sizes()), " and y ",
             shape_str(y.sizes()), " must have the same shape [N, ...]");
  NoGradGuard ng;
  return sum(abs(x - y).flatten(1), {1}) * tau;
}

Tensor source_logit(const Tensor& class_logits, bool fake_class) {
  DUEL_CHECK(class_logits.dim() == 2 && class_logits.size(1) >= (fake_class ? 2 : 1), "source_logit: expected class ",
             "logits [N, K", fake_class ? " + 1] with K >= 1" : "] with K >= 1", ", got ", shape_str(class_logits.sizes()));
  if (!fake_class) return logsumexp(class_logits, {1});
  const int64_t K = class_logits.size(1) - 1;
  return logsumexp(class_logits.narrow(1, 0, K), {1}) - class_logits.select(1, K);
}

Tensor feature_matching_loss(const Tensor& f_real, const Tensor& f_fake) {
  DUEL_CHECK(f_real.dim() >= 2 && f_fake.dim() >= 2 && f_real.numel() / f_real.size(0) == f_fake.numel() / f_fake.size(0),
             "feature_matching_loss: expected features [N, ...] with the same size per sample, got ",
             shape_str(f_real.sizes()), " and ", shape_str(f_fake.sizes()));
  Tensor d = mean(f_real.detach().flatten(1), {0}) - mean(f_fake.flatten(1), {0});
  return mean(d * d);
}

Tensor pull_away_term(const Tensor& codes) {
  const int64_t N = codes.dim() == 2 ? codes.size(0) : 0;
  DUEL_CHECK(codes.dim() == 2 && N >= 2, "pull_away_term: expected codes [N >= 2, d], got ", shape_str(codes.sizes()));
  Tensor s = codes / (norm(codes, 2.0, {1}, /*keepdim=*/true) + 1e-8);
  Tensor cos2 = pow(matmul(s, s.t()), 2.0);
  // the diagonal holds N ones (||s_i|| = 1): drop it from the sum
  return (sum(cos2) - sum(pow(norm(s, 2.0, {1}), 4.0))) / (double)(N * (N - 1));
}

Tensor conditional_entropy(const Tensor& logits) {
  DUEL_CHECK(logits.dim() == 2, "conditional_entropy: expected logits [N, K], got ", shape_str(logits.sizes()));
  Tensor logp = log_softmax(logits, 1);
  return -mean(sum(exp(logp) * logp, {1}));
}

HistoricalAverage::HistoricalAverage(nn::Module& tracked) {
  NoGradGuard ng;
  params_ = tracked.parameters();
  for (size_t i = 0; i < params_.size(); ++i)
    averages_.push_back(register_buffer("avg" + std::to_string(i), params_[i].detach().clone()));
  count_ = register_buffer("count", full({}, 1.0, TensorOptions(kFloat64)));
}

Tensor HistoricalAverage::penalty() const {
  Tensor total;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor d = params_[i] - averages_[i];
    Tensor s = sum(d * d);
    total = total.defined() ? total + s : s;
  }
  return total;
}

void HistoricalAverage::update() {
  NoGradGuard ng;
  const double t = count_.item() + 1.0;
  for (size_t i = 0; i < params_.size(); ++i) averages_[i].add_(params_[i].detach() - averages_[i], 1.0 / t);
  count_.fill_(t);
}

Tensor gradient_penalty(nn::Module& critic, const Tensor& real, const Tensor& fake, double lambda, Generator& gen) {
  DUEL_CHECK(real.sizes() == fake.sizes(), "gradient_penalty: real ", shape_str(real.sizes()), " and fake ",
             shape_str(fake.sizes()), " must have the same shape");
  // one weight per sample, this rank's rows of the global batch's draw (data-parallel)
  Tensor eps = draw_shard(real.size(0), [&](int64_t k) {
    Shape eps_shape(real.dim(), 1);
    eps_shape[0] = k;
    return rand(eps_shape, TensorOptions(real.dtype(), real.device()), &gen);
  });
  Tensor x_hat = (eps * real + (1.0 - eps) * fake).detach().requires_grad_();
  Tensor d_hat = critic(x_hat);
  Tensor grad = autograd::grad({sum(d_hat)}, {x_hat}, {}, /*create_graph=*/true)[0];
  Tensor grad_norm = norm(grad.flatten(1), 2.0, {1});
  return mean(pow(grad_norm - 1.0, 2.0)) * lambda;
}

}  // namespace duel::gan
