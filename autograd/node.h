// The autograd graph. Each differentiable op that runs while GradMode is on
// creates one Node for its (single) output: the node remembers the nodes of its
// inputs (`next`) and a closure that maps the gradient of the output to the
// gradients of the inputs. The closure is written with differentiable tensor
// ops, so running it while recording (create_graph) builds the graph of the
// backward pass itself: that is where higher-order gradients come from.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "tensor/tensor.h"

namespace duel {

// needs[i]: whether input i of the node wants a gradient (skip work otherwise).
struct NeedsGrad {
  std::vector<bool> v;
  bool operator[](size_t i) const { return i < v.size() && v[i]; }
};

using TensorList = std::vector<Tensor>;
using BackwardFn = std::function<TensorList(const Tensor& grad_output, const NeedsGrad& needs)>;

struct Node {
  std::string name;                         // the op, e.g. "conv2d"
  std::vector<std::shared_ptr<Node>> next;  // per input: its node, or null (no grad needed)
  std::vector<Shape> input_sizes;           // per input, to reduce broadcast gradients
  std::vector<DType> input_dtypes;
  uint64_t sequence_nr = 0;                 // creation order; the engine runs later nodes first

  virtual ~Node() = default;
  virtual TensorList apply(const Tensor& grad_output) = 0;
  virtual void release() {}  // frees what the node saved (graph not retained)
  virtual bool is_accumulate_grad() const { return false; }
  NeedsGrad needs() const;
};

// A node whose backward is a closure (the usual case).
struct FunctionNode final : Node {
  BackwardFn fn;
  TensorList apply(const Tensor& grad_output) override;
  void release() override { fn = nullptr; }
};

// The sink of a leaf tensor that requires grad: accumulates into leaf.grad.
struct AccumulateGrad final : Node {
  std::shared_ptr<TensorImpl> leaf;
  TensorList apply(const Tensor&) override { return {}; }
  bool is_accumulate_grad() const override { return true; }
};

// A tensor kept for backward together with the version it had; get() refuses
// to return it if an in-place op has modified it since.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, const char* op);
  const Tensor& get() const;
  bool defined() const { return t_.defined(); }

 private:
  Tensor t_;
  uint64_t version_ = 0;
  const char* op_ = "";
};

namespace autograd {

// True when an op on these inputs must record a node.
bool needs_recording(const TensorList& inputs);
bool needs_recording(std::initializer_list<const Tensor*> inputs);

// Records `out` as the output of op `name` on `inputs` with the given backward
// closure, if any input requires grad and recording is on. Returns `out`.
Tensor record(const char* name, const Tensor& out, const TensorList& inputs, BackwardFn fn);

// The node a gradient for `t` flows into: its grad_fn, or its leaf accumulator
// (created on demand); null if t does not require grad.
std::shared_ptr<Node> gradient_edge(const Tensor& t);

// Saves an op's own output for its backward without creating a reference
// cycle: the saved tensor shares storage but has no history. Backward closures
// that need the output *differentiably* (create_graph) recompute it.
inline SavedTensor save_output(const Tensor& out, const char* op) { return SavedTensor(out.detach(), op); }

}  // namespace autograd
}  // namespace duel
