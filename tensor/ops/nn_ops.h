// Neural-network ops (functional form; nn/ wraps them in modules).
// Forward/backward: tensor/ops/conv.cpp, pool.cpp, norm.cpp, softmax.cpp, rnn.cpp, nn_misc.cpp;
// CPU kernels: kernels/cpu/conv.cpp, pool.cpp, batch_norm.cpp, softmax.cpp, rnn.cpp.
#pragma once
#include <array>

#include "tensor/tensor.h"

namespace duel {

class Generator;

struct Conv2dOptions {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};
  std::array<int64_t, 2> output_padding{0, 0};  // transposed conv only
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
  Conv2dOptions& set_stride(int64_t s) { stride = {s, s}; return *this; }
  Conv2dOptions& set_padding(int64_t p) { padding = {p, p}; return *this; }
  Conv2dOptions& set_output_padding(int64_t p) { output_padding = {p, p}; return *this; }
  Conv2dOptions& set_dilation(int64_t d) { dilation = {d, d}; return *this; }
  Conv2dOptions& set_groups(int64_t g) { groups = g; return *this; }
};
struct Conv1dOptions {
  int64_t stride = 1, padding = 0, output_padding = 0, dilation = 1, groups = 1;
};

// x [N, C, H, W], weight [O, C/groups, kH, kW], bias [O] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, const Conv2dOptions& opt = {});
// x [N, C, H, W], weight [C, O/groups, kH, kW] (PyTorch layout).
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, const Conv2dOptions& opt = {});
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, const Conv1dOptions& opt = {});
Tensor conv_transpose1d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, const Conv1dOptions& opt = {});
// The closed set behind all convolutions: each one's backward is written with the other two.
Tensor conv2d_input_grad(const Tensor& grad_out, const Tensor& weight, const Shape& input_shape, const Conv2dOptions& opt);
Tensor conv2d_weight_grad(const Tensor& x, const Tensor& grad_out, const Shape& weight_shape, const Conv2dOptions& opt);

struct Pool2dOptions {
  std::array<int64_t, 2> kernel{2, 2};
  std::array<int64_t, 2> stride{0, 0};  // 0 = kernel size
  std::array<int64_t, 2> padding{0, 0};
  bool count_include_pad = true;        // avg pool
};
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opt);
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, const Pool2dOptions& opt);
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opt);
Tensor upsample_nearest2d(const Tensor& x, int64_t scale);
Tensor upsample_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners = false);
Tensor pixel_shuffle(const Tensor& x, int64_t upscale);

// Batch norm over all dims but 1. In training mode uses batch statistics and,
// when running_mean/var are given, updates them in place with `momentum`.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// Normalises over the trailing dims given by normalized_shape.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
// Per-sample, per-channel normalisation over the spatial dims.
Tensor instance_norm(const Tensor& x, const Tensor& weight = {}, const Tensor& bias = {}, double eps = 1e-5);

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
// The elementwise part of an LSTM step, fused, with the arguments of PyTorch's fused cell
// (nn::LSTM and nn::LSTMCell call it): the pre-activations are input_gates [N, 4H] (x W_ih^T)
// + hidden_gates [N, 4H] (h W_hh^T) + input_bias + hidden_bias [4H] (broadcast over the rows;
// hidden_gates and the biases may be undefined), in PyTorch's gate order (input, forget, cell,
// output); c [N, H] is the previous cell state. Returns [N, 2H] = [h' | c'] with
// c' = sigmoid(a_f) * c + sigmoid(a_i) * tanh(a_g) and h' = sigmoid(a_o) * tanh(c').
// Differentiable to any order (the first backward is one fused kernel; under create_graph it
// is written in ops).
Tensor lstm_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& c,
                 const Tensor& input_bias = {}, const Tensor& hidden_bias = {});
// One LSTM layer over a whole sequence, as one graph node (nn::LSTM calls it): input_gates
// [T, N, 4H] are the input projections x_t W_ih^T of every step (one GEMM before the call), h0
// and c0 [N, H] the initial state (undefined: zeros), hidden_weight W_hh [4H, H], the biases [4H]
// optional. Step t runs lstm_cell(input_gates[t], h_{t-1} W_hh^T, c_{t-1}, biases). Returns
// [T, N, 2H] with out[t] = [h_t | c_t]. The first backward runs the steps in reverse with the
// fused cell kernel and then forms W_hh's gradient in one GEMM over all T*N rows (no per-step
// nodes, weight products or gradient sums); under create_graph it differentiates the step-by-step
// composite of lstm_cell and matmul, so higher derivatives flow.
Tensor lstm_sequence(const Tensor& input_gates, const Tensor& h0, const Tensor& c0, const Tensor& hidden_weight,
                     const Tensor& input_bias = {}, const Tensor& hidden_bias = {});
// Inverted dropout: in training, zeroes with probability p and scales by 1/(1-p).
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);  // gen: the mask's stream (default generator if null)
// weight [num_embeddings, dim], indices int64 of any shape -> [..., dim]
Tensor embedding(const Tensor& indices, const Tensor& weight);

// Set by the batch_norm tests: force the composite (create_graph) backward even when not recording.
namespace detail {
void set_force_composite_batch_norm(bool on);
}

}  // namespace duel
