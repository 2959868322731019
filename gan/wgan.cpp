// Wasserstein GAN (Arjovsky, Chintala, Bottou 2017), survey section 3.2.2.
//
// Algorithm 1 of the paper (alpha = 5e-5, c = 0.01, m = 64, n_critic = 5):
//
//   while theta has not converged:
//     for t = 0, ..., n_critic:
//       sample {x(i)} ~ P_r and {z(i)} ~ p(z), i = 1..m
//       g_w <- grad_w [ 1/m sum f_w(x(i)) - 1/m sum f_w(g_theta(z(i))) ]
//       w <- w + alpha RMSProp(w, g_w)
//       w <- clip(w, -c, c)
//     sample {z(i)} ~ p(z)
//     g_theta <- -grad_theta 1/m sum f_w(g_theta(z(i)))
//     theta <- theta - alpha RMSProp(theta, g_theta)
//
// The critic f_w has no sigmoid: its output is a score, and 1/m sum f_w(x) - 1/m sum
// f_w(g(z)) estimates the Wasserstein-1 distance (up to the Lipschitz constant the clipping
// imposes), logged as `wasserstein`. The paper's claim is that this estimate tracks sample
// quality; each snapshot also logs FCD on 500 samples so the two can be compared.
//
// As the authors' code (WassersteinGAN/main.py), the critic is trained 100 times per
// generator step for the first 25 generator steps and every 500th (--critic-burst 1), so
// that it stays near optimal; RMSprop has PyTorch's defaults (alpha 0.99, eps 1e-8); every
// critic parameter is clipped, batch-norm ones included. Images: the DCGAN generator and a
// DCGAN critic with batch norm (the paper's DCGAN experiments); toy data: the MLPs of the
// WGAN-GP toy setup.
#include "gan/model.h"
#include "gan/models.h"

namespace duel::gan {
namespace {

class Wgan : public GanModel {
 public:
  explicit Wgan(const Options& o)
      : GanModel(o, o.text("data") == "fashion-mnist" ? 100 : 2, /*conv_noise=*/o.text("data") == "fashion-mnist"),
        m(o.integer("batch")),
        n_critic(o.integer("n-critic")),
        c(o.real("clip")),
        critic_burst(o.boolean("critic-burst")) {
    manual_seed(seed);
    const bool image = data.is_image();
    G = image ? dcgan_generator(z_dim) : mlp(z_dim, 512, 2, 3);
    D = f = image ? dcgan_discriminator(/*sigmoid=*/false, o.boolean("critic-bn")) : mlp(2, 512, 1, 3);
    if (image) {
      Generator init_gen(seed + 3);
      dcgan_init(*G, init_gen);
      dcgan_init(*f, init_gen);
    }
    G->to(device);
    f->to(device);
    const double alpha = o.real("lr");
    opt_G = std::make_unique<optim::RMSprop>(G->parameters(), optim::RMSpropOptions{.lr = alpha});
    opt_D = std::make_unique<optim::RMSprop>(f->parameters(), optim::RMSpropOptions{.lr = alpha});
    clip_weights();
  }


  void step(int64_t generator_step) override {
    const bool burst = critic_burst && (generator_step < 25 || generator_step % 500 == 0);
    for (int64_t t = 0; t < (burst ? 100 : n_critic); ++t) {
      Tensor x = data.next();
      Tensor fake;
      {
        NoGradGuard ng;
        fake = (*G)(noise_batch(m));
      }
      Tensor f_real = (*f)(x), f_fake = (*f)(fake);
      // ascend 1/m sum f_w(x) - 1/m sum f_w(g(z)): descend its negative
      loss_D = wasserstein_d_loss(f_real, f_fake);
      opt_D->zero_grad();
      loss_D.backward();
      opt_D->step();
      clip_weights();  // w <- clip(w, -c, c)
    }
    // theta <- theta - alpha RMSProp(-grad_theta 1/m sum f_w(g_theta(z)))
    loss_G = wasserstein_g_loss((*f)((*G)(noise_batch(m))));
    opt_G->zero_grad();
    loss_G.backward();
    opt_G->step();
  }

  Metrics values() override {
    return {{"loss_D", loss_D.item()}, {"loss_G", loss_G.item()}, {"wasserstein", -loss_D.item()}};
  }
  std::vector<std::string> plotted() const override { return {"loss_D", "loss_G", "wasserstein"}; }

 protected:
  Tensor field_on_grid(const Tensor& points) override { return (*f)(points); }
  std::string field_name() const override { return "critic"; }

 private:
  void clip_weights() {
    NoGradGuard ng;
    for (Tensor& w : f->parameters()) w.clamp_(-c, c);
  }

  int64_t m, n_critic;
  double c;
  bool critic_burst;
  std::shared_ptr<nn::Sequential> f;  // the critic f_w (= D)
  Tensor loss_D, loss_G;
};

}  // namespace

train::ModelInfo wgan_model() {
  train::ModelInfo info;
  info.name = "wgan";
  info.section = "3.2.2";
  info.paper = "Arjovsky et al. 2017, Wasserstein GAN";
  info.summary = "critic without sigmoid, weight clipping c, RMSprop, n_critic critic steps per G step";
  info.defaults = {.steps = 2000, .log_every = 25, .sample_every = 250, .checkpoint_every = kCheckpointEvery};
  info.options = {
      data_option("fashion-mnist"),
      batch_option(64),
      train::Option::integer("n-critic", "n_critic", 5, 1, 1000, "critic updates per generator update"),
      train::Option::real("clip", "c", 0.01, 0, 100, "weight clipping bound: w <- clip(w, -c, c)", /*open_low=*/true),
      lr_option(5e-5),
      train::Option::boolean("critic-burst", "", true,
                             "100 critic updates for the first 25 generator updates and every 500th (authors' code)"),
      train::Option::boolean("critic-bn", "", true, "batch norm in the image critic (the paper's DCGAN critic)"),
  };
  info.presets = {{"data", toy_data_names(), {{"batch", "256"}, {"steps", "3000"}}}};
  info.test_options = {{"batch", "4"}, {"critic-burst", "0"}, {"n-critic", "2"}};
  info.make = [](const Options& o) { return std::make_unique<Wgan>(o); };
  return info;
}

}  // namespace duel::gan
