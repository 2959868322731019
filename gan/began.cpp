// Boundary Equilibrium GAN (Berthelot, Schumm, Metz 2017), survey section 3.4.2.
//
// The discriminator is an autoencoder (ELU, no batch norm); L(v) = |v - D(v)| is its
// per-pixel L1 reconstruction loss (eta = 1). The objective of the paper's equation 4:
//
//   L_D = L(x) - k_t L(G(z_D))
//   L_G = L(G(z_G))
//   k_{t+1} = k_t + lambda_k (gamma L(x) - L(G(z_G))),  clipped to [0, 1]
//
// k_t keeps E[L(G(z))] = gamma E[L(x)] (the equilibrium); gamma, the diversity ratio, trades
// diversity (high) for quality (low). The convergence measure, logged every step as
// `m_global`, is M_global = L(x) + |gamma L(x) - L(G(z_G))|. Adam 1e-4 (beta1 0.5); k_0 = 0.
#include <limits>

#include "gan/model.h"
#include "gan/models.h"

namespace duel::gan {
namespace {

class Began : public GanModel {
 public:
  explicit Began(const Options& o)
      : GanModel(o, 100, /*conv_noise=*/true), m_(o.integer("batch")), gamma(o.real("gamma")), lambda_k(o.real("lambda-k")) {
    manual_seed(seed);
    Generator init_gen(seed + 3);
    G = dcgan_generator(z_dim);
    dcgan_init(*G, init_gen);
    D = ae = std::make_shared<AutoencoderDiscriminator>(o.integer("code-dim"), 64, AutoencoderDiscriminator::Activation::kELU,
                                                  /*batchnorm=*/false);
    G->to(device);
    D->to(device);
    const double lr = o.real("lr");
    opt_G = adam(*G, lr, 0.5);
    opt_D = adam(*D, lr, 0.5);
  }

  void state(Checkpointable& s) override {
    GanModel::state(s);
    s.add("k_t", k_t);
    s.add("m_global.sum", m_sum);
    s.add("m_global.count", m_count, 0, std::numeric_limits<int64_t>::max());
  }

  void step(int64_t) override {
    Tensor x = data.next();
    Tensor fake = (*G)(noise_batch(m_));
    // ---- D: minimise L(x) - k_t L(G(z_D)) ----
    Tensor L_x = mean(ae->energy(x, /*l1=*/true));
    Tensor L_fake_D = mean(ae->energy(fake.detach(), /*l1=*/true));
    loss_D = L_x - L_fake_D * k_t;
    opt_D->zero_grad();
    loss_D.backward();
    opt_D->step();
    // ---- G: minimise L(G(z_G)) ----
    loss_G = mean(ae->energy(fake, /*l1=*/true));
    opt_G->zero_grad();
    loss_G.backward();
    opt_G->step();
    // ---- the equilibrium control and the convergence measure ----
    const double lx = L_x.item(), lg = loss_G.item();
    const double balance = gamma * lx - lg;
    k_t = std::min(1.0, std::max(0.0, k_t + lambda_k * balance));
    m_global = lx + std::abs(balance);
    m_sum += m_global;
    ++m_count;
  }

  // M_global of every step goes to metrics.jsonl; the progress line shows its mean since the last log
  Metrics events() override { return {{"m_global", m_global}}; }
  Metrics values() override {
    const double m_mean = m_count ? m_sum / (double)m_count : m_global;
    m_sum = 0;
    m_count = 0;
    return {{"loss_D", loss_D.item()}, {"loss_G", loss_G.item()}, {"k_t", k_t}, {"m_global_mean", m_mean}};
  }
  std::vector<std::string> plotted() const override { return {"m_global", "loss_D", "loss_G"}; }

 private:
  int64_t m_;
  double gamma, lambda_k;
  double k_t = 0.0, m_global = 0.0;
  double m_sum = 0.0;  // M_global summed since the last values()
  int64_t m_count = 0;
  std::shared_ptr<AutoencoderDiscriminator> ae;  // D, with its encoder and energy
  Tensor loss_D, loss_G;
};

}  // namespace

train::ModelInfo began_model() {
  train::ModelInfo info;
  info.name = "began";
  info.section = "3.4.2";
  info.paper = "Berthelot et al. 2017, BEGAN: Boundary Equilibrium GANs";
  info.summary = "autoencoder D, equilibrium control k_t with gamma and lambda_k, convergence measure M_global";
  info.defaults = {.steps = 2000, .log_every = 50, .sample_every = 250, .checkpoint_every = kCheckpointEvery};
  info.options = {
      data_option("fashion-mnist", /*images_only=*/true),
      batch_option(64),
      train::Option::real("gamma", "gamma", 0.5, 0, 1, "diversity ratio E[L(G(z))] / E[L(x)] at equilibrium",
                          /*open_low=*/true),
      train::Option::real("lambda-k", "lambda_k", 0.001, 0, 1, "learning rate of k_t"),
      train::Option::integer("code-dim", "h", 64, 1, 65536, "size of the autoencoder's code"),
      lr_option(1e-4),
  };
  info.test_options = {{"batch", "4"}, {"code-dim", "8"}};
  info.make = [](const Options& o) { return std::make_unique<Began>(o); };
  return info;
}

}  // namespace duel::gan
