// Improved techniques for training GANs (Salimans, Goodfellow, Zaremba, Cheung, Radford, Chen
// 2016), survey section 5.1: the semi-supervised K-class discriminator and five techniques,
// each switchable by its own option.
//
// D is a K-class classifier whose "real" probability is D(x) = Z(x) / (Z(x) + 1), Z = sum_k
// exp l_k(x) (the K+1-class classifier with l_{K+1} fixed at 0). Its loss (equation 5):
//
//   L_D = -E_lab log p(y | x)  +  1/2 (-E_unl log D(x) - E_z log(1 - D(G(z))))
//
// and the techniques:
//   --feature-matching 1      G matches the mean of D's features on real data (section 3.1):
//                             L_G = ||E_unl f(x) - E_z f(G(z))||^2, f = D's trunk. Off: the
//                             non-saturating L_G = -E_z log D(G(z)).
//   --minibatch-kernels B     minibatch discrimination (3.2) before D's last layer: B kernels of
//                             5 dimensions (the paper: 100). 0: off.
//   --historical-averaging w  both players add w ||theta - (1/t) sum_i theta_i||^2 (3.3). 0: off.
//   --label-smoothing a       one-sided label smoothing (3.4): D's real target 1 - a. 0: off.
//   --vbn 1                   virtual batch normalisation in G (3.4) with a reference batch of 64.
//
// The paper's semi-supervised setting (feature matching on, the others off) is the default.
// Networks: the protocol's classifier (gan/semi_supervised.h) and the zoo's DCGAN generator;
// Adam 2e-4, beta1 0.5 (the baseline's setting).
#include "gan/model.h"
#include "gan/models.h"
#include "gan/semi_supervised.h"
#include "tensor/ops/loss.h"

namespace duel::gan {
namespace {

class ImprovedGan : public SemiSupervisedGan {
 public:
  explicit ImprovedGan(const Options& o)
      : SemiSupervisedGan(o, /*z_dim=*/100, /*conv_noise=*/true),
        feature_matching(o.boolean("feature-matching")),
        hist_weight(o.real("historical-averaging")),
        real_target(1.0 - o.real("label-smoothing")) {
    manual_seed(seed);
    Generator init_gen(seed + 3);
    if (o.boolean("vbn")) G = std::make_shared<VbnGenerator>(z_dim, /*ref_size=*/64, init_gen);
    else G = dcgan_generator(z_dim);
    D = net = ssl_classifier(kSslClasses, o.integer("minibatch-kernels"));
    dcgan_init(*G, init_gen);
    dcgan_init(*D, init_gen);
    G->to(device);
    D->to(device);
    if (hist_weight > 0) {
      hist_G = std::make_shared<HistoricalAverage>(*G);
      hist_D = std::make_shared<HistoricalAverage>(*D);
    }
    opt_G = adam(*G, o.real("lr"), o.real("beta1"));
    opt_D = adam(*D, o.real("lr"), o.real("beta1"));
  }

  void state(Checkpointable& s) override {
    SemiSupervisedGan::state(s);
    if (hist_G) s.add("hist_G", *hist_G);
    if (hist_D) s.add("hist_D", *hist_D);
  }

  Tensor classify(const Tensor& x) override { return (*net)(x); }

  void step(int64_t) override {
    SslBatches b = draw_batches();
    // ---- D ----
    KClassPass d = k_class_pass(*net, b);
    loss_sup = cross_entropy(d.l_lab, b.y_lab);
    loss_unsup = unsupervised_d_loss(source_logit(d.l_unl), source_logit(d.l_fake), real_target);
    loss_D = loss_sup + loss_unsup;
    if (hist_D) loss_D = loss_D + hist_D->penalty() * hist_weight;
    opt_D->zero_grad();
    loss_D.backward();
    opt_D->step();
    if (hist_D) hist_D->update();
    // ---- G ----
    loss_G = feature_matching ? feature_matching_loss(d.f_unl, net->features(b.fake))
                              : non_saturating_g_loss(source_logit((*net)(b.fake)));
    if (hist_G) loss_G = loss_G + hist_G->penalty() * hist_weight;
    opt_G->zero_grad();
    loss_G.backward();
    opt_G->step();
    if (hist_G) hist_G->update();
    NoGradGuard ng;
    d_real = mean(sigmoid(source_logit(d.l_unl))).item();
    d_fake = mean(sigmoid(source_logit(d.l_fake))).item();
  }

  Metrics values() override {
    return {{"loss_D", loss_D.item()},         {"loss_G", loss_G.item()}, {"loss_sup", loss_sup.item()},
            {"loss_unsup", loss_unsup.item()}, {"D(x)", d_real},          {"D(G(z))", d_fake}};
  }

 private:
  bool feature_matching;
  double hist_weight, real_target;
  std::shared_ptr<MultiHeadDiscriminator> net;
  std::shared_ptr<HistoricalAverage> hist_G, hist_D;
  Tensor loss_D, loss_G, loss_sup, loss_unsup;
  double d_real = 0, d_fake = 0;
};

}  // namespace

train::ModelInfo improved_gan_model() {
  train::ModelInfo info;
  info.name = "improved-gan";
  info.section = "5.1";
  info.paper = "Salimans et al. 2016, Improved Techniques for Training GANs";
  info.summary = "K-class D; feature matching, minibatch discrimination, historical averaging, label smoothing, VBN";
  info.defaults = {.steps = 1000, .log_every = 50, .sample_every = 250, .checkpoint_every = kCheckpointEvery};
  info.options = semi_supervised_options();
  info.options.add(train::Option::boolean("feature-matching", "", true, "G matches D's mean features (off: non-saturating loss)"));
  info.options.add(train::Option::integer("minibatch-kernels", "B", 0, 0, 4096,
                                                "minibatch discrimination kernels before D's last layer (0: off; the paper: 100)"));
  info.options.add(train::Option::real("historical-averaging", "", 0, 0, 100,
                                             "weight of ||theta - mean of past theta||^2 for both players (0: off)"));
  info.options.add(train::Option::real("label-smoothing", "", 0, 0, 0.5,
                                             "one-sided label smoothing: D's target for real images is 1 - this (0: off)"));
  info.options.add(train::Option::boolean("vbn", "", false, "virtual batch normalisation in G (reference batch of 64)"));
  info.test_options = semi_supervised_test_options();  // every technique on
  info.test_options.insert({{"minibatch-kernels", "3"}, {"historical-averaging", "0.01"}, {"label-smoothing", "0.1"}, {"vbn", "1"}});
  info.make = [](const Options& o) { return std::make_unique<ImprovedGan>(o); };
  return info;
}

}  // namespace duel::gan
