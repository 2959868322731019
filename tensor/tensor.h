// duel::Tensor: a reference-counted handle to a strided view of a Storage,
// plus the autograd metadata (requires_grad, grad, grad_fn).
//
// Copying a Tensor copies the handle, not the data (like torch::Tensor).
// Views (reshape, permute, narrow, expand, ...) share storage with their base.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace duel {

struct Node;  // autograd/node.h
class Tensor;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape sizes;
  Shape strides;  // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;

  // autograd
  bool requires_grad = false;          // meaningful for leaves; non-leaves derive it from grad_fn
  std::shared_ptr<Node> grad_fn;       // null for leaves
  std::shared_ptr<TensorImpl> grad;    // accumulated gradient of a leaf
  std::weak_ptr<Node> grad_accumulator;  // the leaf's AccumulateGrad node, cached
  std::string name;                    // optional, used in error messages (parameters)
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  // ---- metadata ----
  const Shape& sizes() const { return impl_->sizes; }
  const Shape& shape() const { return impl_->sizes; }
  const Shape& strides() const { return impl_->strides; }
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return (int64_t)impl_->sizes.size(); }
  int64_t numel() const { return shape_numel(impl_->sizes); }
  int64_t offset() const { return impl_->offset; }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device; }
  bool is_contiguous() const;
  size_t element_size() const { return duel::element_size(dtype()); }
  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }
  uint64_t version() const { return impl_->storage->version; }
  void bump_version() const { ++impl_->storage->version; }
  std::string str() const;  // short description: "Tensor[2, 3] float32 cpu"

  // Pointer to the first element (storage base + offset). Checks the dtype.
  template <class T>
  T* data() const {
    DUEL_CHECK(dtype_of<T>::value == dtype(), "Tensor::data<T>: tensor has dtype ", dtype_name(dtype()),
               ", requested a different element type");
    return static_cast<T*>(impl_->storage->data) + impl_->offset;
  }
  void* raw_data() const {
    return static_cast<char*>(impl_->storage->data) + impl_->offset * (int64_t)element_size();
  }

  // ---- scalars and host copies ----
  double item() const;  // a one-element tensor's value as double
  template <class T> std::vector<T> to_vector() const;  // row-major copy (converts dtype)

  // ---- conversion ----
  Tensor to(DType t) const;
  Tensor to(Device d) const;
  Tensor contiguous() const;  // itself when already contiguous
  Tensor clone() const;       // always a fresh copy (differentiable)

  // ---- autograd ----
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);  // leaves only
  const Tensor& set_requires_grad(bool on = true) const;
  bool is_leaf() const { return impl_->grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return impl_->grad_fn; }
  Tensor grad() const;                      // undefined when no gradient yet
  void set_grad(const Tensor& g) const;
  void zero_grad() const;                   // drops the gradient (sets it undefined)
  // backward(): scalar outputs only unless `gradient` is given.
  void backward(const Tensor& gradient = {}, bool retain_graph = false, bool create_graph = false) const;
  Tensor detach() const;  // shares storage, no history
  const std::string& name() const { return impl_->name; }
  Tensor& set_name(std::string n) { impl_->name = std::move(n); return *this; }

  // ---- views (no copies; differentiable) ----
  Tensor view(const Shape& shape) const;     // requires compatible strides
  Tensor reshape(const Shape& shape) const;  // view when possible, else copy; one dim may be -1
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;  // 2-D transpose
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor expand(const Shape& shape) const;  // -1 keeps a dim
  Tensor expand_as(const Tensor& other) const { return expand(other.sizes()); }
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor operator[](int64_t index) const { return select(0, index); }

  // ---- common ops as members (see tensor/ops/*.h for all) ----
  Tensor sum(const std::vector<int64_t>& dims = {}, bool keepdim = false) const;
  Tensor mean(const std::vector<int64_t>& dims = {}, bool keepdim = false) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor pow(double p) const;
  Tensor matmul(const Tensor& o) const;

  // ---- in-place (bump the version counter; refuse tensors that need grad while recording) ----
  Tensor& add_(const Tensor& o, double alpha = 1.0);
  Tensor& add_(double v);
  Tensor& sub_(const Tensor& o) { return add_(o, -1.0); }
  Tensor& mul_(const Tensor& o);
  Tensor& mul_(double v);
  Tensor& div_(double v) { return mul_(1.0 / v); }
  Tensor& zero_();
  Tensor& fill_(double v);
  Tensor& copy_(const Tensor& src);  // broadcasts src, converts dtype, crosses devices
  Tensor& clamp_(double lo, double hi);

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// ---- creation ----
struct TensorOptions {
  DType dtype = DType::Float32;
  Device device = kCPU;
  bool requires_grad = false;
  TensorOptions() = default;
  TensorOptions(DType t) : dtype(t) {}  // NOLINT: allows zeros({2}, kFloat64)
  TensorOptions(DType t, Device d) : dtype(t), device(d) {}
};

Tensor empty(const Shape& shape, TensorOptions opts = {});
Tensor zeros(const Shape& shape, TensorOptions opts = {});
Tensor ones(const Shape& shape, TensorOptions opts = {});
Tensor full(const Shape& shape, double value, TensorOptions opts = {});
Tensor scalar_tensor(double value, TensorOptions opts = {});
Tensor arange(double start, double end, double step = 1.0, TensorOptions opts = {});
inline Tensor arange(double end, TensorOptions opts = {}) { return arange(0, end, 1, opts); }
Tensor linspace(double start, double end, int64_t steps, TensorOptions opts = {});
Tensor eye(int64_t n, TensorOptions opts = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor empty_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
// From host values (copied); the shape defaults to 1-D.
Tensor from_vector(const std::vector<double>& values, const Shape& shape = {}, TensorOptions opts = {});
Tensor from_vector(const std::vector<float>& values, const Shape& shape = {}, TensorOptions opts = {});
Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape = {}, TensorOptions opts = {});
Tensor tensor(std::initializer_list<double> values, TensorOptions opts = {});
Tensor tensor(std::initializer_list<std::initializer_list<double>> rows, TensorOptions opts = {});
// Copies raw host memory of `dtype` elements into a new tensor / out of a tensor.
Tensor from_buffer(const void* data, const Shape& shape, DType dtype, Device device = kCPU);
void copy_to_buffer(const Tensor& t, void* dst);  // row-major, tensor's dtype
// Wraps memory owned by the caller without copying (CPU only; caller keeps it alive).
Tensor from_blob(void* data, const Shape& shape, DType dtype);

std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::string to_string(const Tensor& t);  // NumPy-like pretty print

// Builds a view of `base` with new geometry (no autograd; used by view ops and kernels).
Tensor make_view(const Tensor& base, Shape sizes, Shape strides, int64_t offset);

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = to(kCPU).to(dtype_of<T>::value).contiguous();
  const T* p = c.data<T>();
  return std::vector<T>(p, p + c.numel());
}

}  // namespace duel
