// Bad GAN (Dai, Yang, Yang, Cohen, Salakhutdinov 2017, "Good Semi-supervised Learning That
// Requires a Bad GAN"), survey section 5.1.
//
// Good semi-supervised learning needs a "complement" generator: one whose samples fill the
// low-density gaps between the classes rather than imitate the data, so that D's decision
// boundaries fall into those gaps. D is Salimans et al.'s K-class discriminator; the paper's
// objective, term by term (the weights are the authors' SVHN settings):
//
//   D: minimise  -E_lab log p(y | x)                               supervised
//               + 1/2 (-E_unl log D(x) - E_z log(1 - D(G(z))))     unsupervised (D = Z / (Z + 1))
//               + lambda_ent E_unl H(p(. | x))                     conditional entropy (--lambda-ent 0.1)
//   G: minimise  ||E_unl f(x) - E_z f(G(z))||^2                     feature matching (the complement)
//               + lambda_pt PT(f(G(z)))                            generator entropy: the pull-away
//                                                                  term on D's features (--lambda-pt 0.8)
//
// Not in: the low-density term, which penalises generated samples that a pretrained density
// model (the paper's PixelCNN++) finds likely, -E log p(G(z)) [p(G(z)) > epsilon]. A PixelCNN++
// of the paper's size does not fit this project's CPU budget next to the GANs; the two terms
// that are in can each be switched off (--lambda-ent 0, --lambda-pt 0) to measure what they
// contribute (docs/results.md).
//
// Networks: the protocol's classifier (gan/semi_supervised.h) and the zoo's DCGAN generator;
// f is D's trunk output; Adam 2e-4, beta1 0.5 (the baseline's setting).
#include "gan/model.h"
#include "gan/models.h"
#include "gan/semi_supervised.h"
#include "tensor/ops/loss.h"

namespace duel::gan {
namespace {

class BadGan : public SemiSupervisedGan {
 public:
  explicit BadGan(const Options& o)
      : SemiSupervisedGan(o, /*z_dim=*/100, /*conv_noise=*/true), lambda_ent(o.real("lambda-ent")), lambda_pt(o.real("lambda-pt")) {
    manual_seed(seed);
    Generator init_gen(seed + 3);
    G = dcgan_generator(z_dim);
    D = net = ssl_classifier();
    dcgan_init(*G, init_gen);
    dcgan_init(*D, init_gen);
    G->to(device);
    D->to(device);
    opt_G = adam(*G, o.real("lr"), o.real("beta1"));
    opt_D = adam(*D, o.real("lr"), o.real("beta1"));
  }

  Tensor classify(const Tensor& x) override { return (*net)(x); }

  void step(int64_t) override {
    SslBatches b = draw_batches();
    // ---- D ----
    KClassPass d = k_class_pass(*net, b);
    loss_sup = cross_entropy(d.l_lab, b.y_lab);
    loss_unsup = unsupervised_d_loss(source_logit(d.l_unl), source_logit(d.l_fake));
    ent = conditional_entropy(d.l_unl);
    loss_D = loss_sup + loss_unsup;
    if (lambda_ent > 0) loss_D = loss_D + ent * lambda_ent;
    opt_D->zero_grad();
    loss_D.backward();
    opt_D->step();
    // ---- G: the complement generator ----
    Tensor f_fake = net->features(b.fake);
    fm = feature_matching_loss(d.f_unl, f_fake);
    pt = pull_away_term(f_fake.flatten(1));
    loss_G = lambda_pt > 0 ? fm + pt * lambda_pt : fm;
    opt_G->zero_grad();
    loss_G.backward();
    opt_G->step();
  }

  Metrics values() override {
    return {{"loss_D", loss_D.item()}, {"loss_G", loss_G.item()},     {"loss_sup", loss_sup.item()},
            {"loss_unsup", loss_unsup.item()}, {"entropy", ent.item()}, {"feature_matching", fm.item()},
            {"pull_away", pt.item()}};
  }

 private:
  double lambda_ent, lambda_pt;
  std::shared_ptr<MultiHeadDiscriminator> net;
  Tensor loss_D, loss_G, loss_sup, loss_unsup, ent, fm, pt;
};

}  // namespace

train::ModelInfo bad_gan_model() {
  train::ModelInfo info;
  info.name = "bad-gan";
  info.section = "5.1";
  info.paper = "Dai et al. 2017, Good Semi-supervised Learning That Requires a Bad GAN";
  info.summary = "complement generator: feature matching + pull-away; D's conditional entropy (no PixelCNN term)";
  info.defaults = {.steps = 1000, .log_every = 50, .sample_every = 250, .checkpoint_every = kCheckpointEvery};
  info.options = semi_supervised_options();
  info.options.add(train::Option::real("lambda-ent", "", 0.1, 0, 100, "weight of D's conditional entropy on unlabelled images (0: off)"));
  info.options.add(train::Option::real("lambda-pt", "", 0.8, 0, 100, "weight of the pull-away term on G's features (0: off)"));
  info.test_options = semi_supervised_test_options();
  info.make = [](const Options& o) { return std::make_unique<BadGan>(o); };
  return info;
}

}  // namespace duel::gan
