// Miscellaneous layers: Dropout, Embedding, Upsample, PixelShuffle, MaxPool2d,
// AvgPool2d and MinibatchDiscrimination.
#pragma once
#include "nn/conv.h"
#include "nn/module.h"
#include "tensor/random.h"

namespace duel::nn {

// Inverted dropout: in training, zeroes each element with probability p and
// scales the rest by 1 / (1 - p); the identity in eval mode. Draws from `gen`, or from the
// default generator when it is null (a model that checkpoints its random state passes its own).
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  double p;
  Generator* gen;
};

// A lookup table: int64 indices of any shape -> [..., embedding_dim].
// Parameter "weight" [num_embeddings, embedding_dim] ~ N(0, 1).
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, Generator* gen = nullptr);
  Tensor forward(const Tensor& indices) override;
  std::string extra_repr() const override;
  int64_t num_embeddings, embedding_dim;
  Tensor weight;
};

enum class UpsampleMode { Nearest, Bilinear };

// [N, C, H, W] -> [N, C, H*scale, W*scale]. Bilinear honours align_corners (as PyTorch).
class Upsample : public Module {
 public:
  explicit Upsample(int64_t scale_factor, UpsampleMode mode = UpsampleMode::Nearest, bool align_corners = false);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t scale_factor;
  UpsampleMode mode;
  bool align_corners;
};

// [N, C*r*r, H, W] -> [N, C, H*r, W*r].
class PixelShuffle : public Module {
 public:
  explicit PixelShuffle(int64_t upscale_factor) : upscale_factor(upscale_factor) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override { return "upscale_factor=" + std::to_string(upscale_factor); }
  int64_t upscale_factor;
};

// stride 0 means stride = kernel_size (PyTorch's default).
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(Size2 kernel_size, Size2 stride = 0, Size2 padding = 0);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Size2 kernel_size, stride, padding;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(Size2 kernel_size, Size2 stride = 0, Size2 padding = 0, bool count_include_pad = true);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Size2 kernel_size, stride, padding;
  bool count_include_pad;
};

// Minibatch discrimination (Salimans et al. 2016, "Improved Techniques for Training GANs").
// x [N, A] is projected by the parameter T [A, B, C] to M [N, B, C];
//   c_b(x_i, x_j) = exp(-||M_i,b - M_j,b||_1),  o(x_i)_b = sum_j c_b(x_i, x_j),
// and the output is cat(x, o) [N, A + B].
// The sum over j runs over the other samples: the self term c_b(x_i, x_i) = exp(0) = 1
// is subtracted (as in the widely used PyTorch gist; include_self = true keeps it, as in the
// paper's formula). mean = true divides o by the number of terms summed (N - 1, or N with the
// self term). T ~ N(0, 1) like the gist; it is stored under the gist's key "T".
class MinibatchDiscrimination : public Module {
 public:
  MinibatchDiscrimination(int64_t in_features, int64_t out_features, int64_t kernel_dims, bool mean = false,
                          bool include_self = false, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t in_features, out_features, kernel_dims;
  bool mean, include_self;
  Tensor T;  // [in_features, out_features, kernel_dims]
};

}  // namespace duel::nn
