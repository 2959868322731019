// DCGAN (Radford, Metz, Chintala 2016), survey section 4.1.1.
//
// For 28x28 Fashion-MNIST we use exactly the architecture of the libtorch C++
// DCGAN example, so a training step can be timed against libtorch one to one:
//
//   G: z [100,1,1] -ConvT(k4)-> 256x4x4 -ConvT(k3,s2,p1)-> 128x7x7
//      -ConvT(k4,s2,p1)-> 64x14x14 -ConvT(k4,s2,p1)-> 1x28x28, tanh
//      (batch norm + ReLU after every layer but the last)
//   D: 1x28x28 -Conv(k4,s2,p1)-> 64x14x14 -Conv(k4,s2,p1)-> 128x7x7
//      -Conv(k4,s2,p1)-> 256x3x3 -Conv(k3)-> 1, sigmoid
//      (LeakyReLU 0.2 everywhere, batch norm after the 2nd and 3rd conv)
//
// The paper's recipe: weights ~ N(0, 0.02), Adam lr 2e-4 with beta1 = 0.5,
// batch 64, the standard (non-saturating) GAN losses.
#include <cstdio>

#include "train/progress.h"
#include "gan/common.h"
#include "gan/models.h"
#include "tensor/ops/loss.h"

namespace duel::gan {

std::shared_ptr<nn::Sequential> dcgan_generator(int64_t z_dim) {
  auto g = std::make_shared<nn::Sequential>();
  g->emplace_back<nn::ConvTranspose2d>(z_dim, 256, 4, nn::ConvOptions{.bias = false});
  g->emplace_back<nn::BatchNorm2d>(256);
  g->emplace_back<nn::ReLU>();
  g->emplace_back<nn::ConvTranspose2d>(256, 128, 3, nn::ConvOptions{.stride = 2, .padding = 1, .bias = false});
  g->emplace_back<nn::BatchNorm2d>(128);
  g->emplace_back<nn::ReLU>();
  g->emplace_back<nn::ConvTranspose2d>(128, 64, 4, nn::ConvOptions{.stride = 2, .padding = 1, .bias = false});
  g->emplace_back<nn::BatchNorm2d>(64);
  g->emplace_back<nn::ReLU>();
  g->emplace_back<nn::ConvTranspose2d>(64, 1, 4, nn::ConvOptions{.stride = 2, .padding = 1, .bias = false});
  g->emplace_back<nn::Tanh>();
  return g;
}

std::shared_ptr<nn::Sequential> dcgan_discriminator(bool sigmoid, bool batchnorm) {
  auto d = std::make_shared<nn::Sequential>();
  d->emplace_back<nn::Conv2d>(1, 64, 4, nn::ConvOptions{.stride = 2, .padding = 1, .bias = false});
  d->emplace_back<nn::LeakyReLU>(0.2);
  d->emplace_back<nn::Conv2d>(64, 128, 4, nn::ConvOptions{.stride = 2, .padding = 1, .bias = false});
  if (batchnorm) d->emplace_back<nn::BatchNorm2d>(128);
  d->emplace_back<nn::LeakyReLU>(0.2);
  d->emplace_back<nn::Conv2d>(128, 256, 4, nn::ConvOptions{.stride = 2, .padding = 1, .bias = false});
  if (batchnorm) d->emplace_back<nn::BatchNorm2d>(256);
  d->emplace_back<nn::LeakyReLU>(0.2);
  d->emplace_back<nn::Conv2d>(256, 1, 3, nn::ConvOptions{.stride = 1, .padding = 0, .bias = false});
  d->emplace_back<nn::Flatten>();
  if (sigmoid) d->emplace_back<nn::Sigmoid>();
  return d;
}

// DCGAN's weights_init: conv weights ~ N(0, 0.02); batch-norm weight ~ N(1, 0.02), bias 0.
void dcgan_init(nn::Module& net, Generator& gen) {
  net.apply([&](nn::Module& m) {
    if (auto* c = dynamic_cast<nn::ConvBase*>(&m)) nn::init::normal_(c->weight, 0.0, 0.02, &gen);
    if (auto* b = dynamic_cast<nn::BatchNorm*>(&m)) {
      if (b->weight.defined()) nn::init::normal_(b->weight, 1.0, 0.02, &gen);
      if (b->bias.defined()) nn::init::constant_(b->bias, 0.0);
    }
  });
}

void train_dcgan(Run& run) {
  const RunOptions& o = run.options();
  const int64_t m = o.get_int("batch", 64), z_dim = 100;
  const int64_t steps = o.steps > 0 ? o.steps : 2000;
  const double lr = o.get("lr", 2e-4);
  Device dev = run.device();
  manual_seed(o.seed);
  Generator init_gen(o.seed + 3);

  auto G = dcgan_generator(z_dim);
  auto D = dcgan_discriminator();
  dcgan_init(*G, init_gen);
  dcgan_init(*D, init_gen);
  G->to(dev);
  D->to(dev);
  optim::Adam opt_G(G->parameters(), {.lr = lr, .betas = {0.5, 0.999}});
  optim::Adam opt_D(D->parameters(), {.lr = lr, .betas = {0.5, 0.999}});
  DataSource data("fashion-mnist", m, o.seed, dev);
  Generator noise(o.seed + 1);
  Checkpointable state{{{"G", G.get()}, {"D", D.get()}}, {{"opt_G", &opt_G}, {"opt_D", &opt_D}}, {{"noise", &noise}}};
  std::map<std::string, std::string> meta;
  int64_t start = run.maybe_resume(state, &meta);
  data.set_position(meta["data_position"]);
  if (start > 0) std::printf("resumed %s from step %lld\n", run.dir().c_str(), (long long)start);

  Tensor real_label = full({m, 1}, 1.0, TensorOptions(kFloat32, dev));
  Tensor fake_label = zeros({m, 1}, TensorOptions(kFloat32, dev));
  Generator fixed_gen(999);
  Tensor fixed_z = sample_noise(64, z_dim, fixed_gen, dev, true);
  train::ProgressBar bar("dcgan", steps, start);
  auto checkpoint = [&](int64_t at) { run.save_checkpoint(state, at, {{"data_position", data.position()}}); };
  int64_t step = start;
  for (; step < steps; ++step) {
    if (Run::should_stop(step)) break;
    // ---- D: maximise log D(x) + log(1 - D(G(z))) ----
    Tensor x = data.next();
    Tensor fake = (*G)(sample_noise(m, z_dim, noise, dev, true));
    Tensor d_real = (*D)(x);
    Tensor d_fake = (*D)(fake.detach());
    Tensor loss_D = binary_cross_entropy(d_real, real_label) + binary_cross_entropy(d_fake, fake_label);
    opt_D.zero_grad();
    loss_D.backward();
    opt_D.step();
    // ---- G: maximise log D(G(z)) ----
    Tensor loss_G = binary_cross_entropy((*D)(fake), real_label);
    opt_G.zero_grad();
    loss_G.backward();
    opt_G.step();

    if ((step + 1) % o.log_every == 0 || step + 1 == steps) {
      std::vector<std::pair<std::string, double>> v = {{"loss_D", loss_D.item()},
                                                       {"loss_G", loss_G.item()},
                                                       {"D(x)", mean(d_real).item()},
                                                       {"D(G(z))", mean(d_fake).item()}};
      run.log_metrics(step + 1, v);
      bar.update(step + 1, v);
    }
    if ((step + 1) % o.sample_every == 0 || step + 1 == steps) {
      NoGradGuard ng;
      G->eval();
      save_samples(run, data, (*G)(fixed_z), step + 1);
      G->train();
    }
    if ((step + 1) % o.checkpoint_interval(kCheckpointEvery) == 0) checkpoint(step + 1);
  }
  checkpoint(step);
  bar.finish();
  run.plot_metrics({"loss_D", "loss_G"});
  if (step < steps) std::printf("interrupted at step %lld; checkpoint saved, run the same command to resume\n", (long long)step);
}

Tensor sample_dcgan(Run& run, int64_t n) {
  auto G = dcgan_generator(100);
  load_module(run, "G", *G);
  G->eval();
  NoGradGuard ng;
  Generator gen(run.options().seed + 12345);
  return (*G)(sample_noise(n, 100, gen, kCPU, true));
}

}  // namespace duel::gan
