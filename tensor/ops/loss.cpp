// Losses, each written in differentiable ops (any order of gradient works).
#include "tensor/ops/loss.h"

#include "tensor/ops/elementwise.h"
#include "tensor/ops/nn_ops.h"
#include "tensor/ops/reduction.h"
#include "tensor/ops/shape_ops.h"

namespace duel {
namespace {

Tensor reduce(const Tensor& t, Reduction r) {
  switch (r) {
    case Reduction::Mean: return mean(t);
    case Reduction::Sum: return sum(t);
    case Reduction::None: return t;
  }
  return t;
}

// max(log(p), -100) as PyTorch's binary_cross_entropy clamps it, written so that the
// gradient stays finite where p == 0 (clamp_min(log(p), -100) would backpropagate
// 0 * (1/0) = NaN there): the clamped entries take log of 1 and get zero gradient.
Tensor clamped_log(const Tensor& p) {
  Tensor keep = log(p.detach()) > -100.0;
  return where(keep, log(where(keep, p, ones_like(p))), full_like(p, -100.0));
}

void check_same_shape(const Tensor& a, const Tensor& b, const char* op) {
  DUEL_CHECK(a.sizes() == b.sizes(), op, ": input of shape ", shape_str(a.sizes()), " and target of shape ",
             shape_str(b.sizes()), " must have the same shape");
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction r) {
  check_same_shape(input, target, "mse_loss");
  Tensor d = input - target;
  return reduce(d * d, r);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction r) {
  check_same_shape(input, target, "l1_loss");
  return reduce(abs(input - target), r);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, double delta, Reduction r) {
  check_same_shape(input, target, "huber_loss");
  DUEL_CHECK(delta > 0, "huber_loss: delta must be positive, got ", delta);
  Tensor d = input - target;
  Tensor ad = abs(d);
  return reduce(where(ad < delta, d * d * 0.5, (ad - 0.5 * delta) * delta), r);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, double beta, Reduction r) {
  check_same_shape(input, target, "smooth_l1_loss");
  if (beta == 0) return l1_loss(input, target, r);
  Tensor d = input - target;
  Tensor ad = abs(d);
  return reduce(where(ad < beta, d * d * (0.5 / beta), ad - 0.5 * beta), r);
}

Tensor binary_cross_entropy(const Tensor& prob, const Tensor& target, Reduction r) {
  check_same_shape(prob, target, "binary_cross_entropy");
  Tensor l = target * clamped_log(prob) + (1.0 - target) * clamped_log(1.0 - prob);
  return reduce(-l, r);
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, Reduction r) {
  check_same_shape(logits, target, "binary_cross_entropy_with_logits");
  // -[y log s(x) + (1-y) log(1-s(x))] = softplus(x) - x*y, stable for any x
  return reduce(softplus(logits) - logits * target, r);
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction r) {
  DUEL_CHECK(target.dtype() == kInt64, "nll_loss: expected int64 class targets, got ", dtype_name(target.dtype()));
  DUEL_CHECK(log_probs.dim() >= 2 && target.dim() == log_probs.dim() - 1 && target.size(0) == log_probs.size(0),
             "nll_loss: expected input [N, C, ...] and target [N, ...], got ", shape_str(log_probs.sizes()), " and ",
             shape_str(target.sizes()));
  Tensor picked = gather(log_probs, 1, target.unsqueeze(1)).squeeze(1);
  return reduce(-picked, r);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction r, double label_smoothing) {
  DUEL_CHECK(label_smoothing >= 0 && label_smoothing <= 1, "cross_entropy: label_smoothing must be in [0, 1], got ",
             label_smoothing);
  Tensor logp = log_softmax(logits, 1);
  Tensor loss = nll_loss(logp, target, Reduction::None);
  if (label_smoothing > 0) {
    // uniform target mass eps/C on every class: eps * mean over classes of -log p
    loss = loss * (1.0 - label_smoothing) - mean(logp, {1}) * label_smoothing;
  }
  return reduce(loss, r);
}

Tensor gaussian_kl(const Tensor& mu, const Tensor& logvar, Reduction r) {
  check_same_shape(mu, logvar, "gaussian_kl");
  Tensor kl = sum(1.0 + logvar - mu * mu - exp(logvar), {-1}) * -0.5;
  return reduce(kl, r);
}

}  // namespace duel
