// Generative Adversarial Nets (Goodfellow et al. 2014), survey section 3.1.1.
//
// Algorithm 1 of the paper, with the non-saturating generator loss the paper
// recommends in practice ("rather than training G to minimize log(1 - D(G(z)))
// we can train G to maximize log D(G(z))"):
//
//   for number of training iterations:
//     for k steps:
//       sample m noise samples z and m examples x
//       update D by ascending  1/m sum [ log D(x) + log(1 - D(G(z))) ]
//     sample m noise samples z
//     update G by ascending  1/m sum log D(G(z))
//
// D and G are MLPs (maxout in the paper; ReLU/LeakyReLU here). Both losses
// are binary cross-entropy on D's logits.
#include <cstdio>

#include "train/progress.h"
#include "gan/common.h"
#include "gan/models.h"
#include "tensor/ops/loss.h"

namespace duel::gan {

std::shared_ptr<nn::Sequential> gan_generator(int64_t z_dim, int64_t hidden, int64_t out_dim, bool image) {
  auto g = std::make_shared<nn::Sequential>();
  g->emplace_back<nn::Linear>(z_dim, hidden);
  g->emplace_back<nn::ReLU>();
  g->emplace_back<nn::Linear>(hidden, hidden);
  g->emplace_back<nn::ReLU>();
  g->emplace_back<nn::Linear>(hidden, out_dim);
  if (image) {
    g->emplace_back<nn::Tanh>();
    g->emplace_back<nn::Reshape>(Shape{1, 28, 28});
  }
  return g;
}

std::shared_ptr<nn::Sequential> gan_discriminator(int64_t in_dim, int64_t hidden) {
  auto d = std::make_shared<nn::Sequential>();
  d->emplace_back<nn::Flatten>();
  d->emplace_back<nn::Linear>(in_dim, hidden);
  d->emplace_back<nn::LeakyReLU>(0.2);
  d->emplace_back<nn::Linear>(hidden, hidden);
  d->emplace_back<nn::LeakyReLU>(0.2);
  d->emplace_back<nn::Linear>(hidden, 1);  // logit of D(x)
  return d;
}

namespace {
struct GanSetup {
  int64_t z_dim, hidden, out_dim;
  bool image;
};
GanSetup gan_setup(const Run& run) {
  bool image = run.options().get("data", std::string("8gaussians")) == "fashion-mnist";
  return {run.options().get_int("z-dim", image ? 100 : 2), run.options().get_int("hidden", image ? 512 : 256),
          image ? 784 : 2, image};
}
}  // namespace

void train_gan(Run& run) {
  const RunOptions& o = run.options();
  const std::string data_name = o.get("data", std::string("8gaussians"));
  const int64_t m = o.get_int("batch", data_name == "fashion-mnist" ? 64 : 256);
  const int64_t k = o.get_int("k", 1);  // discriminator steps per generator step
  const int64_t steps = o.steps > 0 ? o.steps : (data_name == "fashion-mnist" ? 3000 : 5000);
  const double lr = o.get("lr", 2e-4);
  Device dev = run.device();
  manual_seed(o.seed);

  GanSetup s = gan_setup(run);
  auto G = gan_generator(s.z_dim, s.hidden, s.out_dim, s.image);
  auto D = gan_discriminator(s.out_dim, s.hidden);
  G->to(dev);
  D->to(dev);
  optim::Adam opt_G(G->parameters(), {.lr = lr, .betas = {0.5, 0.999}});
  optim::Adam opt_D(D->parameters(), {.lr = lr, .betas = {0.5, 0.999}});
  DataSource data(data_name, m, o.seed, dev);
  Generator noise(o.seed + 1);
  Checkpointable state{{{"G", G.get()}, {"D", D.get()}},
                       {{"opt_G", &opt_G}, {"opt_D", &opt_D}},
                       {{"noise", &noise}, {"data", &data.generator()}}};
  std::map<std::string, std::string> meta;
  int64_t start = run.maybe_resume(state, &meta);
  data.set_position(meta["data_position"]);
  if (start > 0) std::printf("resumed %s from step %lld\n", run.dir().c_str(), (long long)start);

  Tensor ones = full({m, 1}, 1.0, TensorOptions(kFloat32, dev)), zeros_t = zeros({m, 1}, TensorOptions(kFloat32, dev));
  Generator fixed_gen(999);
  Tensor fixed_z = sample_noise(s.image ? 64 : 1000, s.z_dim, fixed_gen, dev);
  train::ProgressBar bar("gan", steps, start);
  int64_t step = start;
  auto checkpoint = [&](int64_t at) { run.save_checkpoint(state, at, {{"data_position", data.position()}}); };
  for (; step < steps; ++step) {
    if (Run::should_stop(step)) break;
    // ---- k steps on D: ascend log D(x) + log(1 - D(G(z))) ----
    Tensor loss_D;
    for (int64_t i = 0; i < k; ++i) {
      Tensor x = data.next();
      Tensor fake;
      {
        NoGradGuard ng;
        fake = (*G)(sample_noise(m, s.z_dim, noise, dev));
      }
      loss_D = binary_cross_entropy_with_logits((*D)(x), ones) + binary_cross_entropy_with_logits((*D)(fake), zeros_t);
      opt_D.zero_grad();
      loss_D.backward();
      opt_D.step();
    }
    // ---- one step on G: ascend log D(G(z)) (non-saturating) ----
    Tensor loss_G = binary_cross_entropy_with_logits((*D)((*G)(sample_noise(m, s.z_dim, noise, dev))), ones);
    opt_G.zero_grad();
    loss_G.backward();
    opt_G.step();

    if ((step + 1) % o.log_every == 0 || step + 1 == steps) {
      std::vector<std::pair<std::string, double>> v = {{"loss_D", loss_D.item()}, {"loss_G", loss_G.item()}};
      run.log_metrics(step + 1, v);
      bar.update(step + 1, v);
    }
    if ((step + 1) % o.sample_every == 0 || step + 1 == steps) {
      NoGradGuard ng;
      G->eval();
      Tensor samples = (*G)(fixed_z);
      G->train();
      auto tm = toy_metrics(data, samples);
      if (!tm.empty()) run.log_metrics(step + 1, tm);
      save_samples(run, data, samples, step + 1);
    }
    if ((step + 1) % o.checkpoint_interval(kCheckpointEvery) == 0) checkpoint(step + 1);
  }
  checkpoint(step);
  bar.finish();
  run.plot_metrics({"loss_D", "loss_G"});
  if (step < steps) std::printf("interrupted at step %lld; checkpoint saved, run the same command to resume\n", (long long)step);
}

Tensor sample_gan(Run& run, int64_t n) {
  GanSetup s = gan_setup(run);
  auto G = gan_generator(s.z_dim, s.hidden, s.out_dim, s.image);
  load_module(run, "G", *G);
  G->eval();
  NoGradGuard ng;
  Generator gen(run.options().seed + 12345);
  return (*G)(sample_noise(n, s.z_dim, gen, kCPU));
}

}  // namespace duel::gan
