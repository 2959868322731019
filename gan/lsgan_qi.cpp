// Loss-Sensitive GAN (Guo-Jun Qi 2017, "Loss-Sensitive Generative Adversarial Networks on
// Lipschitz Densities"), survey section 3.3.1. Not the least-squares GAN of Mao et al.
//
// Instead of a classifier, LS-GAN learns a loss function L_theta(x) >= 0 that should be
// smaller on a real sample than on a generated one by a data-dependent margin: the farther
// G(z) is from x, the larger the margin it must be separated by.
//
//   Delta(x, G(z)) = tau ||x - G(z)||_1                                   (the margin, L1)
//   S(theta) = E_x L(x) + lambda E_{x,z} [Delta(x, G(z)) + L(x) - L(G(z))]^+   (L's objective)
//   T(phi)   = E_z L(G_phi(z))                                          (G's objective)
//
// alternately: one step of S on theta with G fixed, one step of T on phi with L fixed. The
// Lipschitz regularity the analysis needs is imposed on L by weight decay kappa (the paper's
// experiments; the authors' lsgan.lua has it as decay_rate) or, as in the paper's later
// version, by a gradient penalty mu (||grad L(x^)|| - 1)^2 on interpolates (--gp).
//
// Settings from the authors' code (guojunq/lsgan, lsgan.lua): L is the DCGAN discriminator
// ending in a ReLU (a non-negative loss), G the DCGAN generator, N(0, 0.02) init, Adam 1e-4
// with beta1 0.5, batch 64, one L step per G step, the G step reusing the L step's fakes. Their
// margin scale 0.0002 is per summed L1 over 64x64x3 pixels; per pixel of our 28x28 images that
// is tau = 0.0002 * 12288 / 784 ~ 0.003. Their objective has E L(x) weighted by gamma (0 by
// default; "a small value allows a more stable result"): S / lambda with gamma = 1 / lambda,
// which is what is minimised here, so that kappa acts on the same scale as in their code.
#include "gan/model.h"
#include "gan/models.h"

namespace duel::gan {
namespace {

class LsganQi : public GanModel {
 public:
  explicit LsganQi(const Options& o)
      : GanModel(o, 100, /*conv_noise=*/true),
        m(o.integer("batch")),
        lambda(o.real("lambda")),
        tau(o.real("tau")),
        mu(o.real("gp")),
        eps_gen(seed + 2) {
    manual_seed(seed);
    Generator init_gen(seed + 3);
    G = dcgan_generator(z_dim);
    auto loss_net = dcgan_discriminator(/*sigmoid=*/false, /*batchnorm=*/true);
    loss_net->emplace_back<nn::ReLU>();  // L_theta(x) >= 0
    D = L = loss_net;
    dcgan_init(*G, init_gen);
    dcgan_init(*L, init_gen);
    G->to(device);
    L->to(device);
    const double lr = o.real("lr"), beta1 = o.real("beta1");
    opt_G = adam(*G, lr, beta1);
    opt_D = std::make_unique<optim::Adam>(
        L->parameters(), optim::AdamOptions{.lr = lr, .betas = {beta1, 0.999}, .weight_decay = o.real("weight-decay")});
  }

  void state(Checkpointable& s) override {
    GanModel::state(s);
    s.add("eps", eps_gen);
  }

  void step(int64_t) override {
    // ---- L_theta: minimise S / lambda = E L(x) / lambda + E [Delta(x, G(z)) + L(x) - L(G(z))]^+ ----
    Tensor x = data.next();
    Tensor fake = (*G)(noise_batch(m));
    Tensor L_x = (*L)(x), L_fake = (*L)(fake.detach());
    Tensor delta = l1_margin(x, fake, tau);
    loss_L = loss_sensitive_loss(L_x, L_fake, delta, lambda) / lambda;
    if (mu > 0) {
      gp = gradient_penalty(*L, x, fake.detach(), mu, eps_gen);
      loss_L = loss_L + gp;
    }
    opt_D->zero_grad();
    loss_L.backward();
    opt_D->step();
    // ---- G_phi: minimise T = E L(G(z)) on the same z ----
    loss_G = loss_sensitive_g_loss((*L)(fake));
    opt_G->zero_grad();
    loss_G.backward();
    opt_G->step();
    // logged: the two losses, the margin and how many pairs still violate it
    NoGradGuard ng;
    L_real_mean = mean(L_x).item();
    L_fake_mean = mean(L_fake).item();
    margin_mean = mean(delta).item();
    Tensor hinge = delta + L_x.flatten() - L_fake.flatten();
    active = mean(gt(hinge, zeros_like(hinge)).to(hinge.dtype())).item();
  }

  Metrics values() override {
    Metrics v = {{"loss_L", loss_L.item()}, {"loss_G", loss_G.item()}, {"L(x)", L_real_mean},
                 {"L(G(z))", L_fake_mean},  {"margin", margin_mean},    {"active", active}};
    if (mu > 0) v.push_back({"gp", gp.item()});
    return v;
  }
  std::vector<std::string> plotted() const override { return {"L(x)", "L(G(z))", "margin"}; }

 private:
  int64_t m;
  double lambda, tau, mu;
  Generator eps_gen;
  std::shared_ptr<nn::Sequential> L;  // the loss function L_theta (= D)
  Tensor loss_L, loss_G, gp;
  double L_real_mean = 0, L_fake_mean = 0, margin_mean = 0, active = 0;
};

}  // namespace

train::ModelInfo lsgan_qi_model() {
  train::ModelInfo info;
  info.name = "lsgan-qi";
  info.section = "3.3.1";
  info.paper = "Qi 2017, Loss-Sensitive GANs on Lipschitz Densities";
  info.summary = "a learned loss L with data-dependent L1 margin Delta(x, G(z)), hinge weight lambda, Lipschitz by weight decay";
  info.defaults = {.steps = 2000, .log_every = 50, .sample_every = 250, .checkpoint_every = kCheckpointEvery};
  info.options = {
      data_option("fashion-mnist", /*images_only=*/true),
      batch_option(64),
      train::Option::real("lambda", "lambda", 1000, 0, 1e12,
                          "weight of the hinge term in S (the authors' code weights E L(x) by gamma = 1/lambda)",
                          /*open_low=*/true),
      train::Option::real("tau", "tau", 0.003, 0, 1e6, "margin scale: Delta(x, G(z)) = tau ||x - G(z)||_1 (pixels summed)"),
      train::Option::real("weight-decay", "kappa", 5e-5, 0, 1, "weight decay on L's parameters (Lipschitz regularity)"),
      train::Option::real("gp", "mu", 0, 0, 1e6, "gradient penalty mu (||grad L(x^)|| - 1)^2 on L (0: off)"),
      lr_option(1e-4),
      train::Option::real("beta1", "beta_1", 0.5, 0, 1, "Adam's first-moment decay"),
  };
  info.test_options = {{"batch", "4"}, {"gp", "1"}};
  info.make = [](const Options& o) { return std::make_unique<LsganQi>(o); };
  return info;
}

}  // namespace duel::gan
