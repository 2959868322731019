// Improved Training of Wasserstein GANs (Gulrajani et al. 2017), survey section 3.2.3.
//
// Algorithm 1 of the paper (WGAN with gradient penalty):
//
//   while theta has not converged:
//     for t = 1..n_critic:
//       for i = 1..m:
//         x ~ P_r, z ~ p(z), eps ~ U[0, 1]
//         x~ = G(z);  x^ = eps x + (1 - eps) x~
//         L(i) = D(x~) - D(x) + lambda (||grad_x^ D(x^)||_2 - 1)^2
//       w <- Adam(grad_w 1/m sum L(i), w, alpha, beta1, beta2)
//     z ~ p(z);  theta <- Adam(grad_theta 1/m sum -D(G(z)), theta, alpha, beta1, beta2)
//
// The penalty differentiates D's input gradient with respect to D's parameters: a second
// derivative, through every layer of the critic (including batch norm with --critic-bn 1).
//
// Settings: the toy setup of the paper's code (gan_toy.py): MLPs of 3 hidden layers of 512,
// lambda 0.1, n_critic 5, Adam 1e-4 with betas (0.5, 0.9), batch 256. Fashion-MNIST: lambda
// 10, the DCGAN generator and a DCGAN-style critic without sigmoid, with (--critic-bn 1) or
// without (default, as in the paper) batch norm, batch 64, DCGAN's N(0, 0.02) init (--init).
// With the layers' default init instead, the samples carry a regular grid of bright dots for
// hundreds of iterations (the same in PyTorch: scripts/reference/wgan_gp_torch.py): the default
// bound of the last transposed convolution, 1/sqrt(fan_in) with PyTorch's fan_in of a
// transposed convolution = out_channels * k * k = 16, is 0.25, and its stride-2 checkerboard
// saturates the tanh.
#include "gan/model.h"
#include "gan/models.h"

namespace duel::gan {
namespace {

class WganGp : public GanModel {
 public:
  explicit WganGp(const Options& o)
      : GanModel(o, o.text("data") == "fashion-mnist" ? 100 : 2, /*conv_noise=*/o.text("data") == "fashion-mnist"),
        m(o.integer("batch")),
        n_critic(o.integer("n-critic")),
        lambda(o.real("lambda")),
        eps_gen(seed + 2) {
    manual_seed(seed);
    const bool image = data.is_image();
    G = image ? dcgan_generator(z_dim) : mlp(z_dim, 512, 2, 3);
    D = image ? dcgan_discriminator(/*sigmoid=*/false, o.boolean("critic-bn"), o.boolean("critic-bias"))
              : mlp(2, 512, 1, 3);
    if (image && o.text("init") == "dcgan") {
      Generator init_gen(seed + 3);
      dcgan_init(*G, init_gen);
      dcgan_init(*D, init_gen);
    }
    G->to(device);
    D->to(device);
    const double alpha = o.real("lr"), beta1 = o.real("beta1"), beta2 = o.real("beta2");
    opt_G = adam(*G, alpha, beta1, beta2);
    opt_D = adam(*D, alpha, beta1, beta2);
  }

  void state(Checkpointable& s) override {
    GanModel::state(s);
    s.add("eps", eps_gen);
  }

  void step(int64_t) override {
    // ---- n_critic critic updates ----
    for (int64_t t = 0; t < n_critic; ++t) {
      Tensor x = data.next();
      Tensor x_fake;
      {
        NoGradGuard ng;
        x_fake = (*G)(noise_batch(m));
      }
      Tensor d_real = (*D)(x), d_fake = (*D)(x_fake);
      gp = gradient_penalty(*D, x, x_fake, lambda, eps_gen);
      w_dist = mean(d_real) - mean(d_fake);
      loss_D = wasserstein_d_loss(d_real, d_fake) + gp;
      opt_D->zero_grad();
      loss_D.backward();
      opt_D->step();
    }
    // ---- generator update: minimise -D(G(z)) ----
    loss_G = wasserstein_g_loss((*D)((*G)(noise_batch(m))));
    opt_G->zero_grad();
    loss_G.backward();
    opt_G->step();
  }

  Metrics values() override {
    return {{"loss_D", loss_D.item()}, {"loss_G", loss_G.item()}, {"wasserstein", w_dist.item()}, {"gp", gp.item()}};
  }
  std::vector<std::string> plotted() const override { return {"loss_D", "loss_G", "wasserstein"}; }

 protected:
  Tensor field_on_grid(const Tensor& points) override { return (*D)(points); }
  std::string field_name() const override { return "critic"; }

 private:
  int64_t m, n_critic;
  double lambda;
  Generator eps_gen;
  Tensor loss_D, loss_G, w_dist, gp;
};

}  // namespace

train::ModelInfo wgan_gp_model() {
  train::ModelInfo info;
  info.name = "wgan-gp";
  info.section = "3.2.3";
  info.paper = "Gulrajani et al. 2017, Improved Training of Wasserstein GANs";
  info.summary = "critic with gradient penalty lambda (||grad D(x^)|| - 1)^2: gradients of gradients";
  info.defaults = {.steps = 3000, .log_every = 50, .sample_every = 500, .checkpoint_every = kCheckpointEvery};
  info.options = {
      data_option("8gaussians"),
      batch_option(256),
      train::Option::integer("n-critic", "n_critic", 5, 1, 100, "critic updates per generator update"),
      train::Option::real("lambda", "lambda", 0.1, 0, 1e6, "gradient penalty coefficient"),
      lr_option(1e-4),
      train::Option::real("beta1", "beta_1", 0.5, 0, 1, "Adam's first-moment decay"),
      train::Option::real("beta2", "beta_2", 0.9, 0, 1, "Adam's second-moment decay"),
      train::Option::boolean("critic-bn", "", false, "batch norm in the image critic (the paper has none)"),
      train::Option::boolean("critic-bias", "", false, "biases in the image critic's convolutions"),
      train::Option::choice("init", "", "dcgan", {"dcgan", "default"},
                            "image nets' initial weights: DCGAN's N(0, 0.02), or the layers' defaults (Kaiming "
                            "uniform; gives dotted samples, see docs/results.md)"),
  };
  info.presets = {{"data", {"fashion-mnist"}, {{"batch", "64"}, {"steps", "1000"}, {"lambda", "10"}}}};
  info.test_options = {{"data", "fashion-mnist"}, {"batch", "4"}, {"n-critic", "2"}, {"critic-bn", "1"}};
  info.make = [](const Options& o) { return std::make_unique<WganGp>(o); };
  return info;
}

}  // namespace duel::gan
