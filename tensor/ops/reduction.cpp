// Reductions: forward (kernel) and backward (differentiable formulas).
// sum and amax/amin and max/min-along-a-dim are primitives; mean, var, std,
// logsumexp and norm are composed of them.
#include "tensor/ops/reduction.h"

#include <algorithm>
#include <cmath>

#include "autograd/node.h"
#include "kernels/cpu/reduction.h"
#include "kernels/dispatch.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/shape_ops.h"

namespace duel {
namespace {

Shape keepdim_shape(const Shape& in, const Dims& dims) {
  Shape s = in;
  for (auto d : dims) s[d] = 1;
  return s;
}

Shape reduced_shape(const Shape& in, const Dims& dims, bool keepdim) {
  if (keepdim) return keepdim_shape(in, dims);
  Shape s;
  for (int64_t d = 0; d < (int64_t)in.size(); ++d)
    if (std::find(dims.begin(), dims.end(), d) == dims.end()) s.push_back(in[d]);
  return s;
}

int64_t count_of(const Shape& in, const Dims& dims) {
  int64_t n = 1;
  for (auto d : dims) n *= in[d];
  return n;
}

// Runs a ReduceOp kernel and returns the result with or without kept dims.
Tensor reduce_forward(ReduceOp op, const Tensor& a, const Dims& dims, bool keepdim, const char* name) {
  DUEL_CHECK(a.defined(), name, ": undefined tensor argument");
  DType out_dt = (op == ReduceOp::Sum && !is_floating(a.dtype())) ? kInt64 : a.dtype();
  if (op != ReduceOp::Sum)
    for (auto d : dims)
      DUEL_CHECK(a.sizes()[d] > 0, name, ": cannot reduce over dim ", d, " of size 0 (shape ",
                 shape_str(a.sizes()), ")");
  Tensor out = empty(keepdim_shape(a.sizes(), dims), TensorOptions(out_dt, a.device()));
  DUEL_KERNEL(a.device(), reduce, op, a, out, dims);
  if (!keepdim) out = make_view(out, reduced_shape(a.sizes(), dims, false),
                                contiguous_strides(reduced_shape(a.sizes(), dims, false)), 0);
  return out;
}

// Gradient of a reduction broadcast back to the input's shape.
Tensor expand_back(const Tensor& g, const Shape& in, const Dims& dims) {
  return g.reshape(keepdim_shape(in, dims)).expand(in);
}

}  // namespace

Tensor sum(const Tensor& a, const Dims& dims_in, bool keepdim) {
  Dims dims = wrap_dims(dims_in, a.dim(), "sum");
  Tensor out = reduce_forward(ReduceOp::Sum, a, dims, keepdim, "sum");
  Shape in = a.sizes();
  return autograd::record("sum", out, {a}, [in, dims](const Tensor& g, const NeedsGrad&) {
    return TensorList{expand_back(g, in, dims)};
  });
}

Tensor mean(const Tensor& a, const Dims& dims_in, bool keepdim) {
  Dims dims = wrap_dims(dims_in, a.dim(), "mean");
  DUEL_CHECK(is_floating(a.dtype()), "mean: expected a floating tensor, got ", dtype_name(a.dtype()));
  int64_t n = count_of(a.sizes(), dims);
  return sum(a, dims, keepdim) * (1.0 / (double)n);
}

Tensor var(const Tensor& a, const Dims& dims_in, bool unbiased, bool keepdim) {
  Dims dims = wrap_dims(dims_in, a.dim(), "var");
  int64_t n = count_of(a.sizes(), dims);
  Tensor d = a - mean(a, dims, true);
  return sum(d * d, dims, keepdim) * (1.0 / (double)(n - (unbiased ? 1 : 0)));
}

Tensor std(const Tensor& a, const Dims& dims, bool unbiased, bool keepdim) {
  return sqrt(var(a, dims, unbiased, keepdim));
}

namespace {
Tensor extreme(const Tensor& a, const Dims& dims_in, bool keepdim, bool is_max) {
  const char* name = is_max ? "amax" : "amin";
  Dims dims = wrap_dims(dims_in, a.dim(), name);
  Tensor out = reduce_forward(is_max ? ReduceOp::Max : ReduceOp::Min, a, dims, keepdim, name);
  SavedTensor sa(a, name), sy = autograd::save_output(out, name);
  Shape in = a.sizes();
  return autograd::record(name, out, {a}, [sa, sy, in, dims](const Tensor& g, const NeedsGrad&) {
    // the gradient goes to the extreme elements, shared evenly between ties
    Tensor y = sy.get().reshape(keepdim_shape(in, dims));
    Tensor mask = (sa.get().detach() == y).to(g.dtype());
    Tensor count = sum(mask, dims, true);
    return TensorList{expand_back(g, in, dims) * (mask / count)};
  });
}

std::pair<Tensor, Tensor> extreme_along(const Tensor& a, int64_t dim_in, bool keepdim, bool is_max) {
  const char* name = is_max ? "max" : "min";
  DUEL_CHECK(a.dim() > 0, name, ": expected a tensor with at least one dim for a reduction along a dim");
  int64_t dim = wrap_dim(dim_in, a.dim(), name);
  DUEL_CHECK(a.sizes()[dim] > 0, name, ": cannot reduce over dim ", dim, " of size 0 (shape ", shape_str(a.sizes()), ")");
  Shape ks = keepdim_shape(a.sizes(), {dim});
  Tensor values = empty(ks, TensorOptions(a.dtype(), a.device()));
  Tensor indices = empty(ks, TensorOptions(kInt64, a.device()));
  DUEL_KERNEL(a.device(), arg_reduce, is_max, a, values, indices, dim);
  Tensor idx_keep = indices;
  if (!keepdim) {
    values = values.squeeze(dim);
    indices = indices.squeeze(dim);
  }
  if (is_floating(a.dtype())) {
    Shape in = a.sizes();
    DType dt = a.dtype();
    values = autograd::record(name, values, {a}, [in, dim, idx_keep, ks, dt](const Tensor& g, const NeedsGrad&) {
      Tensor z = zeros(in, TensorOptions(dt, g.device()));
      return TensorList{scatter_add(z, dim, idx_keep, g.reshape(ks))};
    });
  }
  return {values, indices};
}
}  // namespace

Tensor amax(const Tensor& a, const Dims& dims, bool keepdim) { return extreme(a, dims, keepdim, true); }
Tensor amin(const Tensor& a, const Dims& dims, bool keepdim) { return extreme(a, dims, keepdim, false); }
std::pair<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim) { return extreme_along(a, dim, keepdim, true); }
std::pair<Tensor, Tensor> min(const Tensor& a, int64_t dim, bool keepdim) { return extreme_along(a, dim, keepdim, false); }
Tensor max(const Tensor& a) { return amax(a); }
Tensor min(const Tensor& a) { return amin(a); }
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim) { return max(a.detach(), dim, keepdim).second; }
Tensor argmin(const Tensor& a, int64_t dim, bool keepdim) { return min(a.detach(), dim, keepdim).second; }

Tensor logsumexp(const Tensor& a, const Dims& dims_in, bool keepdim) {
  Dims dims = wrap_dims(dims_in, a.dim(), "logsumexp");
  if (count_of(a.sizes(), dims) == 0) return sum(a, dims, keepdim) + (-INFINITY);  // log(0), as in PyTorch
  // shift by the (constant) max for stability; the shift cancels in the gradient
  Tensor m = amax(a.detach(), dims, true);
  m = where((m - m) == zeros_like(m), m, zeros_like(m));  // rows of +-inf: no shift
  Tensor out = log(sum(exp(a - m), dims, true)) + m;
  if (!keepdim) out = out.reshape(reduced_shape(a.sizes(), dims, false));
  return out;
}

Tensor norm(const Tensor& a, double p, const Dims& dims_in, bool keepdim) {
  Dims dims = wrap_dims(dims_in, a.dim(), "norm");
  if (p == 1.0) return sum(abs(a), dims, keepdim);
  DUEL_CHECK(p == 2.0, "norm: only p = 1 and p = 2 are supported, got p = ", p);
  Tensor out;
  {
    NoGradGuard ng;  // computed without a graph: norm is a primitive with its own backward below
    out = sqrt(sum(a * a, dims, keepdim));
  }
  SavedTensor sa(a, "norm"), sy = autograd::save_output(out, "norm");
  Shape in = a.sizes();
  return autograd::record("norm", out, {a}, [sa, sy, in, dims](const Tensor& g, const NeedsGrad&) {
    // d||a|| / da = a / ||a||, taken as 0 where ||a|| = 0 (subgradient, as PyTorch does)
    const Tensor& x = sa.get();
    Tensor n = GradMode::is_enabled() ? norm(x, 2.0, dims, true) : sy.get().reshape(keepdim_shape(in, dims));
    Tensor safe = where(n <= 0.0, ones_like(n), n);
    return TensorList{expand_back(g, in, dims) * x / safe};
  });
}

Tensor sum_to(const Tensor& a, const Shape& shape) {
  if (a.sizes() == shape) return a;
  DUEL_CHECK(is_broadcastable_to(shape, a.sizes()), "sum_to: cannot reduce shape ", shape_str(a.sizes()), " to ",
             shape_str(shape));
  int64_t lead = a.dim() - (int64_t)shape.size();
  Dims dims;
  for (int64_t d = 0; d < a.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && a.sizes()[d] != 1)) dims.push_back(d);
  Tensor s = dims.empty() ? a : sum(a, dims, true);
  return s.reshape(shape);
}

}  // namespace duel
