// Linear layers and shape adaptors: Linear, Identity, Flatten, Reshape.
#pragma once
#include "nn/module.h"
#include "tensor/random.h"

namespace duel::nn {

// y = x W^T + b. weight [out_features, in_features], bias [out_features].
// Initialised as PyTorch: kaiming_uniform(a = sqrt(5)) for the weight, i.e.
// U(-1/sqrt(in), 1/sqrt(in)), and U(-1/sqrt(in), 1/sqrt(in)) for the bias.
// Input [*, in_features] -> [*, out_features].
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  void reset_parameters(Generator* gen = nullptr);
  std::string extra_repr() const override;

  int64_t in_features, out_features;
  Tensor weight, bias;  // bias undefined when constructed with bias = false
};

class Identity : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
};

// Flattens dims start_dim..end_dim into one (default: everything but the batch dim).
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& x) override { return x.flatten(start_dim, end_dim); }
  std::string extra_repr() const override;
  int64_t start_dim, end_dim;
};

// Keeps dim 0 (the batch) and reshapes the rest: Reshape({C, 4, 4}) maps [N, C*16] -> [N, C, 4, 4]
// (torch.nn.Unflatten(1, (C, 4, 4)); e.g. DCGAN/WGAN generators after a Linear). One entry may be -1.
class Reshape : public Module {
 public:
  explicit Reshape(Shape shape) : shape(std::move(shape)) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Shape shape;
};

}  // namespace duel::nn
