// AC-GAN, the auxiliary classifier GAN (Odena, Olah, Shlens 2017, "Conditional Image
// Synthesis with Auxiliary Classifier GANs"), survey section 4.3.
//
// Every generated image gets a class c ~ p_c besides its noise z: X_fake = G(c, z). The
// discriminator gives a probability distribution over sources, P(S | X), and over classes,
// P(C | X), from one shared trunk. With
//
//   L_S = E[log P(S = real | X_real)] + E[log P(S = fake | X_fake)]
//   L_C = E[log P(C = c | X_real)]    + E[log P(C = c | X_fake)]
//
// D is trained to maximise L_S + L_C and G to maximise L_C - L_S (here in the non-saturating
// form, -log P(S = real | X_fake) for the source term, as in the authors' experiments).
//
// Settings: G's input is z (100) with the one-hot class appended (the paper's 110-dimensional
// input), the DCGAN generator of the zoo; D is the DCGAN discriminator's trunk with two heads
// (a source logit and 10 class logits, gan/nets.h MultiHeadDiscriminator); Adam 2e-4, beta1
// 0.5 (the paper's); batch 64 (the zoo's; the paper used 100). Samples and the snapshot grid
// have one row per class.
#include "gan/model.h"
#include "gan/models.h"
#include "tensor/ops/loss.h"
#include "tensor/ops/shape_ops.h"

namespace duel::gan {
namespace {

constexpr int64_t kClasses = 10;

class Acgan : public GanModel {
 public:
  explicit Acgan(const Options& o) : GanModel(o, /*z_dim=*/100, /*conv_noise=*/false), m(o.integer("batch")) {
    manual_seed(seed);
    Generator init_gen(seed + 3);
    G = dcgan_generator(z_dim + kClasses);
    D = net = std::make_shared<MultiHeadDiscriminator>(
        std::vector<MultiHeadDiscriminator::Head>{{.out = 1}, {.out = kClasses}});  // P(S | X), P(C | X)
    dcgan_init(*G, init_gen);
    dcgan_init(*D, init_gen);
    G->to(device);
    D->to(device);
    const double lr = o.real("lr"), beta1 = o.real("beta1");
    opt_G = adam(*G, lr, beta1);
    opt_D = adam(*D, lr, beta1);
  }

  // G's input: z with the one-hot class c appended, [n, z_dim + 10, 1, 1].
  Tensor conditioned(const Tensor& z, const Tensor& c) const { return with_one_hot(z, c, kClasses); }
  // For pictures and evaluation: sample i has class (i / 10) mod 10, so a grid of 10 per row
  // has one row per class, and any 100 consecutive samples hold 10 of each.
  Tensor latent(int64_t n, Generator& gen, Device dev) override {
    return conditioned(sample_noise(n, z_dim, gen, dev), grid_codes(n, kClasses, dev));
  }
  int64_t grid_samples() const override { return kClasses * kClasses; }
  int64_t grid_columns() const override { return kClasses; }

  void step(int64_t) override {
    // ---- D: maximise L_S + L_C ----
    auto [x, y] = data.next_labelled();
    Tensor c = draw_shard(m, [&](int64_t k) { return randint(0, kClasses, {k}, &noise); }).to(device);  // c ~ p_c
    Tensor fake = (*G)(conditioned(sample_noise_shard(m, z_dim, noise, device), c));
    Tensor h_real = net->features(x), h_fake = net->features(fake.detach());
    s_real = net->head(0, h_real);
    s_fake = net->head(0, h_fake);
    Tensor c_real = net->head(1, h_real), c_fake = net->head(1, h_fake);
    loss_S = minimax_d_loss(s_real, s_fake);                    // -L_S
    loss_C = cross_entropy(c_real, y) + cross_entropy(c_fake, c);  // -L_C
    loss_D = loss_S + loss_C;
    opt_D->zero_grad();
    loss_D.backward();
    opt_D->step();
    // ---- G: maximise L_C - L_S (non-saturating source term) ----
    Tensor h = net->features(fake);
    Tensor class_G = cross_entropy(net->head(1, h), c);
    loss_G = non_saturating_g_loss(net->head(0, h)) + class_G;
    opt_G->zero_grad();
    loss_G.backward();
    opt_G->step();
    // logged: how often D's class head is right on real and on generated images
    NoGradGuard ng;
    acc_real = mean(eq(argmax(c_real, 1), y).to(kFloat32)).item();
    acc_fake = mean(eq(argmax(c_fake, 1), c).to(kFloat32)).item();
  }

  Metrics values() override {
    return {{"loss_D", loss_D.item()},
            {"loss_G", loss_G.item()},
            {"loss_S", loss_S.item()},
            {"loss_C", loss_C.item()},
            {"D(x)", mean(sigmoid(s_real)).item()},
            {"D(G(z))", mean(sigmoid(s_fake)).item()},
            {"class_acc_real", acc_real},
            {"class_acc_fake", acc_fake}};
  }
  std::vector<std::string> plotted() const override { return {"loss_S", "loss_C", "class_acc_real", "class_acc_fake"}; }

  void evaluate(Run& run, const train::EvalRequest& request) override {
    GanModel::evaluate(run, request);  // FCD and classifier score over all classes (10 of each)
    if (request.birthday) return;
    const int64_t per_class = std::max<int64_t>(2, (request.n > 0 ? request.n : 2000) / kClasses);
    evaluate_classes(request, per_class, [&](int64_t k, int64_t n, Generator& gen) {
      G->to(kCPU);
      G->eval();
      NoGradGuard ng;
      return (*G)(conditioned(sample_noise(n, z_dim, gen, kCPU), full({n}, (double)k, TensorOptions(kInt64))));
    });
  }

 private:
  int64_t m;
  std::shared_ptr<MultiHeadDiscriminator> net;  // D: trunk, source head 0, class head 1
  Tensor loss_D, loss_G, loss_S, loss_C, s_real, s_fake;
  double acc_real = 0, acc_fake = 0;
};

}  // namespace

train::ModelInfo acgan_model() {
  train::ModelInfo info;
  info.name = "acgan";
  info.section = "4.3";
  info.paper = "Odena et al. 2017, Conditional Image Synthesis with Auxiliary Classifier GANs";
  info.summary = "class-conditional G(c, z); D with a source head P(S|X) and an auxiliary class head P(C|X)";
  info.defaults = {.steps = 2000, .log_every = 50, .sample_every = 250, .checkpoint_every = kCheckpointEvery};
  info.options = {
      data_option("fashion-mnist", /*images_only=*/true),
      batch_option(64),
      lr_option(2e-4),
      train::Option::real("beta1", "beta_1", 0.5, 0, 1, "Adam's first-moment decay"),
  };
  info.test_options = {{"batch", "4"}};
  info.make = [](const Options& o) { return std::make_unique<Acgan>(o); };
  return info;
}

}  // namespace duel::gan
