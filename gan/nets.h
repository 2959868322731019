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
//                            class, InfoGAN's D and Q, the semi-supervised GANs' classifier)
//   MinibatchDiscrimination  Salimans et al.: features of how close a sample is to the rest of its batch
//   VirtualBatchNorm2d       Salimans et al.: batch norm with the statistics of a fixed reference batch
//   VbnGenerator             the DCGAN generator with virtual batch norm and its reference batch
//   SkipRnn                  Graves 2013: stacked LSTM/GRU layers with skip connections from the
//                            input to every layer and from every layer to the output (char-rnn)
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
// A head with `minibatch_kernels` B > 0 is Flatten, MinibatchDiscrimination(2304, B, 5) and
// Linear(2304 + B, out) instead (Improved GAN's minibatch discrimination before D's last layer).
// Without batch norm the trunk's convolutions have biases.
class MultiHeadDiscriminator : public nn::Module {
 public:
  struct Head {
    int64_t out;
    int64_t hidden = 0;
    int64_t minibatch_kernels = 0;
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

// Minibatch discrimination (Salimans et al. 2016, section 3.2): with M_i = f(x_i) T reshaped to
// [B, C] (T a learned [A, B * C] tensor), c_b(x_i, x_j) = exp(-||M_i,b - M_j,b||_1) and
// o(x_i)_b = sum_{j != i} c_b(x_i, x_j); the output is [f(x_i), o(x_i)], [N, A + B]. A sample's
// output depends on the rest of its batch, so D can tell a batch of near-identical samples
// (a collapsed G) from a varied one.
class MinibatchDiscrimination : public nn::Module {
 public:
  MinibatchDiscrimination(int64_t in_features, int64_t kernels, int64_t kernel_dim);
  Tensor forward(const Tensor& f) override;  // [N, A] -> [N, A + B]
  std::string extra_repr() const override;

  Tensor T;  // [A, B * C], N(0, 0.05)

 private:
  int64_t in_, kernels_, dim_;
};

// Virtual batch normalisation (Salimans et al. 2016, section 3.4): each example is normalised
// with the statistics of a fixed reference batch together with itself, so G's output for one z
// does not depend on the other z of its batch. A forward of the reference batch in reference
// mode (set_reference_pass(true)) normalises it by its own statistics and keeps them (with their
// graph, so the gradient reaches the reference pass too); later forwards normalise sample i
// with mean_c = (R mu_ref,c + mu_i,c) / (R + 1) and the same mix of the mean squares, mu_i,c
// over sample i's H x W. Learned per-channel scale and shift as in batch norm.
class VirtualBatchNorm2d : public nn::Module {
 public:
  explicit VirtualBatchNorm2d(int64_t channels, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  void set_reference_pass(bool on) { reference_pass_ = on; }
  std::string extra_repr() const override;

  Tensor weight, bias;  // [C]

 private:
  int64_t channels_;
  double eps_;
  bool reference_pass_ = false;
  int64_t ref_size_ = 0;
  Tensor ref_mean_, ref_meansq_;  // [1, C, 1, 1], from the last reference pass
};

// The DCGAN generator (dcgan_generator) with VirtualBatchNorm2d in place of batch norm, and
// its reference batch: `ref_size` noise vectors drawn once from `gen` (a buffer, so it is saved
// and moves with the module). forward(z) passes the reference batch first, then z.
class VbnGenerator : public nn::Module {
 public:
  VbnGenerator(int64_t z_dim, int64_t ref_size, Generator& gen);
  Tensor forward(const Tensor& z) override;

 private:
  std::shared_ptr<nn::Sequential> net_;
  std::vector<VirtualBatchNorm2d*> vbn_;
  Tensor z_ref_;
};

// The recurrent state of a SkipRnn: h^n (and c^n for LSTM) of every layer, [B, H] each;
// empty = zeros.
struct RnnState {
  std::vector<Tensor> h, c;
  bool empty() const { return h.empty(); }
  RnnState detached() const;  // the same values without history (truncated BPTT)
};

// Graves 2013, equations 1-5: N recurrent layers over one-hot symbols x_t; every layer sees x_t
// and, above the first, the layer below at the same step; the output sees every layer:
//   h^1_t = H(W_{i h^1} x_t + W_{h^1 h^1} h^1_{t-1} + b^1)
//   h^n_t = H(W_{i h^n} x_t + W_{h^{n-1} h^n} h^{n-1}_t + W_{h^n h^n} h^n_{t-1} + b^n)
//   y_t   = b_y + sum_n W_{h^n y} h^n_t        (the logits of Pr(x_{t+1} | x_{1..t}))
// H is an LSTM cell (lstm) or a GRU cell. Submodules: layer0 .. layer{N-1} (nn::LSTMCell or
// nn::GRUCell; layer n > 0 takes [x_t, h^{n-1}_t]) and output (nn::Linear(N H, V)).
class SkipRnn : public nn::Module {
 public:
  SkipRnn(int64_t vocab, int64_t hidden, int64_t layers, bool lstm);
  Tensor forward(const Tensor& ids) override;  // from the zero state
  // ids int64 [T, B] from state `s` (empty: zeros): the logits y_{1..T}, [T, B, V]; `s` becomes
  // the state after x_T, so that consecutive calls continue one sequence.
  Tensor run(const Tensor& ids, RnnState& s);
  std::string extra_repr() const override;

  int64_t V, H;
  bool lstm;
  std::vector<std::shared_ptr<nn::Module>> cells;
  std::shared_ptr<nn::Linear> out;
};

}  // namespace duel::gan
