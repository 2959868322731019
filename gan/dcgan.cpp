// DCGAN (Radford, Metz, Chintala 2016), survey section 4.1.1.
//
// The paper's recipe: strided (transposed) convolutions instead of pooling, batch norm in G
// and D, ReLU in G (tanh output), LeakyReLU 0.2 in D; weights ~ N(0, 0.02); Adam lr 2e-4 with
// beta1 = 0.5; batch 64; the standard GAN losses:
//
//   D: maximise log D(x) + log(1 - D(G(z)))
//   G: maximise log D(G(z))            (non-saturating)
//
// For 28x28 Fashion-MNIST the networks are exactly those of the libtorch C++ DCGAN example
// (gan/nets.h), whose D ends in a sigmoid, so that a step can be timed against libtorch one to
// one (duel_bench).
#include "gan/model.h"
#include "gan/models.h"

namespace duel::gan {
namespace {

class Dcgan : public GanModel {
 public:
  explicit Dcgan(const Options& o) : GanModel(o, /*z_dim=*/100, /*conv_noise=*/true), m(o.integer("batch")) {
    manual_seed(seed);
    Generator init_gen(seed + 3);
    G = dcgan_generator(z_dim);
    D = dcgan_discriminator(/*sigmoid=*/true, /*batchnorm=*/true);
    dcgan_init(*G, init_gen);
    dcgan_init(*D, init_gen);
    G->to(device);
    D->to(device);
    const double lr = o.real("lr"), beta1 = o.real("beta1");
    opt_G = adam(*G, lr, beta1);
    opt_D = adam(*D, lr, beta1);
  }

  void step(int64_t) override {
    // ---- D: maximise log D(x) + log(1 - D(G(z))) ----
    Tensor x = data.next();
    Tensor fake = (*G)(noise_batch(m));
    d_real = (*D)(x);
    d_fake = (*D)(fake.detach());
    loss_D = minimax_d_loss(d_real, d_fake, DOutput::kProbability);
    opt_D->zero_grad();
    loss_D.backward();
    opt_D->step();
    // ---- G: maximise log D(G(z)) ----
    loss_G = non_saturating_g_loss((*D)(fake), DOutput::kProbability);
    opt_G->zero_grad();
    loss_G.backward();
    opt_G->step();
  }

  Metrics values() override {
    return {{"loss_D", loss_D.item()},
            {"loss_G", loss_G.item()},
            {"D(x)", mean(d_real).item()},
            {"D(G(z))", mean(d_fake).item()}};
  }

 private:
  int64_t m;
  Tensor loss_D, loss_G, d_real, d_fake;
};

}  // namespace

train::ModelInfo dcgan_model() {
  train::ModelInfo info;
  info.name = "dcgan";
  info.section = "4.1.1";
  info.paper = "Radford et al. 2016, Deep Convolutional GANs";
  info.summary = "strided (transposed) convolutions, batch norm, ReLU/Tanh G, LeakyReLU D";
  info.defaults = {.steps = 2000, .log_every = 50, .sample_every = 500, .checkpoint_every = kCheckpointEvery};
  info.options = {
      data_option("fashion-mnist", /*images_only=*/true),
      batch_option(64),
      lr_option(2e-4),
      train::Option::real("beta1", "beta_1", 0.5, 0, 1, "Adam's first-moment decay (the paper lowers it from 0.9)"),
  };
  info.test_options = {{"batch", "4"}};
  info.make = [](const Options& o) { return std::make_unique<Dcgan>(o); };
  return info;
}

}  // namespace duel::gan
