// Triple-GAN (Li, Xu, Zhu, Zhang 2017, "Triple Generative Adversarial Nets"), survey section 5.1.
//
// Three players: a classifier C with p_c(y | x), a class-conditional generator G(y, z) with
// p_g(x | y), and a discriminator D(x, y) on image-label pairs that tells the data's pairs from
// both others'. The game (the paper's equation 1, alpha = 1/2):
//
//   min_{C,G} max_D  E_{(x,y) ~ labelled} log D(x, y)
//                  + alpha E_{x ~ unlabelled, y ~ p_c(y|x)} log(1 - D(x, y))
//                  + (1 - alpha) E_{y ~ p(y), z} log(1 - D(G(y, z), y))
//
// plus C's supervised cross-entropy R_L on the labelled pairs and, after a warm-up, the
// pseudo-discriminative loss R_P = E_{(x,y) ~ p_g} [-log p_c(y | x)] on G's pairs, weight
// alpha_P (the paper: 0.1). With 10 classes the expectation over y ~ p_c(y | x) is taken
// exactly (a sum over the 10 classes weighted by p_c) instead of the paper's sampled,
// REINFORCE-style estimate: the same objective with no sampling variance. C's and G's
// adversarial terms are in the non-saturating form (-log D instead of log(1 - D)).
//
// D(x, y) here is a projection discriminator: logit(x, y) = s(x) + v_y(x), two heads on one
// DCGAN trunk (the paper concatenates y to every layer of D; the projection is the same
// conditioning in one linear map, and gives the 10 logits of every label in one pass).
// C is the protocol's classifier (gan/semi_supervised.h), G the zoo's DCGAN generator with the
// one-hot label appended to z (as AC-GAN's). Adam 2e-4, beta1 0.5 for all three.
#include "gan/model.h"
#include "gan/models.h"
#include "gan/semi_supervised.h"
#include "tensor/ops/loss.h"
#include "tensor/ops/nn_ops.h"
#include "tensor/ops/shape_ops.h"

namespace duel::gan {
namespace {

constexpr int64_t K = kSslClasses;

class TripleGan : public SemiSupervisedGan {
 public:
  explicit TripleGan(const Options& o)
      : SemiSupervisedGan(o, /*z_dim=*/100, /*conv_noise=*/false),
        alpha(o.real("alpha")),
        alpha_p(o.real("alpha-p")),
        pseudo_after(o.integer("pseudo-after")) {
    manual_seed(seed);
    Generator init_gen(seed + 3);
    G = dcgan_generator(z_dim + K);
    D = dnet = std::make_shared<MultiHeadDiscriminator>(std::vector<MultiHeadDiscriminator::Head>{{.out = 1}, {.out = K}},
                                                        /*batchnorm=*/false);
    C = ssl_classifier();
    dcgan_init(*G, init_gen);
    dcgan_init(*D, init_gen);
    dcgan_init(*C, init_gen);
    G->to(device);
    D->to(device);
    C->to(device);
    const double lr = o.real("lr"), beta1 = o.real("beta1");
    opt_G = adam(*G, lr, beta1);
    opt_D = adam(*D, lr, beta1);
    opt_C = adam(*C, lr, beta1);
  }

  void state(Checkpointable& s) override {
    SemiSupervisedGan::state(s);
    s.add("C", *C);
    s.add("opt_C", *opt_C);
  }

  Tensor classify(const Tensor& x) override { return (*C)(x); }
  std::vector<nn::Module*> classifier_modules() override { return {C.get()}; }

  // Pictures: one row per class, as AC-GAN's.
  Tensor latent(int64_t n, Generator& gen, Device dev) override {
    return with_one_hot(sample_noise(n, z_dim, gen, dev), grid_codes(n, K, dev), K);
  }
  int64_t grid_samples() const override { return K * K; }
  int64_t grid_columns() const override { return K; }

  // D's logits of (x, y) for every label y: [N, K].
  Tensor pair_logits(const Tensor& x) {
    Tensor f = dnet->features(x);
    return dnet->head(0, f) + dnet->head(1, f);  // s(x) [N, 1] + v_y(x) [N, K]
  }
  static Tensor pick(const Tensor& logits, const Tensor& y) { return gather(logits, 1, y.unsqueeze(1)).flatten(); }

  void step(int64_t t) override {
    auto [x_lab, y_lab] = labelled.next_labelled();
    Tensor x_unl = data.next();
    Tensor y_g = draw_shard(m, [&](int64_t k) { return randint(0, K, {k}, &noise); }).to(device);  // y ~ p(y)
    Tensor fake = (*G)(with_one_hot(sample_noise_shard(m, z_dim, noise, device), y_g, K));
    // ---- D: tell the data's pairs from C's and G's ----
    Tensor logits_unl = (*C)(x_unl);                 // C's labels for the unlabelled images
    Tensor p_c = softmax(logits_unl, 1).detach();
    Tensor s_lab = pick(pair_logits(x_lab), y_lab), s_c = pair_logits(x_unl), s_g = pick(pair_logits(fake.detach()), y_g);
    loss_D = mean(softplus(-s_lab))                          // -log D(x, y)
             + mean(sum(p_c * softplus(s_c), {1})) * alpha   // -E_{y ~ p_c} log(1 - D(x, y))
             + mean(softplus(s_g)) * (1.0 - alpha);          // -log(1 - D(G(y, z), y))
    opt_D->zero_grad();
    loss_D.backward();
    opt_D->step();
    // ---- C: R_L, the adversarial term on its pairs, and R_P after the warm-up ----
    Tensor d_c = softplus(-pair_logits(x_unl)).detach();  // -log D(x, y) for every y: C's cost of saying y
    loss_RL = cross_entropy((*C)(x_lab), y_lab);
    loss_C = loss_RL + mean(sum(softmax(logits_unl, 1) * d_c, {1})) * alpha;
    if (alpha_p > 0 && t > pseudo_after) loss_C = loss_C + cross_entropy((*C)(fake.detach()), y_g) * alpha_p;
    opt_C->zero_grad();
    loss_C.backward();
    opt_C->step();
    // ---- G: make D accept (G(y, z), y) ----
    loss_G = mean(softplus(-pick(pair_logits(fake), y_g))) * (1.0 - alpha);
    opt_G->zero_grad();
    loss_G.backward();
    opt_G->step();
  }

  Metrics values() override {
    return {{"loss_D", loss_D.item()}, {"loss_G", loss_G.item()}, {"loss_C", loss_C.item()}, {"loss_RL", loss_RL.item()}};
  }

 private:
  double alpha, alpha_p;
  int64_t pseudo_after;
  std::shared_ptr<MultiHeadDiscriminator> dnet;  // D(x, y): s(x) head 0, v(x) head 1
  std::shared_ptr<MultiHeadDiscriminator> C;
  std::unique_ptr<optim::Optimizer> opt_C;
  Tensor loss_D, loss_G, loss_C, loss_RL;
};

}  // namespace

train::ModelInfo triple_gan_model() {
  train::ModelInfo info;
  info.name = "triple-gan";
  info.section = "5.1";
  info.paper = "Li et al. 2017, Triple Generative Adversarial Nets";
  info.summary = "classifier C, conditional generator G(y, z) and a discriminator D(x, y) on image-label pairs";
  info.defaults = {.steps = 1000, .log_every = 50, .sample_every = 250, .checkpoint_every = kCheckpointEvery};
  info.options = semi_supervised_options();
  info.options.add(train::Option::real("alpha", "alpha", 0.5, 0, 1, "share of C's pairs (vs G's) in D's fake term"));
  info.options.add(train::Option::real("alpha-p", "alpha_P", 0.1, 0, 10, "weight of the pseudo-discriminative loss R_P on G's pairs"));
  info.options.add(train::Option::integer("pseudo-after", "", 200, 0, 1 << 30, "iterations before R_P is added (G's warm-up)"));
  info.test_options = semi_supervised_test_options();
  info.test_options["pseudo-after"] = "2";
  info.make = [](const Options& o) { return std::make_unique<TripleGan>(o); };
  return info;
}

}  // namespace duel::gan
