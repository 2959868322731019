// Tensor handles: metadata, creation, views (with their backward formulas),
// conversions and in-place ops.
#include "tensor/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>
#include <type_traits>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/dispatch.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/linalg.h"
#include "tensor/ops/reduction.h"
#include "tensor/ops/shape_ops.h"

namespace duel {

// ---------------------------------------------------------------- metadata

int64_t Tensor::size(int64_t d) const { return sizes()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t d = dim() - 1; d >= 0; --d) {
    if (sizes()[d] == 1) continue;
    if (strides()[d] != expected) return false;
    expected *= sizes()[d];
  }
  return true;
}

std::string Tensor::str() const {
  if (!defined()) return "Tensor(undefined)";
  return "Tensor" + shape_str(sizes()) + " " + dtype_name(dtype()) + " " + device().str();
}

Tensor make_view(const Tensor& base, Shape sizes, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->sizes = std::move(sizes);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(impl);
}

// ---------------------------------------------------------------- creation

Tensor empty(const Shape& shape, TensorOptions opts) {
  for (auto s : shape) DUEL_CHECK(s >= 0, "empty: negative size in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(shape_numel(shape) * element_size(opts.dtype), opts.device);
  impl->sizes = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = opts.dtype;
  impl->requires_grad = opts.requires_grad;
  return Tensor(impl);
}

Tensor full(const Shape& shape, double value, TensorOptions opts) {
  bool rg = opts.requires_grad;
  opts.requires_grad = false;
  Tensor t = empty(shape, opts);
  DUEL_KERNEL(t.device(), fill, t, value);
  if (rg) t.requires_grad_();
  return t;
}
Tensor zeros(const Shape& shape, TensorOptions opts) { return full(shape, 0.0, opts); }
Tensor ones(const Shape& shape, TensorOptions opts) { return full(shape, 1.0, opts); }
Tensor scalar_tensor(double value, TensorOptions opts) { return full({}, value, opts); }
namespace {
// Moves a freshly built CPU tensor to opts.device and applies opts.requires_grad.
Tensor finish(Tensor t, const TensorOptions& opts) {
  Tensor r = t.to(opts.device);
  if (opts.requires_grad) r.requires_grad_();
  return r;
}
// double -> element type; bool is "non-zero" (a plain cast would turn 0.5 into false)
template <class T>
T element_cast(double v) {
  if constexpr (std::is_same_v<T, uint8_t>) return v != 0.0 ? 1 : 0;
  else return static_cast<T>(v);
}
}  // namespace

Tensor eye(int64_t n, TensorOptions opts) {
  Tensor t = zeros({n, n}, TensorOptions(opts.dtype));
  DUEL_DISPATCH_ALL(t.dtype(), "eye", [&] {
    for (int64_t i = 0; i < n; ++i) t.data<scalar_t>()[i * n + i] = 1;
  });
  return finish(t, opts);
}
Tensor zeros_like(const Tensor& t) { return zeros(t.sizes(), TensorOptions(t.dtype(), t.device())); }
Tensor ones_like(const Tensor& t) { return ones(t.sizes(), TensorOptions(t.dtype(), t.device())); }
Tensor empty_like(const Tensor& t) { return empty(t.sizes(), TensorOptions(t.dtype(), t.device())); }
Tensor full_like(const Tensor& t, double v) { return full(t.sizes(), v, TensorOptions(t.dtype(), t.device())); }

Tensor arange(double start, double end, double step, TensorOptions opts) {
  DUEL_CHECK(step != 0, "arange: step must be non-zero");
  int64_t n = std::max<int64_t>(0, (int64_t)std::ceil((end - start) / step));
  Tensor t = empty({n}, TensorOptions(opts.dtype));
  DUEL_DISPATCH_ALL(t.dtype(), "arange", [&] {
    for (int64_t i = 0; i < n; ++i) t.data<scalar_t>()[i] = element_cast<scalar_t>(start + i * step);
  });
  return finish(t, opts);
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions opts) {
  DUEL_CHECK(steps >= 0, "linspace: steps must be >= 0, got ", steps);
  Tensor t = empty({steps}, TensorOptions(opts.dtype));
  DUEL_DISPATCH_FLOATING(t.dtype(), "linspace", [&] {
    for (int64_t i = 0; i < steps; ++i)
      t.data<scalar_t>()[i] = static_cast<scalar_t>(steps == 1 ? start : start + (end - start) * i / (steps - 1));
  });
  return finish(t, opts);
}

namespace {
template <class V>
Tensor from_values(const std::vector<V>& values, const Shape& shape_in, TensorOptions opts) {
  Shape shape = shape_in.empty() ? Shape{(int64_t)values.size()} : shape_in;
  DUEL_CHECK(shape_numel(shape) == (int64_t)values.size(), "from_vector: ", values.size(),
             " values do not fill shape ", shape_str(shape), " (", shape_numel(shape), " elements)");
  Tensor t = empty(shape, TensorOptions(opts.dtype));
  DUEL_DISPATCH_ALL(t.dtype(), "from_vector", [&] {
    scalar_t* p = t.data<scalar_t>();
    if constexpr (std::is_same_v<V, int64_t> && std::is_same_v<scalar_t, int64_t>) {
      // exact: a detour through double would round integers beyond 2^53 (e.g. 64-bit seeds)
      std::copy(values.begin(), values.end(), p);
    } else {
      for (size_t i = 0; i < values.size(); ++i) p[i] = element_cast<scalar_t>((double)values[i]);
    }
  });
  return finish(t, opts);
}
}  // namespace

Tensor from_vector(const std::vector<double>& v, const Shape& s, TensorOptions o) { return from_values(v, s, o); }
Tensor from_vector(const std::vector<float>& v, const Shape& s, TensorOptions o) { return from_values(v, s, o); }
Tensor from_vector(const std::vector<int64_t>& v, const Shape& s, TensorOptions o) {
  // like the other overloads, the dtype is opts.dtype (float32 unless given): pass kInt64 for
  // an int64 tensor, which then holds the values exactly
  return from_values(v, s, o);
}
Tensor tensor(std::initializer_list<double> values, TensorOptions opts) {
  return from_values(std::vector<double>(values), {}, opts);
}
Tensor tensor(std::initializer_list<std::initializer_list<double>> rows, TensorOptions opts) {
  std::vector<double> v;
  int64_t cols = rows.size() ? (int64_t)rows.begin()->size() : 0;
  for (auto& r : rows) {
    DUEL_CHECK((int64_t)r.size() == cols, "tensor: ragged rows (expected ", cols, " values per row, got ", r.size(), ")");
    v.insert(v.end(), r.begin(), r.end());
  }
  return from_values(v, {(int64_t)rows.size(), cols}, opts);
}

Tensor from_buffer(const void* data, const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, TensorOptions(dtype, device));
  allocator_for(device).copy_from_host(t.raw_data(), data, t.numel() * element_size(dtype));
  return t;
}

void copy_to_buffer(const Tensor& t, void* dst) {
  Tensor c = t.contiguous();
  allocator_for(c.device()).copy_to_host(dst, c.raw_data(), c.numel() * c.element_size());
}

Tensor from_blob(void* data, const Shape& shape, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(data, shape_numel(shape) * element_size(dtype), kCPU);
  impl->sizes = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

// ---------------------------------------------------------------- scalars, conversion

double Tensor::item() const {
  DUEL_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ", shape_str(sizes()));
  Tensor c = to(kCPU);
  return DUEL_DISPATCH_ALL(c.dtype(), "item", [&]() -> double { return (double)*c.data<scalar_t>(); });
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(sizes(), TensorOptions(dtype(), device()));
  DUEL_KERNEL(device(), copy, *this, out);
  return autograd::record("clone", out, {*this}, [](const Tensor& g, const NeedsGrad&) { return TensorList{g}; });
}

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  return cast(*this, t);
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  Tensor src = contiguous();
  Tensor out = empty(sizes(), TensorOptions(dtype(), d));
  size_t n = numel() * element_size();
  if (src.device().is_cpu()) {
    allocator_for(d).copy_from_host(out.raw_data(), src.raw_data(), n);
  } else if (d.is_cpu()) {
    allocator_for(src.device()).copy_to_host(out.raw_data(), src.raw_data(), n);
  } else {
    std::vector<char> host(n);
    allocator_for(src.device()).copy_to_host(host.data(), src.raw_data(), n);
    allocator_for(d).copy_from_host(out.raw_data(), host.data(), n);
  }
  Device from = device();
  return autograd::record("to_device", out, {*this},
                          [from](const Tensor& g, const NeedsGrad&) { return TensorList{g.to(from)}; });
}

// ---------------------------------------------------------------- autograd members

bool Tensor::requires_grad() const { return impl_->requires_grad || impl_->grad_fn != nullptr; }

Tensor& Tensor::requires_grad_(bool on) {
  set_requires_grad(on);
  return *this;
}

const Tensor& Tensor::set_requires_grad(bool on) const {
  DUEL_CHECK(is_leaf(), "requires_grad_: can only be set on leaf tensors (this ", str(),
             " was produced by op '", impl_->grad_fn->name, "'); use detach() first");
  DUEL_CHECK(!on || is_floating(dtype()), "requires_grad_: only floating tensors can require gradients, got ",
             dtype_name(dtype()));
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return impl_->grad ? Tensor(impl_->grad) : Tensor(); }
void Tensor::set_grad(const Tensor& g) const { impl_->grad = g.defined() ? g.impl_ptr() : nullptr; }
void Tensor::zero_grad() const { impl_->grad = nullptr; }

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  autograd::backward({*this}, {gradient}, retain_graph, create_graph);
}

Tensor Tensor::detach() const {
  Tensor t = make_view(*this, sizes(), strides(), offset());
  return t;
}

// ---------------------------------------------------------------- views

namespace {
// Strides for viewing (sizes, strides) as new_sizes without copying, or empty if impossible.
std::optional<Shape> view_strides(const Shape& sizes, const Shape& strides, const Shape& new_sizes) {
  if (shape_numel(sizes) == 0 || sizes.empty()) return contiguous_strides(new_sizes);
  Shape new_strides(new_sizes.size());
  // Walk chunks of old dims that are contiguous among themselves (as in PyTorch's computeStride).
  int64_t view_d = (int64_t)new_sizes.size() - 1;
  int64_t chunk_base_stride = strides.empty() ? 1 : strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = (int64_t)sizes.size() - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= sizes[tensor_d];
    if (tensor_d == 0 || (sizes[tensor_d - 1] != 1 && strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_sizes[view_d] == 1)) {
        new_strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_sizes[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (tensor_d > 0) {
        chunk_base_stride = strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return new_strides;
}

Shape infer_size(const Shape& shape, int64_t numel, const char* op, const Shape& from) {
  Shape out = shape;
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      DUEL_CHECK(infer < 0, op, ": only one dim can be -1 in ", shape_str(shape));
      infer = (int64_t)i;
    } else {
      DUEL_CHECK(out[i] >= 0, op, ": invalid size in ", shape_str(shape));
      known *= out[i];
    }
  }
  if (infer >= 0) {
    DUEL_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape_str(shape), " is invalid for input of shape ",
               shape_str(from), " (", numel, " elements)");
    out[infer] = numel / known;
  }
  DUEL_CHECK(shape_numel(out) == numel, op, ": shape ", shape_str(shape), " is invalid for input of shape ",
             shape_str(from), " (", numel, " elements)");
  return out;
}

Tensor reshape_backward_view(const Tensor& self, const Tensor& out, const char* op) {
  Shape in = self.sizes();
  return autograd::record(op, out, {self},
                          [in](const Tensor& g, const NeedsGrad&) { return TensorList{g.reshape(in)}; });
}
}  // namespace

Tensor Tensor::view(const Shape& shape) const {
  Shape ns = infer_size(shape, numel(), "view", sizes());
  auto st = view_strides(sizes(), strides(), ns);
  DUEL_CHECK(st.has_value(), "view: cannot view a tensor of shape ", shape_str(sizes()), " with strides ",
             shape_str(strides()), " as ", shape_str(ns),
             " without copying (its memory is not laid out compatibly); use reshape() or contiguous() first");
  return reshape_backward_view(*this, make_view(*this, ns, *st, offset()), "view");
}

Tensor Tensor::reshape(const Shape& shape) const {
  Shape ns = infer_size(shape, numel(), "reshape", sizes());
  if (ns == sizes()) return *this;
  auto st = view_strides(sizes(), strides(), ns);
  if (st) return reshape_backward_view(*this, make_view(*this, ns, *st, offset()), "reshape");
  return contiguous().view(ns);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  int64_t s = wrap_dim(start_dim, dim(), "flatten"), e = wrap_dim(end_dim, dim(), "flatten");
  DUEL_CHECK(s <= e, "flatten: start_dim ", start_dim, " is after end_dim ", end_dim);
  Shape ns(sizes().begin(), sizes().begin() + s);
  int64_t m = 1;
  for (int64_t d = s; d <= e; ++d) m *= sizes()[d];
  ns.push_back(m);
  ns.insert(ns.end(), sizes().begin() + e + 1, sizes().end());
  return reshape(ns);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  DUEL_CHECK((int64_t)dims.size() == dim(), "permute: expected ", dim(), " dims for a tensor of shape ",
             shape_str(sizes()), ", got ", dims.size());
  Shape ns(dim()), nst(dim());
  std::vector<int64_t> inverse(dim(), -1);
  for (int64_t i = 0; i < dim(); ++i) {
    int64_t d = wrap_dim(dims[i], dim(), "permute");
    DUEL_CHECK(inverse[d] < 0, "permute: dim ", d, " appears twice");
    inverse[d] = i;
    ns[i] = sizes()[d];
    nst[i] = strides()[d];
  }
  Tensor out = make_view(*this, ns, nst, offset());
  return autograd::record("permute", out, {*this},
                          [inverse](const Tensor& g, const NeedsGrad&) { return TensorList{g.permute(inverse)}; });
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  std::vector<int64_t> p(dim());
  std::iota(p.begin(), p.end(), 0);
  if (dim() == 0) return *this;
  std::swap(p[wrap_dim(d0, dim(), "transpose")], p[wrap_dim(d1, dim(), "transpose")]);
  return permute(p);
}

Tensor Tensor::t() const {
  DUEL_CHECK(dim() <= 2, "t: expected a tensor with <= 2 dims, got shape ", shape_str(sizes()));
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = wrap_dim(d, dim(), "slice");
  DUEL_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t n = sizes()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape ns = sizes(), nst = strides();
  ns[d] = (end - start + step - 1) / step;
  nst[d] = strides()[d] * step;
  Tensor out = make_view(*this, ns, nst, offset() + start * strides()[d]);
  Shape in = sizes();
  DType dt = dtype();
  Device dev = device();
  return autograd::record("slice", out, {*this}, [=](const Tensor& g, const NeedsGrad&) {
    return TensorList{slice_scatter(zeros(in, TensorOptions(dt, dev)), g, d, start, end, step)};
  });
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  d = wrap_dim(d, dim(), "narrow");
  DUEL_CHECK(start >= 0 && length >= 0 && start + length <= sizes()[d], "narrow: range [", start, ", ",
             start + length, ") is out of bounds for dim ", d, " of size ", sizes()[d], " (shape ",
             shape_str(sizes()), ")");
  return slice(d, start, start + length);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d, dim(), "select");
  int64_t n = sizes()[d];
  DUEL_CHECK(index >= -n && index < n, "select: index ", index, " is out of bounds for dim ", d, " of size ", n,
             " (shape ", shape_str(sizes()), ")");
  if (index < 0) index += n;
  return slice(d, index, index + 1).squeeze(d);
}

Tensor Tensor::expand(const Shape& shape) const {
  DUEL_CHECK(shape.size() >= sizes().size(), "expand: cannot expand shape ", shape_str(sizes()), " to ",
             shape_str(shape), " (fewer dims)");
  size_t off = shape.size() - sizes().size();
  Shape ns(shape.size()), nst(shape.size(), 0);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < off) {
      DUEL_CHECK(shape[i] >= 0, "expand: -1 is not allowed for new leading dims in ", shape_str(shape));
      ns[i] = shape[i];
      continue;
    }
    int64_t cur = sizes()[i - off];
    int64_t want = shape[i] == -1 ? cur : shape[i];
    if (cur == want) {
      ns[i] = cur;
      nst[i] = strides()[i - off];
    } else {
      DUEL_CHECK(cur == 1, "expand: the expanded size ", want, " must match the existing size ", cur,
                 " at non-singleton dim ", i, " (from ", shape_str(sizes()), " to ", shape_str(shape), ")");
      ns[i] = want;
    }
  }
  if (ns == sizes()) return *this;
  Tensor out = make_view(*this, ns, nst, offset());
  Shape in = sizes();
  return autograd::record("expand", out, {*this},
                          [in](const Tensor& g, const NeedsGrad&) { return TensorList{sum_to(g, in)}; });
}

Tensor Tensor::squeeze() const {
  Shape ns;
  for (auto s : sizes())
    if (s != 1) ns.push_back(s);
  return reshape(ns);
}

Tensor Tensor::squeeze(int64_t d) const {
  if (dim() == 0) return *this;
  d = wrap_dim(d, dim(), "squeeze");
  if (sizes()[d] != 1) return *this;
  Shape ns = sizes(), nst = strides();
  ns.erase(ns.begin() + d);
  nst.erase(nst.begin() + d);
  return reshape_backward_view(*this, make_view(*this, ns, nst, offset()), "squeeze");
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape ns = sizes(), nst = strides();
  int64_t st = d < dim() ? sizes()[d] * strides()[d] : 1;
  ns.insert(ns.begin() + d, 1);
  nst.insert(nst.begin() + d, st);
  return reshape_backward_view(*this, make_view(*this, ns, nst, offset()), "unsqueeze");
}

// ---------------------------------------------------------------- member sugar

Tensor Tensor::sum(const std::vector<int64_t>& dims, bool keepdim) const { return duel::sum(*this, dims, keepdim); }
Tensor Tensor::mean(const std::vector<int64_t>& dims, bool keepdim) const { return duel::mean(*this, dims, keepdim); }
Tensor Tensor::exp() const { return duel::exp(*this); }
Tensor Tensor::log() const { return duel::log(*this); }
Tensor Tensor::sqrt() const { return duel::sqrt(*this); }
Tensor Tensor::abs() const { return duel::abs(*this); }
Tensor Tensor::pow(double p) const { return duel::pow(*this, p); }
Tensor Tensor::matmul(const Tensor& o) const { return duel::matmul(*this, o); }

// ---------------------------------------------------------------- in-place

namespace {
void check_inplace(const Tensor& self, const char* op, const Tensor* other = nullptr) {
  if (!GradMode::is_enabled()) return;
  bool self_rg = self.requires_grad();
  bool other_rg = other && other->defined() && other->requires_grad();
  DUEL_CHECK(!self_rg && !other_rg, op, ": in-place update of ", self.str(),
             self_rg ? " (which requires grad)" : "", other_rg ? " from a tensor that requires grad" : "",
             " while recording a graph is not supported; wrap it in duel::NoGradGuard (e.g. optimizer steps, "
             "weight clipping) or use the out-of-place op");
}
}  // namespace

Tensor& Tensor::add_(const Tensor& o, double alpha) {
  check_inplace(*this, "add_", &o);
  Tensor src = o.device() == device() && o.dtype() == dtype() ? o : o.to(dtype()).to(device());
  (void)broadcast_shapes(sizes(), src.sizes(), "add_");
  DUEL_CHECK(is_broadcastable_to(src.sizes(), sizes()), "add_: cannot broadcast ", shape_str(src.sizes()),
             " into the in-place target of shape ", shape_str(sizes()));
  DUEL_KERNEL(device(), binary, BinaryOp::Add, *this, src, *this, alpha);
  bump_version();
  return *this;
}

Tensor& Tensor::add_(double v) {
  check_inplace(*this, "add_");
  DUEL_KERNEL(device(), unary, UnaryOp::AddScalar, *this, *this, UnaryParams{v, 0});
  bump_version();
  return *this;
}

Tensor& Tensor::mul_(const Tensor& o) {
  check_inplace(*this, "mul_", &o);
  Tensor src = o.device() == device() && o.dtype() == dtype() ? o : o.to(dtype()).to(device());
  DUEL_CHECK(is_broadcastable_to(src.sizes(), sizes()), "mul_: cannot broadcast ", shape_str(src.sizes()),
             " into the in-place target of shape ", shape_str(sizes()));
  DUEL_KERNEL(device(), binary, BinaryOp::Mul, *this, src, *this, 1.0);
  bump_version();
  return *this;
}

Tensor& Tensor::mul_(double v) {
  check_inplace(*this, "mul_");
  DUEL_KERNEL(device(), unary, UnaryOp::MulScalar, *this, *this, UnaryParams{v, 0});
  bump_version();
  return *this;
}

Tensor& Tensor::zero_() { return fill_(0.0); }

Tensor& Tensor::fill_(double v) {
  check_inplace(*this, "fill_");
  DUEL_KERNEL(device(), fill, *this, v);
  bump_version();
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_", &src);
  DUEL_CHECK(is_broadcastable_to(src.sizes(), sizes()), "copy_: cannot copy a tensor of shape ",
             shape_str(src.sizes()), " into one of shape ", shape_str(sizes()));
  Tensor s = src.device() == device() ? src : src.to(device());
  DUEL_KERNEL(device(), copy, s, *this);
  bump_version();
  return *this;
}

Tensor& Tensor::clamp_(double lo, double hi) {
  check_inplace(*this, "clamp_");
  DUEL_CHECK(lo <= hi, "clamp_: lo (", lo, ") must be <= hi (", hi, ")");
  DUEL_KERNEL(device(), unary, UnaryOp::Clamp, *this, *this, UnaryParams{lo, hi});
  bump_version();
  return *this;
}

}  // namespace duel
