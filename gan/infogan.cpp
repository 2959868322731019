// InfoGAN (Chen, Duan, Houthooft, Schulman, Sutskever, Abbeel 2016, "InfoGAN: Interpretable
// Representation Learning by Information Maximizing GANs"), survey section 4.4.
//
// G's input is split into incompressible noise z and a latent code c; trained without labels,
// InfoGAN makes c informative about G(z, c) by maximising their mutual information, through
// the variational lower bound with an auxiliary distribution Q(c | x):
//
//   L_I(G, Q) = E_{c ~ P(c), x ~ G(z, c)} [log Q(c | x)] + H(c)  <=  I(c; G(z, c))
//   min_{G, Q} max_D  V(D, G) - lambda L_I(G, Q)
//
// The code (the paper's MNIST setting): one categorical c_1 ~ Cat(K = 10, p = 0.1) and two
// continuous c_2, c_3 ~ U(-1, 1); Q shares D's trunk and adds a head (FC 128, batch norm,
// LeakyReLU, FC) giving the 10 logits of c_1 and the means of a fixed-variance Gaussian for
// c_2, c_3 (the authors' code fixes sigma = 1), so -L_I is a cross-entropy plus half a squared
// error (gan/losses.h info_loss). lambda = 1; Adam with beta1 0.5, lr 2e-4 for D and Q and 1e-3
// for G (the paper's); z has 62 dimensions. Networks: the zoo's DCGAN pair (G takes the 74
// inputs), batch 64 (the paper: 128).
//
// Snapshots and samples: sample i has c_1 = (i / 10) mod 10, so a 10-wide grid has one row per
// categorical value. `duel eval` reads c_1 as a classifier of the test set (Q's most likely
// category, under the best one-to-one assignment of categories to classes) and writes
// traversal pictures: per row one c_1, along the row c_2 (or c_3) from -2 to 2.
#include "data/image.h"
#include "gan/metrics.h"
#include "gan/model.h"
#include "gan/models.h"
#include "tensor/ops/shape_ops.h"

namespace duel::gan {
namespace {

constexpr int64_t kCategories = 10;

class Infogan : public GanModel {
 public:
  explicit Infogan(const Options& o)
      : GanModel(o, /*z_dim=*/o.integer("z-dim"), /*conv_noise=*/false),
        m(o.integer("batch")),
        n_cont(o.integer("continuous")),
        lambda(o.real("lambda")) {
    manual_seed(seed);
    Generator init_gen(seed + 3);
    G = dcgan_generator(z_dim + kCategories + n_cont);
    D = net = std::make_shared<MultiHeadDiscriminator>(std::vector<MultiHeadDiscriminator::Head>{
        {.out = 1}, {.out = kCategories + n_cont, .hidden = 128}});  // D(x); Q(c | x)
    dcgan_init(*G, init_gen);
    dcgan_init(*D, init_gen);
    G->to(device);
    D->to(device);
    const double beta1 = o.real("beta1");
    opt_G = adam(*G, o.real("lr-g"), beta1);
    opt_D = adam(*D, o.real("lr"), beta1);  // D's trunk and both heads: D and Q
  }

  // G's input [n, z_dim + 10 + C, 1, 1]: z, the one-hot c_1, the continuous codes.
  Tensor input(const Tensor& z, const Tensor& c_cat, const Tensor& c_cont) const {
    std::vector<Tensor> parts = {z, one_hot(c_cat, kCategories).to(z.device())};
    if (n_cont > 0) parts.push_back(c_cont);
    return cat(parts, 1).reshape({z.size(0), z_dim + kCategories + n_cont, 1, 1});
  }
  Tensor latent(int64_t n, Generator& gen, Device dev) override {
    Tensor z = sample_noise(n, z_dim, gen, dev);
    return input(z, grid_codes(n, kCategories, dev), uniform({n, n_cont}, -1.0, 1.0, TensorOptions(kFloat32, dev), &gen));
  }
  int64_t grid_samples() const override { return kCategories * kCategories; }
  int64_t grid_columns() const override { return kCategories; }

  // Q's parameters of the code from trunk features: the categorical logits and continuous means.
  std::pair<Tensor, Tensor> q_head(const Tensor& h) {
    Tensor q = net->head(1, h);
    return {q.narrow(1, 0, kCategories), n_cont > 0 ? q.narrow(1, kCategories, n_cont) : Tensor()};
  }

  void step(int64_t) override {
    // ---- c ~ P(c), z ~ N(0, I) ----
    Tensor x = data.next();
    Tensor c_cat = draw_shard(m, [&](int64_t k) { return randint(0, kCategories, {k}, &noise); }).to(device);
    Tensor c_cont = n_cont > 0 ? draw_shard(m, [&](int64_t k) {
                                   return uniform({k, n_cont}, -1.0, 1.0, TensorOptions(kFloat32, device), &noise);
                                 })
                               : Tensor();
    Tensor fake = (*G)(input(sample_noise_shard(m, z_dim, noise, device), c_cat, c_cont));
    // ---- D and Q: max_D V(D, G) and max_Q L_I ----
    Tensor h_fake = net->features(fake.detach());
    d_real = net->head(0, net->features(x));
    d_fake = net->head(0, h_fake);
    auto [q_logits, q_mean] = q_head(h_fake);
    info_D = info_loss(q_logits, c_cat, q_mean, c_cont);  // -L_I - H(c)
    loss_D = minimax_d_loss(d_real, d_fake) + info_D * lambda;
    opt_D->zero_grad();
    loss_D.backward();
    opt_D->step();
    // ---- G: min_G V(D, G) - lambda L_I (non-saturating) ----
    Tensor h = net->features(fake);
    auto [g_logits, g_mean] = q_head(h);
    info_G = info_loss(g_logits, c_cat, g_mean, c_cont);
    loss_G = non_saturating_g_loss(net->head(0, h)) + info_G * lambda;
    opt_G->zero_grad();
    loss_G.backward();
    opt_G->step();
    NoGradGuard ng;
    q_acc = mean(eq(argmax(q_logits, 1), c_cat).to(kFloat32)).item();  // Q recovers c_1 from G(z, c)
  }

  Metrics values() override {
    // info_loss = -L_I - H(c) of G's step (lower: the codes are easier to read back from G(z, c));
    // q_acc: how often Q's most likely c_1 is the one G was given
    return {{"loss_D", loss_D.item()},         {"loss_G", loss_G.item()},
            {"info_loss", info_G.item()},      {"D(x)", mean(sigmoid(d_real)).item()},
            {"D(G(z))", mean(sigmoid(d_fake)).item()}, {"q_acc", q_acc}};
  }
  std::vector<std::string> plotted() const override { return {"loss_D", "loss_G", "info_loss", "q_acc"}; }

  void evaluate(Run& run, const train::EvalRequest& request) override {
    GanModel::evaluate(run, request);
    if (request.birthday) return;
    D->to(kCPU);
    G->to(kCPU);
    D->eval();
    G->eval();
    NoGradGuard ng;
    // c_1 as a classifier of the test set, under the best assignment of categories to classes
    ImageDataset test = load_fashion_mnist("test");
    std::vector<int64_t> predicted;
    for (int64_t b = 0; b < test.size(); b += 500) {
      Tensor xb = test.images.narrow(0, b, std::min<int64_t>(500, test.size() - b));
      for (int64_t v : argmax(q_head(net->features(xb)).first, 1).to_vector<int64_t>()) predicted.push_back(v);
    }
    std::vector<int> assign;
    const double acc = best_assignment_accuracy(predicted, test.labels.to_vector<int64_t>(), kCategories, &assign);
    std::printf("\ncategorical code c_1 as a classifier of the %lld test images (best one-to-one assignment):\n",
                (long long)test.size());
    std::printf("%-18s %10.4f   (error %.2f%%)\n", "accuracy", acc, 100 * (1 - acc));
    const auto& names = fashion_mnist_classes();
    for (int64_t k = 0; k < kCategories; ++k) std::printf("  c_1 = %lld -> %s\n", (long long)k, names[assign[k]].c_str());
    // traversals: row = c_1, columns = c_j from -2 to 2, z and the other codes fixed per row
    for (int64_t j = 0; j < n_cont; ++j) {
      const int64_t cols = 10;
      Generator gen(seed + 9000);
      Tensor z = sample_noise(kCategories, z_dim, gen, kCPU)
                     .reshape({kCategories, 1, z_dim})
                     .expand({kCategories, cols, z_dim})
                     .contiguous()
                     .reshape({kCategories * cols, z_dim});
      std::vector<int64_t> cat_v;
      std::vector<float> cont_v;
      for (int64_t r = 0; r < kCategories; ++r)
        for (int64_t k = 0; k < cols; ++k) {
          cat_v.push_back(r);
          for (int64_t i = 0; i < n_cont; ++i) cont_v.push_back(i == j ? float(-2.0 + 4.0 * double(k) / double(cols - 1)) : 0.f);
        }
      Tensor img = (*G)(input(z, from_vector(cat_v, {}, TensorOptions(kInt64)), from_vector(cont_v, {kCategories * cols, n_cont})));
      const std::string path = run.path("traversal_c" + std::to_string(j + 2) + ".png");
      save_image_grid(path, img, (int)cols, 2, 2);
      std::printf("traversal of c_%lld from -2 to 2 (rows: c_1 = 0..9): %s\n", (long long)(j + 2), path.c_str());
    }
  }

 private:
  int64_t m, n_cont;
  double lambda;
  std::shared_ptr<MultiHeadDiscriminator> net;  // D: trunk, D head 0, Q head 1
  Tensor loss_D, loss_G, info_D, info_G, d_real, d_fake;
  double q_acc = 0;
};

}  // namespace

train::ModelInfo infogan_model() {
  train::ModelInfo info;
  info.name = "infogan";
  info.section = "4.4";
  info.paper = "Chen et al. 2016, InfoGAN: Interpretable Representation Learning by Information Maximizing GANs";
  info.summary = "latent codes c (10-way categorical + continuous) made informative by maximising a bound on I(c; G(z, c))";
  info.defaults = {.steps = 2000, .log_every = 50, .sample_every = 250, .checkpoint_every = kCheckpointEvery};
  info.options = {
      data_option("fashion-mnist", /*images_only=*/true),
      batch_option(64),
      train::Option::real("lambda", "lambda", 1.0, 0, 1e6, "weight of the mutual-information term L_I"),
      train::Option::integer("continuous", "", 2, 0, 16, "continuous codes c_2, c_3, ... ~ U(-1, 1)"),
      train::Option::integer("z-dim", "", 62, 1, 4096, "dimensions of the incompressible noise z"),
      lr_option(2e-4),
      train::Option::real("lr-g", "", 1e-3, 0, 1, "G's learning rate (the paper's 1e-3; D and Q use --lr)",
                          /*open_low=*/true),
      train::Option::real("beta1", "beta_1", 0.5, 0, 1, "Adam's first-moment decay"),
  };
  info.test_options = {{"batch", "4"}, {"z-dim", "8"}};
  info.make = [](const Options& o) { return std::make_unique<Infogan>(o); };
  return info;
}

}  // namespace duel::gan
