// Module bookkeeping: registration, traversal, placement, state dicts, printing.
#include "nn/module.h"

#include <cxxabi.h>

#include <cstdlib>
#include <ostream>
#include <set>
#include <sstream>
#include <typeinfo>

#include "autograd/grad_mode.h"

namespace duel::nn {
namespace {

void check_name(const std::string& name, const char* what) {
  DUEL_CHECK(!name.empty(), "Module::", what, ": the name must not be empty");
  DUEL_CHECK(name.find('.') == std::string::npos, "Module::", what, ": name '", name,
             "' must not contain '.' (dots separate the levels of a dotted parameter path)");
}

std::string indent(const std::string& s) {
  // indents every line but the first by two spaces (as torch's _addindent)
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '\n') out += "  ";
  }
  return out;
}

}  // namespace

Tensor Module::forward(const Tensor&) {
  DUEL_FAIL("Module::forward: not implemented for ", type_name(),
            " (it has no single-input forward; override forward() or call its specific methods)");
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_name(name, "register_module");
  DUEL_CHECK(module != nullptr, "Module::register_module: module '", name, "' is null");
  for (auto& [n, m] : children_) DUEL_CHECK(n != name, "Module::register_module: '", name, "' is already registered");
  for (auto& [n, t] : params_) DUEL_CHECK(n != name, "Module::register_module: '", name, "' is already a parameter");
  // give the child's tensors their full names (used in error messages)
  for (auto& [n, t] : module->named_parameters()) t.impl()->name = name + "." + n;
  for (auto& [n, t] : module->named_buffers()) t.impl()->name = name + "." + n;
  children_.emplace_back(name, std::move(module));
}

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  check_name(name, "register_parameter");
  for (auto& [n, p] : params_) DUEL_CHECK(n != name, "Module::register_parameter: '", name, "' is already registered");
  for (auto& [n, b] : buffers_) DUEL_CHECK(n != name, "Module::register_parameter: '", name, "' is already a buffer");
  if (!t.defined()) return t;
  DUEL_CHECK(is_floating(t.dtype()), "Module::register_parameter: parameter '", name,
             "' must be float32 or float64, got ", dtype_name(t.dtype()));
  if (!t.is_leaf()) t = t.detach();
  t.set_requires_grad(requires_grad);
  t.set_name(name);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_name(name, "register_buffer");
  for (auto& [n, b] : buffers_) DUEL_CHECK(n != name, "Module::register_buffer: '", name, "' is already registered");
  for (auto& [n, p] : params_) DUEL_CHECK(n != name, "Module::register_buffer: '", name, "' is already a parameter");
  if (!t.defined()) return t;
  if (!t.is_leaf() || t.requires_grad()) t = t.detach();
  t.set_name(name);
  buffers_.emplace_back(name, t);
  return t;
}

void Module::collect(const std::string& prefix, bool params, bool recurse,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
  for (auto& [n, t] : params ? params_ : buffers_) out.emplace_back(prefix + n, t);
  if (!recurse) return;
  for (auto& [n, m] : children_) m->collect(prefix + n + ".", params, true, out);
}

namespace {
std::vector<std::pair<std::string, Tensor>> dedupe(std::vector<std::pair<std::string, Tensor>> all) {
  std::set<const TensorImpl*> seen;
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& e : all)
    if (seen.insert(e.second.impl()).second) out.push_back(std::move(e));
  return out;
}
std::vector<Tensor> values(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<Tensor> out;
  out.reserve(named.size());
  for (auto& e : named) out.push_back(e.second);
  return out;
}
}  // namespace

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> all;
  collect("", true, recurse, all);
  return dedupe(std::move(all));
}
std::vector<Tensor> Module::parameters(bool recurse) const { return values(named_parameters(recurse)); }

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> all;
  collect("", false, recurse, all);
  return dedupe(std::move(all));
}
std::vector<Tensor> Module::buffers(bool recurse) const { return values(named_buffers(recurse)); }

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (auto& [n, m] : children_) out.push_back(m);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() const {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  for (auto& [n, m] : children_) {
    out.emplace_back(n, m);
    for (auto& [cn, cm] : m->named_modules()) out.emplace_back(n + "." + cn, cm);
  }
  return out;
}

void Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& [n, m] : children_) m->apply(fn);
  fn(*this);
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, m] : children_) m->train(on);
}

void replace_tensor_data(const Tensor& dst, const Tensor& src) {
  TensorImpl* d = dst.impl();
  d->storage = src.storage();
  d->sizes = src.sizes();
  d->strides = src.strides();
  d->offset = src.offset();
  d->dtype = src.dtype();
  d->grad = nullptr;
}

Module& Module::to(Device device) {
  NoGradGuard ng;
  for (auto* list : {&params_, &buffers_})
    for (auto& [n, t] : *list)
      if (t.device() != device) replace_tensor_data(t, t.detach().to(device));
  for (auto& [n, m] : children_) m->to(device);
  return *this;
}

Module& Module::to(DType dtype) {
  DUEL_CHECK(is_floating(dtype), "Module::to: expected a floating dtype, got ", dtype_name(dtype));
  NoGradGuard ng;
  for (auto* list : {&params_, &buffers_})
    for (auto& [n, t] : *list)
      if (is_floating(t.dtype()) && t.dtype() != dtype) replace_tensor_data(t, t.detach().to(dtype));
  for (auto& [n, m] : children_) m->to(dtype);
  return *this;
}

StateDict Module::state_dict() const {
  std::vector<std::pair<std::string, Tensor>> all;
  collect("", true, true, all);
  collect("", false, true, all);
  StateDict out;
  for (auto& [n, t] : all) out[n] = t.detach();
  return out;
}

void Module::load_state_dict(const StateDict& state, bool strict) {
  std::vector<std::pair<std::string, Tensor>> own;
  collect("", true, true, own);
  collect("", false, true, own);

  std::vector<std::string> missing, unexpected, mismatched;
  std::set<std::string> own_names;
  for (auto& [name, t] : own) {
    own_names.insert(name);
    auto it = state.find(name);
    if (it == state.end()) {
      missing.push_back(name);
      continue;
    }
    const Tensor& src = it->second;
    if (!src.defined()) {
      mismatched.push_back("for '" + name + "': the checkpoint's tensor is undefined");
    } else if (src.sizes() != t.sizes()) {
      mismatched.push_back("for '" + name + "': copying a tensor of shape " + shape_str(src.sizes()) +
                           " from the checkpoint, the shape in the current model is " + shape_str(t.sizes()));
    } else if (src.dtype() != t.dtype()) {
      mismatched.push_back("for '" + name + "': the checkpoint's tensor has dtype " + dtype_name(src.dtype()) +
                           " (shape " + shape_str(src.sizes()) + "), the current model's has dtype " +
                           dtype_name(t.dtype()) + " (shape " + shape_str(t.sizes()) + ")");
    }
  }
  for (auto& [name, t] : state)
    if (!own_names.count(name)) unexpected.push_back(name);

  std::ostringstream err;
  if (!mismatched.empty()) {
    for (auto& m : mismatched) err << "\n  size/dtype mismatch " << m;
  }
  if (strict) {
    if (!missing.empty()) {
      err << "\n  missing keys:";
      for (auto& k : missing) err << " '" << k << "'";
    }
    if (!unexpected.empty()) {
      err << "\n  unexpected keys:";
      for (auto& k : unexpected) err << " '" << k << "'";
    }
  }
  DUEL_CHECK(err.str().empty(), "load_state_dict: error(s) loading the state dict into ", type_name(), ":",
             err.str());

  NoGradGuard ng;
  for (auto& [name, t] : own) {
    auto it = state.find(name);
    if (it == state.end()) continue;
    if (it->second.is_same(t) || (it->second.storage() == t.storage() && it->second.offset() == t.offset() &&
                                  it->second.strides() == t.strides()))
      continue;  // loading a model's own state dict
    Tensor dst = t;
    dst.copy_(it->second);
  }
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t n = 0;
  for (auto& p : parameters())
    if (!trainable_only || p.requires_grad()) n += p.numel();
  return n;
}

void Module::zero_grad() {
  for (auto& p : parameters()) p.zero_grad();
}

std::string Module::type_name() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  char* dem = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string s = (status == 0 && dem) ? dem : mangled;
  std::free(dem);
  // strip namespaces (keeping template arguments intact)
  size_t end = s.find('<');
  size_t pos = s.rfind("::", end);
  if (pos != std::string::npos) s = s.substr(pos + 2);
  return s;
}

std::string Module::repr() const {
  std::string out = type_name() + "(";
  std::string extra = extra_repr();
  if (children_.empty()) return out + extra + ")";
  if (!extra.empty()) out += "\n  " + indent(extra);
  for (auto& [n, m] : children_) out += "\n  (" + n + "): " + indent(m->repr());
  return out + "\n)";
}

std::ostream& operator<<(std::ostream& os, const Module& m) { return os << m.repr(); }

// ---------------------------------------------------------------- containers

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) {
  for (auto& m : modules) push_back(m);
}
Sequential::Sequential(const std::vector<std::shared_ptr<Module>>& modules) {
  for (auto& m : modules) push_back(m);
}

const std::shared_ptr<Module>& Sequential::operator[](size_t i) const {
  DUEL_CHECK(i < modules_.size(), "Sequential: index ", i, " is out of range (size ", modules_.size(), ")");
  return modules_[i];
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& m : modules_) y = m->forward(y);
  return y;
}

ModuleList::ModuleList(std::initializer_list<std::shared_ptr<Module>> modules) {
  for (auto& m : modules) push_back(m);
}

const std::shared_ptr<Module>& ModuleList::operator[](size_t i) const {
  DUEL_CHECK(i < modules_.size(), "ModuleList: index ", i, " is out of range (size ", modules_.size(), ")");
  return modules_[i];
}

}  // namespace duel::nn
