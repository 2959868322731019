// The GAN models of the survey, one file each; this header is their index.
//
//   gan       3.1.1  Goodfellow et al. 2014      gan/gan.cpp
//   dcgan     4.1.1  Radford et al. 2016         gan/dcgan.cpp
//   wgan-gp   3.2.3  Gulrajani et al. 2017       gan/wgan_gp.cpp
//
// Each model exposes its networks (so tests and `duel sample` can rebuild
// them), a train function that reads like the paper's algorithm box, and a
// sample function that loads a run's checkpoint and draws new samples.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "train/run.h"
#include "nn/nn.h"

namespace duel::gan {

using train::Checkpointable;
using train::Run;
using train::RunOptions;

struct ModelSpec {
  std::string name;       // command-line name
  std::string section;    // survey section
  std::string title;      // paper
  std::string data;       // default data set
  std::string summary;    // one line
  std::function<void(Run&)> train;
  std::function<Tensor(Run&, int64_t n)> sample;  // loads the run's checkpoint
};

const std::vector<ModelSpec>& registry();
const ModelSpec& find_model(const std::string& name);  // throws listing valid names

// ---- gan (Goodfellow): MLPs ----
std::shared_ptr<nn::Sequential> gan_generator(int64_t z_dim, int64_t hidden, int64_t out_dim, bool image);
std::shared_ptr<nn::Sequential> gan_discriminator(int64_t in_dim, int64_t hidden);
void train_gan(Run& run);
Tensor sample_gan(Run& run, int64_t n);

// ---- dcgan: the libtorch C++ example's 28x28 architecture ----
std::shared_ptr<nn::Sequential> dcgan_generator(int64_t z_dim = 100);
std::shared_ptr<nn::Sequential> dcgan_discriminator(bool sigmoid = true, bool batchnorm = true);
void train_dcgan(Run& run);
Tensor sample_dcgan(Run& run, int64_t n);

// Iterations between checkpoints when --checkpoint-every is not given (all three GANs).
constexpr int64_t kCheckpointEvery = 200;

// ---- wgan-gp ----
// The toy networks: `layers` hidden Linear(hidden) + ReLU layers, then Linear(out).
std::shared_ptr<nn::Sequential> mlp(int64_t in, int64_t hidden, int64_t out, int layers);
void train_wgan_gp(Run& run);
Tensor sample_wgan_gp(Run& run, int64_t n);
// The gradient penalty lambda * (||grad_x D(x_hat)||_2 - 1)^2 with x_hat on
// random interpolates of real and fake: needs the gradient of a gradient.
Tensor gradient_penalty(nn::Module& critic, const Tensor& real, const Tensor& fake, double lambda, Generator& gen);

}  // namespace duel::gan
