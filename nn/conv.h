// Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d (PyTorch
// weight layouts, key names "weight" and "bias", and default initialisation:
// kaiming_uniform(a = sqrt(5)) weights, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) biases).
//
// Two ways to construct:
//   nn::Conv2d(3, 64, 4, 2, 1)                                      // positional, as in PyTorch
//   nn::ConvTranspose2d(100, 512, 4, {.stride = 1, .padding = 0, .bias = false})  // options
#pragma once
#include <array>

#include "nn/module.h"
#include "tensor/ops/nn_ops.h"
#include "tensor/random.h"

namespace duel::nn {

// A size per spatial dim: implicit from one value (square) or from {h, w}.
struct Size2 {
  int64_t h = 0, w = 0;
  Size2(int64_t s) : h(s), w(s) {}  // NOLINT: Conv2d(3, 8, 3)
  Size2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  std::array<int64_t, 2> arr() const { return {h, w}; }
  bool operator==(const Size2& o) const { return h == o.h && w == o.w; }
  std::string str() const;  // "(h, w)"
};

// Options shared by all convolution modules (designated initialisers must follow this order).
// 1-D convolutions take a single value per option (h == w).
struct ConvOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 output_padding = 0;  // transposed convolutions only
  Size2 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  Generator* gen = nullptr;  // for the initialisation (default generator if null)
};

// Common state of the four convolution modules.
class ConvBase : public Module {
 public:
  std::string extra_repr() const override;
  void reset_parameters(Generator* gen = nullptr);

  int64_t in_channels, out_channels;
  Size2 kernel_size;
  ConvOptions options;
  Tensor weight, bias;  // bias undefined with bias = false

 protected:
  ConvBase(int64_t in, int64_t out, Size2 kernel, const ConvOptions& opt, bool transposed, bool one_d);
  Conv2dOptions functional_2d() const;
  Conv1dOptions functional_1d() const;
  bool transposed_, one_d_;
};

// [N, C_in, H, W] -> [N, C_out, H', W']; weight [C_out, C_in/groups, kH, kW].
class Conv2d : public ConvBase {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, const ConvOptions& opt);
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Size2 stride = 1, Size2 padding = 0,
         Size2 dilation = 1, int64_t groups = 1, bool bias = true, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
};

// [N, C_in, H, W] -> [N, C_out, H', W'] with H' = (H-1)*stride - 2*padding + dilation*(k-1) + output_padding + 1;
// weight [C_in, C_out/groups, kH, kW].
class ConvTranspose2d : public ConvBase {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, const ConvOptions& opt);
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Size2 stride = 1, Size2 padding = 0,
                  Size2 output_padding = 0, int64_t groups = 1, bool bias = true, Size2 dilation = 1,
                  Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
};

// [N, C_in, L] -> [N, C_out, L']; weight [C_out, C_in/groups, k].
class Conv1d : public ConvBase {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, const ConvOptions& opt);
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1, int64_t padding = 0,
         int64_t dilation = 1, int64_t groups = 1, bool bias = true, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
};

// weight [C_in, C_out/groups, k].
class ConvTranspose1d : public ConvBase {
 public:
  ConvTranspose1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, const ConvOptions& opt);
  ConvTranspose1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1,
                  int64_t padding = 0, int64_t output_padding = 0, int64_t groups = 1, bool bias = true,
                  int64_t dilation = 1, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
};

}  // namespace duel::nn
