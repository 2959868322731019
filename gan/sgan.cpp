// SGAN (Odena 2016, "Semi-Supervised Learning with Generative Adversarial Networks"), survey
// section 5.1.
//
// The discriminator is a classifier D/C with K + 1 outputs: the K classes of the data and a
// (K+1)-th, "generated". Algorithm 1 of the paper, with p = softmax(D/C(.)):
//
//   D/C: minimise  -E_{(x, y) ~ labelled} log p(y | x)          (the labelled images, their class)
//                  -E_{x ~ unlabelled} log(1 - p(K+1 | x))      (any real class)
//                  -E_z log p(K+1 | G(z))                       (generated: class K + 1)
//   G:   minimise  -E_z log(1 - p(K+1 | G(z)))                  (look like some real class)
//
// The unlabelled term is how Salimans et al. (section 5) read the K + 1 classifier for the
// semi-supervised setting; Odena's experiments draw labelled pairs only. Here, as the protocol
// has it (gan/semi_supervised.h), every step draws a labelled, an unlabelled and a generated
// batch. The real/fake terms are the minimax loss on the logit logsumexp_{k<=K} l_k - l_{K+1}
// (gan/losses.h source_logit). The test error takes the argmax over the K real classes.
//
// Networks: the protocol's classifier with 11 outputs, the zoo's DCGAN generator; Adam 2e-4,
// beta1 0.5 for both (the baseline's setting).
#include "gan/model.h"
#include "gan/models.h"
#include "gan/semi_supervised.h"
#include "tensor/ops/loss.h"

namespace duel::gan {
namespace {

constexpr int64_t K = kSslClasses;

class Sgan : public SemiSupervisedGan {
 public:
  explicit Sgan(const Options& o) : SemiSupervisedGan(o, /*z_dim=*/100, /*conv_noise=*/true) {
    manual_seed(seed);
    Generator init_gen(seed + 3);
    G = dcgan_generator(z_dim);
    D = net = ssl_classifier(K + 1);
    dcgan_init(*G, init_gen);
    dcgan_init(*D, init_gen);
    G->to(device);
    D->to(device);
    opt_G = adam(*G, o.real("lr"), o.real("beta1"));
    opt_D = adam(*D, o.real("lr"), o.real("beta1"));
  }

  Tensor classify(const Tensor& x) override { return (*net)(x).narrow(1, 0, K); }

  void step(int64_t) override {
    SslBatches b = draw_batches();
    // ---- D/C ----
    Tensor l_lab = (*net)(b.x_lab), l_unl = (*net)(b.x_unl), l_fake = (*net)(b.fake.detach());
    loss_sup = cross_entropy(l_lab, b.y_lab);
    loss_unsup = minimax_d_loss(source_logit(l_unl, /*fake_class=*/true), source_logit(l_fake, /*fake_class=*/true));
    loss_D = loss_sup + loss_unsup;
    opt_D->zero_grad();
    loss_D.backward();
    opt_D->step();
    // ---- G ----
    loss_G = non_saturating_g_loss(source_logit((*net)(b.fake), /*fake_class=*/true));
    opt_G->zero_grad();
    loss_G.backward();
    opt_G->step();
  }

  Metrics values() override {
    return {{"loss_D", loss_D.item()}, {"loss_G", loss_G.item()}, {"loss_sup", loss_sup.item()}, {"loss_unsup", loss_unsup.item()}};
  }

 private:
  std::shared_ptr<MultiHeadDiscriminator> net;  // D/C: K + 1 logits
  Tensor loss_D, loss_G, loss_sup, loss_unsup;
};

}  // namespace

train::ModelInfo sgan_model() {
  train::ModelInfo info;
  info.name = "sgan";
  info.section = "5.1";
  info.paper = "Odena 2016, Semi-Supervised Learning with Generative Adversarial Networks";
  info.summary = "D as a (K+1)-class classifier: the K classes and 'generated'; semi-supervised test error";
  info.defaults = {.steps = 1000, .log_every = 50, .sample_every = 250, .checkpoint_every = kCheckpointEvery};
  info.options = semi_supervised_options();
  info.test_options = semi_supervised_test_options();
  info.make = [](const Options& o) { return std::make_unique<Sgan>(o); };
  return info;
}

}  // namespace duel::gan
