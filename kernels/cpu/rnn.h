// The LSTM cell's elementwise part, fused, for the CPU (front-end: tensor/ops/rnn.cpp,
// lstm_cell; CUDA and emulator: kernels/cuda/rnn.cu; tests: tests/test_rnn_ops.cpp).
//
// The pre-activations of one step are a = xg + hg + bx + bh: xg = x W_ih^T and hg = h W_hh^T
// [N, 4H], the biases bx = b_ih and bh = b_hh [4H] broadcast over the rows (as PyTorch's fused
// cell takes them); hg, bx and bh may be null (absent). The gates are in PyTorch's order
// (input, forget, cell, output), each H wide; c [N, H] is the previous cell state. With
// i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o):
//
//   c' = f * c + i * g        h' = o * tanh(c')        out [N, 2H] = [h' | c']
//
// All pointers are contiguous row-major.
#pragma once
#include <cstdint>

namespace duel::cpu {

template <class T>
void lstm_cell_forward(const T* xg, const T* hg, const T* bx, const T* bh, const T* c, T* out, int64_t N, int64_t H);

// From the gradient of out ([N, 2H]: dL/dh' | dL/dc', the latter from outside the cell) and
// out itself (c' is read back for tanh(c')), with the activations recomputed from gates:
//   dc' = dL/dc' + dL/dh' * o * (1 - tanh(c')^2)
//   d a_i = dc' * g * i (1 - i)     d a_f = dc' * c * f (1 - f)
//   d a_g = dc' * i * (1 - g^2)     d a_o = dL/dh' * tanh(c') * o (1 - o)
//   dc = dc' * f
// into grad_gates [N, 4H] (the gradient of a, so of xg and of hg) and grad_c [N, H].
template <class T>
void lstm_cell_backward(const T* xg, const T* hg, const T* bx, const T* bh, const T* c, const T* out,
                        const T* grad_out, T* grad_gates, T* grad_c, int64_t N, int64_t H);

}  // namespace duel::cpu
