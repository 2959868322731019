// duel::nn::Module: the base class of layers and models (like torch.nn.Module).
//
// A module owns named parameters (trainable tensors), named buffers (state that
// is saved but not trained, e.g. BatchNorm's running statistics) and named child
// modules. Parameter names are dotted paths ("block.0.weight") and match
// PyTorch's, so a PyTorch state_dict can be loaded key for key.
//
//   struct Net : nn::Module {
//     std::shared_ptr<nn::Linear> fc1, fc2;
//     Net() {
//       fc1 = register_module("fc1", std::make_shared<nn::Linear>(4, 8));
//       fc2 = register_module("fc2", std::make_shared<nn::Linear>(8, 2));
//     }
//     Tensor forward(const Tensor& x) override { return (*fc2)(relu((*fc1)(x))); }
//   };
//
// Parameters are ordinary Tensor handles: a layer keeps one as a member
// (`weight`) and the module's registry keeps another handle to the same
// TensorImpl. to(Device) / to(DType) swap the storage *inside* that TensorImpl,
// so every handle (the layer's member, an optimizer's parameter list) stays
// valid. Optimizer state (momentum buffers, ...) is created lazily on the first
// step in the parameter's dtype and device: call to() before the first step.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace duel::nn {

// Name -> tensor, ordered by name (parameters and buffers, detached).
using StateDict = std::map<std::string, Tensor>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  // Modules are handles to parameters: copying one would silently share its
  // weights, so copying is disabled. Build a second instance and use
  // hard_update / load_state_dict to duplicate weights (e.g. a target network).
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // ---- computation ----
  // Single-input forward; the default throws (containers such as ModuleList have none).
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  // ---- registration (call from the constructor of a subclass) ----
  // Registers `t` as a trainable parameter: sets requires_grad and names the
  // tensor (the name shows up in error messages). Returns the stored handle.
  // An undefined tensor is skipped (e.g. bias=false) and returned as is.
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  // ---- traversal (recursive, in registration order) ----
  // Shared tensors (the same TensorImpl reached twice) are listed once.
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  // Every module below this one (not including this one), depth first, with dotted names.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules() const;
  // Calls fn on every descendant (children first) and then on this module, like torch's
  // Module.apply. Use dynamic_cast to select layers (e.g. DCGAN's weights_init).
  void apply(const std::function<void(Module&)>& fn);

  // ---- mode ----
  virtual void train(bool on = true);  // recursive
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // ---- placement (in place: existing handles stay valid; gradients are dropped) ----
  // to(DType) converts floating parameters and buffers only (integer buffers keep their type).
  Module& to(Device device);
  Module& to(DType dtype);

  // ---- checkpoints ----
  // Parameters and buffers under their dotted names, detached (sharing storage).
  StateDict state_dict() const;
  // Copies values into the existing tensors. strict: every key must be present
  // and no extra keys are allowed. Shape and dtype must match exactly; errors
  // name the key and both shapes/dtypes. Nothing is copied when a check fails.
  void load_state_dict(const StateDict& state, bool strict = true);

  int64_t num_parameters(bool trainable_only = false) const;  // total element count
  void zero_grad();  // drops every parameter's gradient (sets it undefined)

  // ---- printing ----
  // PyTorch-like multi-line summary, e.g. "Sequential(\n  (0): Linear(in_features=4, ...)\n)".
  std::string repr() const;
  // The class name without namespaces (from RTTI), e.g. "Linear"; override to rename.
  virtual std::string type_name() const;
  virtual std::string extra_repr() const { return ""; }

 protected:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  bool training_ = true;

 private:
  void collect(const std::string& prefix, bool params, bool recurse,
               std::vector<std::pair<std::string, Tensor>>& out) const;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

std::ostream& operator<<(std::ostream& os, const Module& m);

// Replaces the contents of `dst`'s TensorImpl (storage, geometry, dtype) with
// those of `src`, so every handle to dst now sees src's data. Drops dst's grad.
void replace_tensor_data(const Tensor& dst, const Tensor& src);

// ---------------------------------------------------------------- containers

// Calls its children in order: Sequential({a, b, c})(x) == c(b(a(x))).
// Children are named "0", "1", ... like torch.nn.Sequential.
class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);
  explicit Sequential(const std::vector<std::shared_ptr<Module>>& modules);
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    add_child(std::to_string(modules_.size()), module);
    modules_.push_back(module);
    return module;
  }
  // Constructs the module in place: seq.emplace_back<nn::Linear>(4, 8).
  template <class M, class... Args>
  std::shared_ptr<M> emplace_back(Args&&... args) {
    return push_back(std::make_shared<M>(std::forward<Args>(args)...));
  }
  size_t size() const { return modules_.size(); }
  const std::shared_ptr<Module>& operator[](size_t i) const;
  template <class M>
  std::shared_ptr<M> at(size_t i) const {
    auto p = std::dynamic_pointer_cast<M>((*this)[i]);
    DUEL_CHECK(p, "Sequential::at: module ", i, " (", (*this)[i]->type_name(), ") is not of the requested type");
    return p;
  }
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

// A list of modules whose parameters are registered ("0.weight", ...). No forward.
class ModuleList : public Module {
 public:
  ModuleList() = default;
  ModuleList(std::initializer_list<std::shared_ptr<Module>> modules);
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    add_child(std::to_string(modules_.size()), module);
    modules_.push_back(module);
    return module;
  }
  size_t size() const { return modules_.size(); }
  const std::shared_ptr<Module>& operator[](size_t i) const;
  // Typed access: list.at<nn::Linear>(0) (throws if the module is of another type).
  template <class M>
  std::shared_ptr<M> at(size_t i) const {
    auto p = std::dynamic_pointer_cast<M>((*this)[i]);
    DUEL_CHECK(p, "ModuleList::at: module ", i, " (", (*this)[i]->type_name(), ") is not of the requested type");
    return p;
  }
  auto begin() const { return modules_.begin(); }
  auto end() const { return modules_.end(); }
  std::string type_name() const override { return "ModuleList"; }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace duel::nn
