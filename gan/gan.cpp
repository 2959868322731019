// Generative Adversarial Nets (Goodfellow et al. 2014), survey section 3.1.1.
//
// Algorithm 1 of the paper, with the non-saturating generator loss the paper recommends in
// practice ("rather than training G to minimize log(1 - D(G(z))) we can train G to maximize
// log D(G(z))"):
//
//   for number of training iterations:
//     for k steps:
//       sample m noise samples z and m examples x
//       update D by ascending  1/m sum [ log D(x) + log(1 - D(G(z))) ]
//     sample m noise samples z
//     update G by ascending  1/m sum log D(G(z))
//
// D and G are MLPs (maxout in the paper; ReLU/LeakyReLU here), Adam 2e-4 with beta1 = 0.5.
#include "gan/model.h"
#include "gan/models.h"

namespace duel::gan {
namespace {

class Gan : public GanModel {
 public:
  explicit Gan(const Options& o)
      : GanModel(o, o.integer("z-dim"), /*conv_noise=*/false), m(o.integer("batch")), k(o.integer("k")) {
    manual_seed(seed);
    const bool image = data.is_image();
    const int64_t out = image ? 784 : 2, hidden = o.integer("hidden");
    G = gan_generator(z_dim, hidden, out, image);
    D = gan_discriminator(out, hidden);
    G->to(device);
    D->to(device);
    const double lr = o.real("lr");
    opt_G = adam(*G, lr, 0.5);
    opt_D = adam(*D, lr, 0.5);
  }

  void step(int64_t) override {
    // ---- k steps on D: ascend log D(x) + log(1 - D(G(z))) ----
    for (int64_t i = 0; i < k; ++i) {
      Tensor x = data.next();
      Tensor fake;
      {
        NoGradGuard ng;
        fake = (*G)(noise_batch(m));
      }
      Tensor d_real = (*D)(x), d_fake = (*D)(fake);
      loss_D = minimax_d_loss(d_real, d_fake);
      opt_D->zero_grad();
      loss_D.backward();
      opt_D->step();
    }
    // ---- one step on G: ascend log D(G(z)) (non-saturating) ----
    loss_G = non_saturating_g_loss((*D)((*G)(noise_batch(m))));
    opt_G->zero_grad();
    loss_G.backward();
    opt_G->step();
  }

  Metrics values() override { return {{"loss_D", loss_D.item()}, {"loss_G", loss_G.item()}}; }

 private:
  int64_t m, k;
  Tensor loss_D, loss_G;
};

}  // namespace

train::ModelInfo gan_model() {
  train::ModelInfo info;
  info.name = "gan";
  info.section = "3.1.1";
  info.paper = "Goodfellow et al. 2014, Generative Adversarial Nets";
  info.summary = "MLP generator and discriminator, non-saturating loss, k D-steps per G-step";
  info.defaults = {.steps = 5000, .log_every = 50, .sample_every = 500, .checkpoint_every = kCheckpointEvery};
  info.options = {
      data_option("8gaussians"),
      batch_option(256),
      train::Option::integer("k", "k", 1, 1, 100, "discriminator steps per generator step"),
      lr_option(2e-4),
      train::Option::integer("z-dim", "dim z", 2, 1, 4096, "noise dimension"),
      train::Option::integer("hidden", "", 256, 1, 65536, "width of the hidden layers of G and D"),
  };
  info.presets = {{"data", {"fashion-mnist"}, {{"batch", "64"}, {"steps", "3000"}, {"z-dim", "100"}, {"hidden", "512"}}}};
  info.test_options = {{"data", "fashion-mnist"}, {"batch", "8"}, {"hidden", "16"}, {"z-dim", "8"}};
  info.make = [](const Options& o) { return std::make_unique<Gan>(o); };
  return info;
}

}  // namespace duel::gan
