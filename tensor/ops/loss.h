// Loss functions, composed of differentiable ops (so every order of gradient works).
// Implementation: tensor/ops/loss.cpp.
#pragma once
#include "tensor/tensor.h"

namespace duel {

enum class Reduction { Mean, Sum, None };

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction r = Reduction::Mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction r = Reduction::Mean);
// Huber with threshold delta (PyTorch's huber_loss); smooth_l1 = huber / beta with delta = beta.
Tensor huber_loss(const Tensor& input, const Tensor& target, double delta = 1.0, Reduction r = Reduction::Mean);
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, double beta = 1.0, Reduction r = Reduction::Mean);
// On probabilities (log clamped at -100 like PyTorch).
Tensor binary_cross_entropy(const Tensor& prob, const Tensor& target, Reduction r = Reduction::Mean);
// On logits, numerically stable: max(x,0) - x*y + log(1 + exp(-|x|)).
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, Reduction r = Reduction::Mean);
// logits [N, C] (or [N, C, d...]), target int64 [N] (or [N, d...]).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction r = Reduction::Mean,
                     double label_smoothing = 0.0);
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction r = Reduction::Mean);
// KL(N(mu, exp(logvar)) || N(0, I)) summed over the last dim, reduced over the batch.
Tensor gaussian_kl(const Tensor& mu, const Tensor& logvar, Reduction r = Reduction::Mean);

}  // namespace duel
