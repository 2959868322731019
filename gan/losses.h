// The adversarial losses of the zoo, each written once with the paper's formula. D's output
// is a logit (a real number) unless the caller says it is a probability (DCGAN's reference
// discriminator ends in a sigmoid). Every function returns the quantity to MINIMISE.
//
//   minimax (Goodfellow 2014)       D: -[log D(x) + log(1 - D(G(z)))]   G: log(1 - D(G(z)))
//   non-saturating (Goodfellow)     G: -log D(G(z))
//   Wasserstein (Arjovsky 2017)     D: E[D(G(z))] - E[D(x)]             G: -E[D(G(z))]
//   hinge (Lim & Ye 2017)           D: E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]   G: -E[D(G(z))]
//   least squares (Mao 2017)        D: 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]   G: 1/2 E[(D(G(z)) - c)^2]
//   gradient penalty (Gulrajani)    lambda E[(||grad_x^ D(x^)||_2 - 1)^2], x^ between x and G(z)
//   loss-sensitive (Qi 2017)        L: E[L(x)] + lambda E[(Delta(x, G(z)) + L(x) - L(G(z)))^+]   G: E[L(G(z))]
//   mutual information (Chen 2016)  -L_I(G, Q) = -E[log Q(c | G(z, c))] up to H(c): categorical CE +
//                                   Gaussian NLL (fixed sigma 1) of the continuous codes
//   auxiliary classifier (Odena)    -L_C = -E[log P(C = c | X)]: cross_entropy (tensor/ops/loss.h)
//   K classes as a discriminator    D(x) = Z(x) / (Z(x) + 1), Z = sum_k exp l_k(x) (Salimans 2016), so
//                                   D's logit is log Z = logsumexp_k l_k; with a (K+1)-th "fake" class
//                                   (Odena's SGAN) it is logsumexp_{k<=K} l_k - l_{K+1}: source_logit
//   feature matching (Salimans)     G: ||E_x f(x) - E_z f(G(z))||^2 on D's intermediate features f
//   pull-away term (Zhao 2017)      mean squared cosine similarity of distinct pairs (EBGAN, Bad GAN)
//   conditional entropy (Dai 2017)  E_x [-sum_k p(k | x) log p(k | x)] (Bad GAN's D term)
//   historical averaging (Salimans) ||theta - (1/t) sum_i theta_i||^2: HistoricalAverage
#pragma once
#include "nn/module.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace duel::gan {

enum class DOutput { kLogit, kProbability };

Tensor minimax_d_loss(const Tensor& d_real, const Tensor& d_fake, DOutput out = DOutput::kLogit);
Tensor minimax_g_loss(const Tensor& d_fake, DOutput out = DOutput::kLogit);
Tensor non_saturating_g_loss(const Tensor& d_fake, DOutput out = DOutput::kLogit);

Tensor wasserstein_d_loss(const Tensor& d_real, const Tensor& d_fake);
Tensor wasserstein_g_loss(const Tensor& d_fake);

Tensor hinge_d_loss(const Tensor& d_real, const Tensor& d_fake);
Tensor hinge_g_loss(const Tensor& d_fake);

// a: the target for fakes, b: for reals, c: what G wants D to believe (Mao et al.: a=0, b=c=1).
Tensor least_squares_d_loss(const Tensor& d_real, const Tensor& d_fake, double a = 0.0, double b = 1.0);
Tensor least_squares_g_loss(const Tensor& d_fake, double c = 1.0);

// Qi's loss-sensitive objective for the loss function L_theta (one value per sample):
// mean_i L(x_i) + lambda mean_i [margin_i + L(x_i) - L(G(z_i))]^+, where margin_i = Delta(x_i, G(z_i))
// is a data-dependent margin (a constant: no gradient flows through it). The generator's
// objective is mean_i L(G(z_i)): loss_sensitive_g_loss.
Tensor loss_sensitive_loss(const Tensor& L_real, const Tensor& L_fake, const Tensor& margin, double lambda);
Tensor loss_sensitive_g_loss(const Tensor& L_fake);
// The margin Delta(x, y) = tau ||x_i - y_i||_1 per sample (summed over every other dimension), detached.
Tensor l1_margin(const Tensor& x, const Tensor& y, double tau);

// InfoGAN's variational bound on the mutual information between the codes and G's output, as
// a loss: cross_entropy(q_logits, c_cat) + mean_i sum_j (c_cont_ij - q_mean_ij)^2 / 2 (the
// log-density of N(q_mean, 1) at c_cont, less its constant), i.e. -L_I(G, Q) - H(c). q_logits
// [N, K] and c_cat int64 [N] are the categorical code; q_mean and c_cont [N, C] the continuous
// ones (C may be 0: undefined tensors).
Tensor info_loss(const Tensor& q_logits, const Tensor& c_cat, const Tensor& q_mean, const Tensor& c_cont);

// The real-vs-fake logit of a classifier's class logits [N, K] (`fake_class` false: D(x) =
// Z / (Z + 1), logit logsumexp_k l_k) or [N, K + 1] (`fake_class` true: the last logit is the
// generated class, D(x) = 1 - p(K + 1 | x), logit logsumexp_{k<=K} l_k - l_{K+1}). [N].
Tensor source_logit(const Tensor& class_logits, bool fake_class = false);

// Feature matching, G's loss: mean_j (mean_i f_real[i, j] - mean_i f_fake[i, j])^2 over the
// features flattened per sample. The real features are a constant (detached): only G learns.
Tensor feature_matching_loss(const Tensor& f_real, const Tensor& f_fake);

// Mean squared cosine similarity of the distinct pairs of rows of codes [N >= 2, d].
Tensor pull_away_term(const Tensor& codes);

// mean_i H(p(. | x_i)) = mean_i -sum_k p_ik log p_ik with p = softmax(logits [N, K]).
Tensor conditional_entropy(const Tensor& logits);

// Historical averaging: the squared distance of a module's parameters from their average over
// all past updates, sum_p ||theta_p - avg_p||^2. update() after every optimizer step folds the
// current parameters into the average (avg_t = avg_{t-1} + (theta_t - avg_{t-1}) / t). The
// averages and t are buffers, so a checkpoint holds them (add it as a module).
class HistoricalAverage : public nn::Module {
 public:
  explicit HistoricalAverage(nn::Module& tracked);
  Tensor penalty() const;
  void update();

 private:
  std::vector<Tensor> params_, averages_;
  Tensor count_;  // float64 0-d: updates folded in
};

// lambda * mean_i (||grad_x D(x^_i)||_2 - 1)^2 with x^_i = eps_i x_i + (1 - eps_i) x~_i,
// eps_i ~ U[0, 1) from `gen`. The gradient is taken with create_graph, so the penalty's own
// gradient reaches D's parameters (a second derivative through every layer of D).
Tensor gradient_penalty(nn::Module& critic, const Tensor& real, const Tensor& fake, double lambda, Generator& gen);

}  // namespace duel::gan
