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
// The penalty differentiates D's input gradient with respect to D's
// parameters: a second derivative, through every layer of the critic
// (including batch norm when --critic-bn is given).
//
// Settings: the toy setup of the paper's code (gan_toy.py): MLPs of 3 hidden
// layers of 512, lambda 0.1, n_critic 5, Adam 1e-4 with betas (0.5, 0.9),
// batch 256. Fashion-MNIST: lambda 10, n_critic 5, Adam 1e-4 (0.5, 0.9),
// batch 64, the DCGAN generator and a DCGAN-style critic without sigmoid,
// with (--critic-bn 1) or without (default, as in the paper) batch norm.
#include <cstdio>

#include "autograd/engine.h"
#include "train/progress.h"
#include "gan/common.h"
#include "gan/models.h"

namespace duel::gan {

namespace {

struct WganSetup {
  bool image;
  int64_t z_dim;
  bool critic_bn;
};

WganSetup wgan_setup(const Run& run) {
  bool image = run.options().get("data", std::string("8gaussians")) == "fashion-mnist";
  return {image, image ? 100 : 2, run.options().get_int("critic-bn", 0) != 0};
}

std::shared_ptr<nn::Sequential> make_generator(const WganSetup& s) {
  return s.image ? dcgan_generator(s.z_dim) : mlp(s.z_dim, 512, 2, 3);
}

}  // namespace

std::shared_ptr<nn::Sequential> mlp(int64_t in, int64_t hidden, int64_t out, int layers) {
  auto net = std::make_shared<nn::Sequential>();
  int64_t width = in;
  for (int i = 0; i < layers; ++i) {
    net->emplace_back<nn::Linear>(width, hidden);
    net->emplace_back<nn::ReLU>();
    width = hidden;
  }
  net->emplace_back<nn::Linear>(width, out);
  return net;
}

Tensor gradient_penalty(nn::Module& critic, const Tensor& real, const Tensor& fake, double lambda, Generator& gen) {
  Shape eps_shape(real.dim(), 1);
  eps_shape[0] = real.size(0);
  Tensor eps = rand(eps_shape, TensorOptions(real.dtype(), real.device()), &gen);
  Tensor x_hat = (eps * real + (1.0 - eps) * fake).detach().requires_grad_();
  Tensor d_hat = critic(x_hat);
  Tensor grad = autograd::grad({sum(d_hat)}, {x_hat}, {}, /*create_graph=*/true)[0];
  Tensor grad_norm = norm(grad.flatten(1), 2.0, {1});
  return mean(pow(grad_norm - 1.0, 2.0)) * lambda;
}

void train_wgan_gp(Run& run) {
  const RunOptions& o = run.options();
  WganSetup s = wgan_setup(run);
  const std::string data_name = o.get("data", std::string("8gaussians"));
  const double lambda = o.get("lambda", s.image ? 10.0 : 0.1);
  const int64_t n_critic = o.get_int("n-critic", 5);
  const int64_t m = o.get_int("batch", s.image ? 64 : 256);
  const int64_t steps = o.steps > 0 ? o.steps : (s.image ? 1000 : 3000);  // generator iterations
  const double alpha = o.get("lr", 1e-4), beta1 = 0.5, beta2 = 0.9;
  Device dev = run.device();
  manual_seed(o.seed);

  auto G = make_generator(s);
  auto D = s.image ? dcgan_discriminator(/*sigmoid=*/false, s.critic_bn) : mlp(2, 512, 1, 3);
  G->to(dev);
  D->to(dev);
  optim::Adam opt_G(G->parameters(), {.lr = alpha, .betas = {beta1, beta2}});
  optim::Adam opt_D(D->parameters(), {.lr = alpha, .betas = {beta1, beta2}});
  DataSource data(data_name, m, o.seed, dev);
  Generator noise(o.seed + 1), eps_gen(o.seed + 2);
  Checkpointable state{{{"G", G.get()}, {"D", D.get()}},
                       {{"opt_G", &opt_G}, {"opt_D", &opt_D}},
                       {{"noise", &noise}, {"eps", &eps_gen}, {"data", &data.generator()}}};
  std::map<std::string, std::string> meta;
  int64_t start = run.maybe_resume(state, &meta);
  data.set_position(meta["data_position"]);
  if (start > 0) std::printf("resumed %s from step %lld\n", run.dir().c_str(), (long long)start);

  Generator fixed_gen(999);
  Tensor fixed_z = sample_noise(s.image ? 64 : 1000, s.z_dim, fixed_gen, dev, s.image);
  train::ProgressBar bar("wgan-gp", steps, start);
  auto checkpoint = [&](int64_t at) { run.save_checkpoint(state, at, {{"data_position", data.position()}}); };
  int64_t step = start;
  for (; step < steps; ++step) {
    if (Run::should_stop(step)) break;
    // ---- n_critic critic updates ----
    Tensor loss_D, w_dist, gp;
    for (int64_t t = 0; t < n_critic; ++t) {
      Tensor x = data.next();
      Tensor x_fake;
      {
        NoGradGuard ng;
        x_fake = (*G)(sample_noise(m, s.z_dim, noise, dev, s.image));
      }
      Tensor d_real = mean((*D)(x)), d_fake = mean((*D)(x_fake));
      gp = gradient_penalty(*D, x, x_fake, lambda, eps_gen);
      w_dist = d_real - d_fake;
      loss_D = d_fake - d_real + gp;
      opt_D.zero_grad();
      loss_D.backward();
      opt_D.step();
    }
    // ---- generator update: minimise -D(G(z)) ----
    Tensor loss_G = -mean((*D)((*G)(sample_noise(m, s.z_dim, noise, dev, s.image))));
    opt_G.zero_grad();
    loss_G.backward();
    opt_G.step();

    if ((step + 1) % o.log_every == 0 || step + 1 == steps) {
      std::vector<std::pair<std::string, double>> v = {
          {"loss_D", loss_D.item()}, {"loss_G", loss_G.item()}, {"wasserstein", w_dist.item()}, {"gp", gp.item()}};
      run.log_metrics(step + 1, v);
      bar.update(step + 1, v);
    }
    if ((step + 1) % o.sample_every == 0 || step + 1 == steps) {
      NoGradGuard ng;
      G->eval();
      Tensor samples = (*G)(fixed_z);
      G->train();
      if (s.image) {
        save_samples(run, data, samples, step + 1);
      } else {
        auto tm = toy_metrics(data, samples);
        if (!tm.empty()) run.log_metrics(step + 1, tm);
        const int64_t grid = 96;
        Tensor field = (*D)(grid_points(grid, -2.0, 2.0).to(dev)).reshape({grid, grid});
        save_samples(run, data, samples, step + 1, field, "critic");
      }
    }
    if ((step + 1) % o.checkpoint_interval(kCheckpointEvery) == 0) checkpoint(step + 1);
  }
  checkpoint(step);
  bar.finish();
  run.plot_metrics({"loss_D", "loss_G", "wasserstein"});
  if (step < steps) std::printf("interrupted at step %lld; checkpoint saved, run the same command to resume\n", (long long)step);
}

Tensor sample_wgan_gp(Run& run, int64_t n) {
  WganSetup s = wgan_setup(run);
  auto G = make_generator(s);
  load_module(run, "G", *G);
  G->eval();
  NoGradGuard ng;
  Generator gen(run.options().seed + 12345);
  return (*G)(sample_noise(n, s.z_dim, gen, kCPU, s.image));
}

}  // namespace duel::gan
