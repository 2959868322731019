// Recurrent layers: LSTMCell, LSTM, GRUCell, GRU, with PyTorch's gate order,
// weight layouts, key names (weight_ih, weight_hh, bias_ih, bias_hh; the
// multi-layer modules add the suffix _l0, _l1, ...) and initialisation
// U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) for every weight and bias.
//
// LSTM gates (rows of weight_ih / weight_hh, in this order): i, f, g, o
//   c' = sigmoid(f) * c + sigmoid(i) * tanh(g),   h' = sigmoid(o) * tanh(c')
// GRU gates: r, z, n
//   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),   z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h
#pragma once
#include <utility>
#include <vector>

#include "nn/module.h"
#include "tensor/random.h"

namespace duel::nn {

using LSTMState = std::pair<Tensor, Tensor>;  // (h, c); undefined tensors mean zeros

// One LSTM step. x [N, input_size] (or unbatched [input_size]); h, c [N, hidden_size].
class LSTMCell : public Module {
 public:
  LSTMCell(int64_t input_size, int64_t hidden_size, bool bias = true, Generator* gen = nullptr);
  using Module::operator();
  Tensor forward(const Tensor& x) override;                     // zero state; returns h'
  LSTMState forward(const Tensor& x, const LSTMState& state);   // returns (h', c')
  LSTMState operator()(const Tensor& x, const LSTMState& state) { return forward(x, state); }
  // The cell over a whole sequence xs [T, N, input_size] from `state`: h_1..h_T [T, N, H] and
  // the state after x_T; the same values as T calls of forward(), computed as one lstm_layer
  // (one GEMM for the input projections, one lstm_sequence node for the recurrence).
  std::pair<Tensor, LSTMState> forward_sequence(const Tensor& xs, const LSTMState& state = {});
  std::string extra_repr() const override;

  int64_t input_size, hidden_size;
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;  // [4H, I], [4H, H], [4H], [4H]
};

// One LSTM layer over a sequence: xs [T, N, I], h0 and c0 [N, H] (undefined: zeros), the weights
// and biases of an LSTMCell (biases optional). Returns [T, N, 2H], out[t] = [h_t | c_t]: the
// input projections of all T steps in one matmul, then lstm_sequence (tensor/ops/nn_ops.h).
// nn::LSTM, LSTMCell::forward_sequence and the zoo's recurrent nets run on it.
Tensor lstm_layer(const Tensor& xs, const Tensor& h0, const Tensor& c0, const Tensor& weight_ih,
                  const Tensor& weight_hh, const Tensor& bias_ih = {}, const Tensor& bias_hh = {});

// One GRU step. x [N, input_size] (or [input_size]); h [N, hidden_size].
class GRUCell : public Module {
 public:
  GRUCell(int64_t input_size, int64_t hidden_size, bool bias = true, Generator* gen = nullptr);
  using Module::operator();
  Tensor forward(const Tensor& x) override;                  // zero state; returns h'
  Tensor forward(const Tensor& x, const Tensor& h);          // returns h'
  Tensor operator()(const Tensor& x, const Tensor& h) { return forward(x, h); }
  std::string extra_repr() const override;

  int64_t input_size, hidden_size;
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;  // [3H, I], [3H, H], [3H], [3H]
};

struct RNNOptions {
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;  // input/output [N, T, *] instead of [T, N, *] (states stay [layers, N, H])
  double dropout = 0.0;      // dropout on the outputs of every layer but the last, in training mode
  Generator* gen = nullptr;  // for the initialisation
};

// The parameters and layout shared by LSTM and GRU.
class RNNBase : public Module {
 public:
  std::string extra_repr() const override;
  int64_t input_size, hidden_size;
  RNNOptions options;
  // per layer, registered as weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}
  std::vector<Tensor> weight_ih, weight_hh, bias_ih, bias_hh;

 protected:
  RNNBase(int64_t input_size, int64_t hidden_size, const RNNOptions& opt, int64_t gates, const char* name);
  // x -> per-step inputs [N, I] (time-major), plus whether the input was unbatched
  std::vector<Tensor> unbind_time(const Tensor& x, bool& unbatched, const char* name) const;
  // x -> the whole sequence time-major [T, N, I] (a view), plus whether the input was unbatched
  Tensor time_major(const Tensor& x, bool& unbatched, const char* name) const;
  Tensor stack_time(const std::vector<Tensor>& steps, bool unbatched) const;
  Tensor initial_state(const Tensor& s, int64_t layer, int64_t batch, bool unbatched, const Tensor& like,
                       const char* what) const;
  // dropout on a layer's outputs: in training, with dropout > 0, after every layer but the last
  bool dropout_after(int64_t layer) const;
  void dropout_between(std::vector<Tensor>& steps, int64_t layer) const;
};

// Multi-layer LSTM. x [T, N, input_size] ([N, T, input_size] with batch_first, or unbatched [T, input_size]);
// output [T, N, hidden_size] (the last layer's h at every step); h, c [num_layers, N, hidden_size].
//   nn::LSTM lstm(8, 16, {.num_layers = 2, .batch_first = true});
//   auto [out, state] = lstm.forward_with_state(x);          // zero initial state
//   auto [h_n, c_n] = state;
class LSTM : public RNNBase {
 public:
  LSTM(int64_t input_size, int64_t hidden_size, const RNNOptions& opt = {});
  Tensor forward(const Tensor& x) override;  // output only, zero initial state
  std::pair<Tensor, LSTMState> forward_with_state(const Tensor& x, const LSTMState& state = {});
};

// Multi-layer GRU; shapes as LSTM, with a single state h [num_layers, N, hidden_size].
class GRU : public RNNBase {
 public:
  GRU(int64_t input_size, int64_t hidden_size, const RNNOptions& opt = {});
  Tensor forward(const Tensor& x) override;
  std::pair<Tensor, Tensor> forward_with_state(const Tensor& x, const Tensor& h0 = {});
};

}  // namespace duel::nn
