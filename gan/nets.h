// The networks of the zoo, each written once, with the names the papers use.
//
//   mlp                      Linear+ReLU hidden layers (the toy setups of WGAN-GP, the VAE)
//   gan_generator/discriminator   Goodfellow's MLP pair (ReLU G, LeakyReLU D)
//   dcgan_generator/discriminator the DCGAN 28x28 pair of the libtorch example, dcgan_init
//   ResidualBlock            conv3-norm-ReLU-conv3-norm + identity (He et al.; CycleGAN, SRGAN)
//   UNet                     pix2pix's encoder-decoder with skip connections
//   PatchGAN                 pix2pix's discriminator: one logit per receptive-field patch
//   AutoencoderDiscriminator EBGAN/BEGAN: D(x) is the reconstruction error of an autoencoder
//   MultiHeadDiscriminator   the DCGAN D's trunk shared by several heads (AC-GAN's source and
//                            class, InfoGAN's D and Q)
#pragma once
#include <memory>

#include "nn/nn.h"

namespace duel::gan {

// `layers` hidden Linear(hidden) + ReLU layers, then Linear(out).
std::shared_ptr<nn::Sequential> mlp(int64_t in, int64_t hidden, int64_t out, int layers);

// Goodfellow et al.: z -> 2 ReLU layers -> out (tanh and [1, 28, 28] when `image`).
std::shared_ptr<nn::Sequential> gan_generator(int64_t z_dim, int64_t hidden, int64_t out_dim, bool image);
// x -> 2 LeakyReLU(0.2) layers -> the logit of D(x).
std::shared_ptr<nn::Sequential> gan_discriminator(int64_t in_dim, int64_t hidden);

// DCGAN for 28x28 (the libtorch C++ example's architecture, so a step can be timed one to one):
//   G: z [z,1,1] -ConvT(k4)-> 256x4x4 -ConvT(k3,s2,p1)-> 128x7x7 -ConvT(k4,s2,p1)-> 64x14x14
//      -ConvT(k4,s2,p1)-> 1x28x28, tanh (batch norm + ReLU after every layer but the last)
//   D: 1x28x28 -Conv(k4,s2,p1)-> 64x14x14 -Conv(k4,s2,p1)-> 128x7x7 -Conv(k4,s2,p1)-> 256x3x3
//      -Conv(k3)-> 1 (LeakyReLU 0.2; batch norm after the 2nd and 3rd conv when `batchnorm`;
//      a sigmoid at the end when `sigmoid`, else the logit / critic value; the convolutions
//      have no bias, as batch norm follows them in DCGAN, unless `bias`)
std::shared_ptr<nn::Sequential> dcgan_generator(int64_t z_dim = 100);
std::shared_ptr<nn::Sequential> dcgan_discriminator(bool sigmoid = true, bool batchnorm = true, bool bias = false);
// D without its last Conv(k3) (and Flatten, sigmoid): x -> features [N, 256, 3, 3].
std::shared_ptr<nn::Sequential> dcgan_discriminator_trunk(bool batchnorm = true, bool bias = false);
// DCGAN's weights_init: conv weights ~ N(0, 0.02); batch-norm weight ~ N(1, 0.02), bias 0.
void dcgan_init(nn::Module& net, Generator& gen);

enum class Norm { kNone, kBatch, kInstance };

// y = x + norm(conv3x3(relu(norm(conv3x3(x))))), channels and spatial size preserved.
class ResidualBlock : public nn::Module {
 public:
  explicit ResidualBlock(int64_t channels, Norm norm = Norm::kInstance);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Sequential> body_;
};

// pix2pix's U-Net: `depth` stride-2 Conv(k4) + norm + LeakyReLU(0.2) steps down (width
// doubling from `base`, capped at 8 * base), then ConvT(k4, s2) + norm + ReLU steps up, each
// concatenated with the encoder activation of the same size; tanh output. H and W must be
// divisible by 2^depth.
class UNet : public nn::Module {
 public:
  UNet(int64_t in_channels, int64_t out_channels, int64_t base = 64, int depth = 4, Norm norm = Norm::kBatch);
  Tensor forward(const Tensor& x) override;

 private:
  int depth_;
  std::vector<std::shared_ptr<nn::Sequential>> down_, up_;
  std::shared_ptr<nn::ConvTranspose2d> out_;
};

// pix2pix's PatchGAN: Conv(k4,s2) LeakyReLU, `layers - 1` more Conv(k4,s2)+norm+LeakyReLU,
// Conv(k4,s1)+norm+LeakyReLU, Conv(k4,s1) -> one logit per patch [N, 1, H', W'].
std::shared_ptr<nn::Sequential> patchgan_discriminator(int64_t in_channels, int64_t base = 64, int layers = 3,
                                                       Norm norm = Norm::kBatch);

// EBGAN / BEGAN discriminator for 1x28x28 images: encoder Conv(k4,s2)x2 -> Linear(code),
// decoder Linear -> ConvT(k4,s2)x2 -> 1x28x28 (linear output). forward(x) is the reconstruction; energy(x)
// the per-sample mean squared (BEGAN: `l1`, mean absolute) reconstruction error [N].
class AutoencoderDiscriminator : public nn::Module {
 public:
  enum class Activation { kReLU, kLeakyReLU, kELU };
  AutoencoderDiscriminator(int64_t code_dim = 64, int64_t width = 64, Activation act = Activation::kLeakyReLU,
                           bool batchnorm = true);
  Tensor forward(const Tensor& x) override;  // reconstruction of x
  Tensor encode(const Tensor& x);            // codes [N, code_dim]
  Tensor decode(const Tensor& code);         // images [N, 1, 28, 28]
  Tensor energy(const Tensor& x, bool l1 = false);  // reconstruction error per sample [N]

 private:
  std::shared_ptr<nn::Sequential> encoder_, decoder_;
};

// The DCGAN discriminator (dcgan_discriminator) up to its 256x3x3 features, shared by several
// heads. A head with `hidden` = 0 is the DCGAN's last layer with `out` outputs (Conv(k3) to
// [N, out]); with `hidden` > 0 it is Conv(k3) to `hidden`, batch norm, LeakyReLU(0.2), then
// Linear(hidden, out) (InfoGAN's Q head). forward(x) is head 0 (for AC-GAN and InfoGAN: the
// real/fake logit), so the shared losses and the gradient penalty apply to it unchanged.
class MultiHeadDiscriminator : public nn::Module {
 public:
  struct Head {
    int64_t out;
    int64_t hidden = 0;
  };
  explicit MultiHeadDiscriminator(const std::vector<Head>& heads, bool batchnorm = true);
  Tensor forward(const Tensor& x) override;            // head 0 [N, heads[0].out]
  Tensor features(const Tensor& x);                    // the trunk's [N, 256, 3, 3]
  Tensor head(size_t i, const Tensor& features);       // head i on trunk features [N, heads[i].out]
  size_t num_heads() const { return heads_.size(); }

 private:
  std::shared_ptr<nn::Sequential> trunk_;
  std::vector<std::shared_ptr<nn::Sequential>> heads_;
};

}  // namespace duel::gan
