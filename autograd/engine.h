// Reverse-mode execution of the graph: Tensor::backward and autograd::grad.
#pragma once
#include "autograd/node.h"

namespace duel::autograd {

// Accumulates d(outputs)/d(leaf) into every reachable leaf's .grad.
// `grad_outputs[i]` may be undefined only for a one-element output (then 1).
void backward(const TensorList& outputs, const TensorList& grad_outputs = {}, bool retain_graph = false,
              bool create_graph = false);

// Returns d(outputs)/d(inputs) without touching any .grad (torch.autograd.grad).
// With create_graph the returned gradients carry history and can be
// differentiated again. retain_graph defaults to create_graph.
TensorList grad(const TensorList& outputs, const TensorList& inputs, const TensorList& grad_outputs = {},
                bool create_graph = false, bool allow_unused = false, int retain_graph = -1);

}  // namespace duel::autograd
