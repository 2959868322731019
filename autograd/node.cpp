#include "autograd/node.h"

#include <atomic>

namespace duel {
namespace {
thread_local bool grad_mode_enabled = true;
std::atomic<uint64_t> next_sequence_nr{0};
}  // namespace

bool GradMode::is_enabled() { return grad_mode_enabled; }
void GradMode::set_enabled(bool enabled) { grad_mode_enabled = enabled; }

NeedsGrad Node::needs() const {
  NeedsGrad n;
  n.v.reserve(next.size());
  for (auto& e : next) n.v.push_back(e != nullptr);
  return n;
}

TensorList FunctionNode::apply(const Tensor& grad_output) {
  if (!fn)
    DUEL_FAIL("backward: trying to run the backward of '", name,
              "' a second time, but its saved tensors were freed after the first backward; "
              "pass retain_graph=true to the first backward() if you need to call it twice");
  return fn(grad_output, needs());
}

SavedTensor::SavedTensor(const Tensor& t, const char* op) : t_(t), op_(op) {
  if (t.defined()) version_ = t.version();
}

const Tensor& SavedTensor::get() const {
  if (t_.defined() && t_.version() != version_)
    DUEL_FAIL(op_, ": a tensor of shape ", shape_str(t_.sizes()),
              " saved for the backward pass was modified by an in-place operation (version ", version_,
              " when saved, now ", t_.version(),
              "); clone it before modifying it, or modify it only after backward");
  return t_;
}

namespace autograd {

bool needs_recording(const TensorList& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

bool needs_recording(std::initializer_list<const Tensor*> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (auto* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  if (t.impl()->grad_fn) return t.impl()->grad_fn;
  auto acc = t.impl()->grad_accumulator.lock();
  if (!acc) {
    auto node = std::make_shared<AccumulateGrad>();
    node->name = "AccumulateGrad";
    node->leaf = t.impl_ptr();
    node->sequence_nr = next_sequence_nr++;
    t.impl()->grad_accumulator = node;
    acc = node;
  }
  return acc;
}

Tensor record(const char* name, const Tensor& out, const TensorList& inputs, BackwardFn fn) {
  if (!needs_recording(inputs)) return out;
  DUEL_CHECK(is_floating(out.dtype()), name, ": cannot record a gradient for an output of dtype ",
             dtype_name(out.dtype()), " (only float32/float64 are differentiable)");
  auto node = std::make_shared<FunctionNode>();
  node->name = name;
  node->fn = std::move(fn);
  node->sequence_nr = next_sequence_nr++;
  node->next.reserve(inputs.size());
  for (auto& in : inputs) {
    node->next.push_back(gradient_edge(in));
    node->input_sizes.push_back(in.defined() ? in.sizes() : Shape{});
    node->input_dtypes.push_back(in.defined() ? in.dtype() : DType::Float32);
  }
  // The output becomes a non-leaf: a fresh impl that shares the storage, so a
  // tensor that was passed in and returned unchanged keeps its own identity.
  Tensor result = out;
  if (out.impl()->grad_fn || out.impl()->requires_grad || out.impl_ptr().use_count() > 1) {
    result = make_view(out, out.sizes(), out.strides(), out.offset());
  }
  result.impl()->grad_fn = node;
  result.impl()->requires_grad = true;
  return result;
}

}  // namespace autograd
}  // namespace duel
