// Weight initialisers (torch.nn.init). Each fills its tensor in place without
// recording a graph and returns it. Random draws come from duel's Philox
// generator: `gen`, or duel::default_generator() when null.
//
//   nn::init::normal_(conv->weight, 0.0, 0.02);          // DCGAN
//   nn::init::kaiming_uniform_(w, std::sqrt(5.0));       // PyTorch's Linear/Conv default
//   nn::init::orthogonal_(w, std::sqrt(2.0));            // PPO / DQN style
#pragma once
#include <utility>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace duel::nn::init {

enum class Nonlinearity { Linear, Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, Sigmoid, Tanh, ReLU,
                          LeakyReLU, SELU };
enum class FanMode { FanIn, FanOut };

// The recommended gain for a nonlinearity (as torch.nn.init.calculate_gain):
// linear/conv/sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2 / (1 + slope^2)),
// selu 3/4. `param` is leaky_relu's negative slope.
double calculate_gain(Nonlinearity nonlinearity, double param = 0.01);

// fan_in = size(1) * receptive field, fan_out = size(0) * receptive field,
// where the receptive field is the product of dims 2.. (PyTorch's convention;
// for ConvTranspose weights [in, out/groups, k...] this gives fan_in = out/groups * k).
// Needs at least 2 dims.
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t);

Tensor uniform_(const Tensor& t, double a = 0.0, double b = 1.0, Generator* gen = nullptr);
Tensor normal_(const Tensor& t, double mean = 0.0, double std = 1.0, Generator* gen = nullptr);
Tensor constant_(const Tensor& t, double value);
Tensor zeros_(const Tensor& t);
Tensor ones_(const Tensor& t);
// Identity matrix (2-D only).
Tensor eye_(const Tensor& t);

// Glorot & Bengio: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)); N(0, gain^2 * 2 / (fan_in + fan_out)).
Tensor xavier_uniform_(const Tensor& t, double gain = 1.0, Generator* gen = nullptr);
Tensor xavier_normal_(const Tensor& t, double gain = 1.0, Generator* gen = nullptr);

// He et al.: std = gain / sqrt(fan) with gain = calculate_gain(nonlinearity, a);
// uniform bound = sqrt(3) * std.
Tensor kaiming_uniform_(const Tensor& t, double a = 0.0, FanMode mode = FanMode::FanIn,
                        Nonlinearity nonlinearity = Nonlinearity::LeakyReLU, Generator* gen = nullptr);
Tensor kaiming_normal_(const Tensor& t, double a = 0.0, FanMode mode = FanMode::FanIn,
                       Nonlinearity nonlinearity = Nonlinearity::LeakyReLU, Generator* gen = nullptr);

// Saxe et al.: t viewed as [size(0), numel / size(0)] becomes a (semi-)orthogonal
// matrix times gain: QR (Householder, in double) of a standard normal matrix with
// Q's columns sign-corrected by sign(diag(R)), as torch.nn.init.orthogonal_.
// Rows are orthonormal when rows <= cols, columns when rows >= cols.
Tensor orthogonal_(const Tensor& t, double gain = 1.0, Generator* gen = nullptr);

}  // namespace duel::nn::init
