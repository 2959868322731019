// Auto-Encoding Variational Bayes (Kingma and Welling 2014), survey section 2.1.
//
// Algorithm 1 of the paper (the SGVB estimator with minibatches):
//
//   theta, phi <- initialise
//   repeat
//     X^M <- random minibatch of M datapoints
//     eps ~ p(eps) = N(0, I)
//     g <- grad_{theta,phi} L^M(theta, phi; X^M, eps)
//     theta, phi <- update with g (Adam here; Adagrad in the paper)
//
// with the per-datapoint lower bound (the paper's equation 10, one sample L = 1)
//
//   L(theta, phi; x) = -KL(q_phi(z|x) || p(z)) + log p_theta(x | z),   z = mu + sigma * eps
//   -KL = 1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)
//
// Encoder q_phi(z|x) = N(mu(x), diag sigma^2(x)) and decoder p_theta(x|z) are MLPs with one
// hidden layer. The decoder is Bernoulli: Fashion-MNIST's grey levels are read as
// probabilities and each training image is binarised afresh (x_b ~ Bernoulli(x), "dynamic
// binarisation"), so log p(x|z) is a true log-likelihood of binary data and the ELBO is in
// nats, comparable with the binarised-MNIST literature. The test images are binarised once
// with a fixed seed. A Gaussian decoder would need a variance model (or gives a bound only up
// to an arbitrary constant). `duel eval` reports the test ELBO and the importance-weighted
// bound of Burda et al. with k samples (log p(x) >= L_k >= ELBO), then FCD and the classifier
// score of samples (decoder means).
#include <cmath>
#include <cstdio>

#include "gan/metrics.h"
#include "gan/model.h"
#include "gan/models.h"
#include "tensor/ops/loss.h"

namespace duel::gan {
namespace {

// Bernoulli means as images: sigmoid(logits) mapped to [-1, 1], [N, 1, 28, 28].
class BernoulliMeanImage : public nn::Module {
 public:
  Tensor forward(const Tensor& logits) override { return (sigmoid(logits) * 2.0 - 1.0).reshape({logits.size(0), 1, 28, 28}); }
};

class Vae : public GanModel {
 public:
  explicit Vae(const Options& o)
      : GanModel(o, o.integer("z-dim"), /*conv_noise=*/false), M(o.integer("batch")), k(o.integer("iw-k")),
        binarize(seed + 5) {
    manual_seed(seed);
    const int64_t h = o.integer("hidden");
    encoder = std::make_shared<nn::Sequential>();
    encoder->emplace_back<nn::Flatten>();
    encoder->emplace_back<nn::Linear>(784, h);
    encoder->emplace_back<nn::ReLU>();
    encoder->emplace_back<nn::Linear>(h, 2 * z_dim);  // [mu, log sigma^2]
    decoder = std::make_shared<nn::Sequential>();
    decoder->emplace_back<nn::Linear>(z_dim, h);
    decoder->emplace_back<nn::ReLU>();
    decoder->emplace_back<nn::Linear>(h, 784);  // logits of p(x|z)
    auto g = std::make_shared<nn::Sequential>();
    g->push_back(decoder);
    g->emplace_back<BernoulliMeanImage>();
    G = g;
    encoder->to(device);
    decoder->to(device);
    std::vector<Tensor> params = encoder->parameters();
    for (auto& p : decoder->parameters()) params.push_back(p);
    opt = std::make_unique<optim::Adam>(params, optim::AdamOptions{.lr = o.real("lr")});
  }

  void state(Checkpointable& s) override {
    s.add("encoder", *encoder);
    s.add("decoder", *decoder);
    s.add("opt", *opt);
    s.add("binarize", binarize);
    s.add("noise", noise);
    data.add_to(s);
  }

  void step(int64_t) override {
    Tensor x = binarized(data.next(), binarize, true);           // X^M, dynamically binarised
    elbo = mean(lower_bound(x, noise, true));                    // L^M / M
    Tensor loss = -elbo;
    opt->zero_grad();
    loss.backward();
    opt->step();
  }

  Metrics values() override { return {{"elbo", elbo.item()}}; }
  std::vector<std::string> plotted() const override { return {"elbo"}; }

  Metrics snapshot(Run& run, int64_t step) override {
    Metrics m = GanModel::snapshot(run, step);
    auto [elbo_test, iw] = test_bounds(1000, /*k=*/1);
    m.push_back({"test_elbo_1000", elbo_test});
    return m;
  }

  void evaluate(Run& run, const train::EvalRequest& r) override {
    if (r.birthday) return GanModel::evaluate(run, r);
    auto [elbo_test, iw] = test_bounds(10000, k);
    std::printf("%-18s %12.2f nats   (10000 binarised test images)\n", "test ELBO", elbo_test);
    std::printf("%-18s %12.2f nats   (importance-weighted bound L_k, k = %lld; log p(x) >= L_k)\n", "test log p(x) >=",
                iw, (long long)k);
    GanModel::evaluate(run, r);
  }

 private:
  // `training`: the batch is this rank's shard, and so are the uniforms (draw_shard)
  static Tensor binarized(const Tensor& images, Generator& gen, bool training = false) {
    Tensor p = (images + 1.0) * 0.5;  // grey levels as probabilities
    auto draw = [&](int64_t k) {
      Shape s = p.sizes();
      s[0] = k;
      return rand(s, TensorOptions(p.dtype(), p.device()), &gen);
    };
    Tensor u = training ? draw_shard(p.size(0), draw) : draw(p.size(0));
    return lt(u, p).to(p.dtype()).flatten(1);
  }

  // L(theta, phi; x) per datapoint [M] with z = mu + sigma * eps, eps from `gen`.
  Tensor lower_bound(const Tensor& x, Generator& gen, bool training = false) {
    Tensor h = (*encoder)(x);
    Tensor mu = h.narrow(1, 0, z_dim), logvar = h.narrow(1, z_dim, z_dim);
    auto draw = [&](int64_t k) { return randn({k, z_dim}, TensorOptions(mu.dtype(), mu.device()), &gen); };
    Tensor eps = training ? draw_shard(mu.size(0), draw) : draw(mu.size(0));
    Tensor z = mu + exp(logvar * 0.5) * eps;
    Tensor log_px_z = -sum(binary_cross_entropy_with_logits((*decoder)(z), x, Reduction::None), {1});
    Tensor neg_kl = sum(1.0 + logvar - mu * mu - exp(logvar), {1}) * 0.5;
    return neg_kl + log_px_z;
  }

  // Mean test ELBO and importance-weighted bound L_k (Burda et al.) over the first n test images.
  std::pair<double, double> test_bounds(int64_t n, int64_t samples) {
    NoGradGuard ng;
    Generator bin(1234), eps_gen(4321);
    ImageDataset test = load_fashion_mnist("test", "", true, n);
    n = test.size();
    Tensor x_all = binarized(test.images.to(device), bin);
    double elbo_sum = 0, iw_sum = 0;
    const int64_t B = 100;
    for (int64_t i = 0; i < n; i += B) {
      const int64_t b = std::min(B, n - i);
      Tensor x = x_all.narrow(0, i, b);
      elbo_sum += sum(lower_bound(x, eps_gen)).item();
      if (samples <= 1) continue;
      Tensor h = (*encoder)(x);
      Tensor mu = h.narrow(1, 0, z_dim), logvar = h.narrow(1, z_dim, z_dim);
      std::vector<Tensor> log_w;
      for (int64_t s = 0; s < samples; ++s) {
        Tensor eps = randn(mu.sizes(), TensorOptions(mu.dtype(), mu.device()), &eps_gen);
        Tensor z = mu + exp(logvar * 0.5) * eps;
        Tensor log_px_z = -sum(binary_cross_entropy_with_logits((*decoder)(z), x, Reduction::None), {1});
        Tensor log_pz = sum(z * z, {1}) * -0.5;                 // + const, cancels with log q's
        Tensor log_qz = sum(eps * eps + logvar, {1}) * -0.5;    // log N(z; mu, sigma) + the same const
        log_w.push_back((log_px_z + log_pz - log_qz).unsqueeze(0));
      }
      iw_sum += sum(logsumexp(cat(log_w, 0), {0}) - std::log((double)samples)).item();
    }
    return {elbo_sum / n, samples > 1 ? iw_sum / n : NAN};
  }

  int64_t M, k;
  Generator binarize;
  std::shared_ptr<nn::Sequential> encoder, decoder;
  std::unique_ptr<optim::Adam> opt;
  Tensor elbo;
};

}  // namespace

train::ModelInfo vae_model() {
  train::ModelInfo info;
  info.name = "vae";
  info.section = "2.1";
  info.paper = "Kingma and Welling 2014, Auto-Encoding Variational Bayes";
  info.summary = "Gaussian encoder, Bernoulli decoder, reparameterised ELBO; test ELBO and L_k in nats";
  info.defaults = {.steps = 12000, .log_every = 100, .sample_every = 2000, .checkpoint_every = 1000};
  info.options = {
      data_option("fashion-mnist", /*images_only=*/true),
      batch_option(100),
      train::Option::integer("z-dim", "J", 20, 1, 4096, "latent dimension"),
      train::Option::integer("hidden", "", 400, 1, 65536, "hidden units of the encoder and decoder MLPs"),
      lr_option(1e-3),
      train::Option::integer("iw-k", "k", 100, 1, 100000, "importance samples of the L_k bound in `duel eval`"),
  };
  info.test_options = {{"batch", "8"}, {"hidden", "16"}, {"z-dim", "4"}};
  info.make = [](const Options& o) { return std::make_unique<Vae>(o); };
  return info;
}

}  // namespace duel::gan
