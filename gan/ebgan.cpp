// Energy-based GAN (Zhao, Mathieu, LeCun 2017), survey section 3.4.1.
//
// The discriminator is an autoencoder and its energy is the reconstruction error,
// D(x) = ||Dec(Enc(x)) - x||^2 (here per pixel, so energies of 28x28 images are O(1)):
//
//   L_D(x, z) = D(x) + [m - D(G(z))]^+                        (the paper's equation 1)
//   L_G(z)    = D(G(z)) + lambda_PT f_PT(S)                   (equation 2, with the pull-away term)
//   f_PT(S)   = 1 / (N (N - 1)) sum_i sum_{j != i} (S_i^T S_j / (||S_i|| ||S_j||))^2
//
// where S are the encoder's codes of the generated batch: the pull-away term pushes the
// generated samples' codes apart (orthogonal), against mode collapse. Real samples get low
// energy, generated ones are pushed up to the margin m; `energy_real` and `energy_fake` are
// logged to show the two over training. Generator: the DCGAN generator (the zoo's comparison
// uses the same generator for every GAN); Adam 2e-4 (beta1 0.5).
//
// The autoencoder has no batch norm by default (--d-bn 0): D sees the real and the generated
// batch separately, and batch norm would normalise a collapsed generated batch (all samples
// alike, no variance) into something the decoder reconstructs easily, i.e. low energy for
// exactly the failure the energy should punish; the first run with batch norm collapsed so.
#include "gan/model.h"
#include "gan/models.h"

namespace duel::gan {
namespace {

class Ebgan : public GanModel {
 public:
  explicit Ebgan(const Options& o)
      : GanModel(o, 100, /*conv_noise=*/true), m_(o.integer("batch")), margin(o.real("margin")), lambda_pt(o.real("lambda-pt")) {
    manual_seed(seed);
    Generator init_gen(seed + 3);
    G = dcgan_generator(z_dim);
    dcgan_init(*G, init_gen);
    D = ae = std::make_shared<AutoencoderDiscriminator>(o.integer("code-dim"), 64,
                                                  AutoencoderDiscriminator::Activation::kLeakyReLU, o.boolean("d-bn"));
    G->to(device);
    D->to(device);
    const double lr = o.real("lr");
    opt_G = adam(*G, lr, 0.5);
    opt_D = adam(*D, lr, 0.5);
  }

  void step(int64_t) override {
    // ---- D: minimise D(x) + [m - D(G(z))]^+ ----
    Tensor x = data.next();
    Tensor fake = (*G)(noise_batch(m_));
    Tensor e_real = mean(ae->energy(x)), e_fake = mean(ae->energy(fake.detach()));
    loss_D = e_real + relu(margin - e_fake);
    opt_D->zero_grad();
    loss_D.backward();
    opt_D->step();
    // ---- G: minimise D(G(z)) + lambda_PT f_PT(S) ----
    Tensor codes = ae->encode(fake);
    Tensor e_gen = mean(mean(pow(ae->decode(codes) - fake, 2.0).flatten(1), {1}));
    pt = pull_away_term(codes.flatten(1));
    loss_G = e_gen + pt * lambda_pt;
    opt_G->zero_grad();
    loss_G.backward();
    opt_G->step();
    energy_real = e_real.item();
    energy_fake = e_fake.item();
  }

  Metrics values() override {
    return {{"loss_D", loss_D.item()},
            {"loss_G", loss_G.item()},
            {"energy_real", energy_real},
            {"energy_fake", energy_fake},
            {"pull_away", pt.item()}};
  }
  std::vector<std::string> plotted() const override { return {"energy_real", "energy_fake", "loss_G"}; }

 private:
  int64_t m_;
  double margin, lambda_pt;
  std::shared_ptr<AutoencoderDiscriminator> ae;  // D, with its encoder and energy
  Tensor loss_D, loss_G, pt;
  double energy_real = 0, energy_fake = 0;
};

}  // namespace

train::ModelInfo ebgan_model() {
  train::ModelInfo info;
  info.name = "ebgan";
  info.section = "3.4.1";
  info.paper = "Zhao et al. 2017, Energy-based Generative Adversarial Network";
  info.summary = "autoencoder D whose energy is the reconstruction error, margin m, pull-away term";
  info.defaults = {.steps = 2000, .log_every = 50, .sample_every = 250, .checkpoint_every = kCheckpointEvery};
  info.options = {
      data_option("fashion-mnist", /*images_only=*/true),
      batch_option(64),
      train::Option::real("margin", "m", 1.0, 0, 1e6, "energy margin for generated samples", /*open_low=*/true),
      train::Option::real("lambda-pt", "lambda_PT", 0.1, 0, 1e6, "weight of the pull-away term"),
      train::Option::integer("code-dim", "", 64, 1, 65536, "size of the autoencoder's code"),
      train::Option::boolean("d-bn", "", false,
                             "batch norm in the autoencoder (normalises real and generated batches separately)"),
      lr_option(2e-4),
  };
  info.test_options = {{"batch", "4"}, {"code-dim", "8"}};
  info.make = [](const Options& o) { return std::make_unique<Ebgan>(o); };
  return info;
}

}  // namespace duel::gan
