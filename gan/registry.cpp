#include "gan/models.h"

namespace duel::gan {

void train_judge(Run& run);  // gan/judge.cpp

const std::vector<ModelSpec>& registry() {
  static const std::vector<ModelSpec> models = {
      {"gan", "3.1.1", "Generative Adversarial Nets (Goodfellow et al. 2014)", "8gaussians | 25gaussians | swissroll | fashion-mnist",
       "MLP generator and discriminator, non-saturating loss, k D-steps per G-step", train_gan, sample_gan},
      {"wgan-gp", "3.2.3", "Improved Training of Wasserstein GANs (Gulrajani et al. 2017)",
       "8gaussians | 25gaussians | swissroll | fashion-mnist",
       "critic with gradient penalty lambda (||grad D(x^)|| - 1)^2: gradients of gradients", train_wgan_gp,
       sample_wgan_gp},
      {"dcgan", "4.1.1", "Deep Convolutional GANs (Radford et al. 2016)", "fashion-mnist",
       "strided (transposed) convolutions, batch norm, ReLU/Tanh G, LeakyReLU D", train_dcgan, sample_dcgan},
      {"judge", "-", "the evaluation classifier (not a survey model)", "fashion-mnist",
       "small CNN whose features give the classifier score and FCD", train_judge, nullptr},
  };
  return models;
}

const ModelSpec& find_model(const std::string& name) {
  std::string names;
  for (auto& m : registry()) {
    if (m.name == name) return m;
    names += (names.empty() ? "" : ", ") + m.name;
  }
  DUEL_FAIL("unknown model '", name, "'; available: ", names, " (see `duel list`)");
}

}  // namespace duel::gan
