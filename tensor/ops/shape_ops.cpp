// Shape and indexing ops that produce new storage: forward and backward.
// gather/scatter_add and index_select/index_add are each other's backward,
// so their higher derivatives need nothing more. pad (reflect), flip and
// repeat are built from index_select/expand and inherit their gradients.
#include "tensor/ops/shape_ops.h"

#include <numeric>

#include "autograd/node.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/index.h"
#include "kernels/dispatch.h"
#include "tensor/ops/elementwise.h"

namespace duel {
namespace {

Tensor raw_slice(const Tensor& t, int64_t dim, int64_t start, int64_t end, int64_t step) {
  Shape s = t.sizes(), st = t.strides();
  s[dim] = (end - start + step - 1) / step;
  st[dim] *= step;
  return make_view(t, s, st, t.offset() + start * t.strides()[dim]);
}

Tensor copy_of(const Tensor& t) {
  Tensor out = empty(t.sizes(), TensorOptions(t.dtype(), t.device()));
  DUEL_KERNEL(t.device(), copy, t, out);
  return out;
}

void check_index(const Tensor& index, const char* op) {
  DUEL_CHECK(index.dtype() == kInt64, op, ": expected an int64 index tensor, got ", dtype_name(index.dtype()),
             " of shape ", shape_str(index.sizes()));
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim_in) {
  DUEL_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  const Tensor& first = tensors[0];
  DUEL_CHECK(first.dim() > 0, "cat: zero-dimensional tensors cannot be concatenated (use stack); tensor 0 has shape ",
             shape_str(first.sizes()));
  int64_t dim = wrap_dim(dim_in, first.dim(), "cat");
  Shape out_shape = first.sizes();
  out_shape[dim] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    DUEL_CHECK(t.dim() == first.dim(), "cat: tensor ", i, " has shape ", shape_str(t.sizes()), " but tensor 0 has ",
               shape_str(first.sizes()), " (expected the same number of dims)");
    DUEL_CHECK(t.dtype() == first.dtype() && t.device() == first.device(), "cat: tensor ", i, " is ",
               dtype_name(t.dtype()), " on ", t.device().str(), " but tensor 0 is ", dtype_name(first.dtype()), " on ",
               first.device().str());
    for (int64_t d = 0; d < t.dim(); ++d)
      DUEL_CHECK(d == dim || t.sizes()[d] == first.sizes()[d], "cat: sizes must match except in dim ", dim,
                 "; tensor ", i, " has shape ", shape_str(t.sizes()), ", tensor 0 has ", shape_str(first.sizes()));
    out_shape[dim] += t.sizes()[dim];
  }
  Tensor out = empty(out_shape, TensorOptions(first.dtype(), first.device()));
  std::vector<int64_t> offsets;
  int64_t off = 0;
  for (auto& t : tensors) {
    offsets.push_back(off);
    Tensor region = raw_slice(out, dim, off, off + t.sizes()[dim], 1);
    DUEL_KERNEL(out.device(), copy, t, region);
    off += t.sizes()[dim];
  }
  std::vector<int64_t> lengths;
  for (auto& t : tensors) lengths.push_back(t.sizes()[dim]);
  return autograd::record("cat", out, tensors, [dim, offsets, lengths](const Tensor& g, const NeedsGrad& needs) {
    TensorList grads(offsets.size());
    for (size_t i = 0; i < offsets.size(); ++i)
      if (needs[i]) grads[i] = g.narrow(dim, offsets[i], lengths[i]);
    return grads;
  });
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  DUEL_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  int64_t d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  for (size_t i = 0; i < tensors.size(); ++i) {
    DUEL_CHECK(tensors[i].sizes() == tensors[0].sizes(), "stack: tensor ", i, " has shape ",
               shape_str(tensors[i].sizes()), " but tensor 0 has ", shape_str(tensors[0].sizes()),
               " (expected equal shapes)");
    parts.push_back(tensors[i].unsqueeze(d));
  }
  return cat(parts, d);
}

std::vector<Tensor> split_sizes(const Tensor& a, const std::vector<int64_t>& sizes, int64_t dim_in) {
  int64_t dim = wrap_dim(dim_in, a.dim(), "split");
  int64_t total = std::accumulate(sizes.begin(), sizes.end(), int64_t(0));
  DUEL_CHECK(total == a.size(dim), "split: sizes add up to ", total, " but dim ", dim, " of shape ",
             shape_str(a.sizes()), " has size ", a.size(dim));
  std::vector<Tensor> out;
  int64_t off = 0;
  for (auto s : sizes) {
    out.push_back(a.narrow(dim, off, s));
    off += s;
  }
  return out;
}

std::vector<Tensor> split(const Tensor& a, int64_t split_size, int64_t dim_in) {
  DUEL_CHECK(split_size > 0, "split: split_size must be positive, got ", split_size);
  int64_t dim = wrap_dim(dim_in, a.dim(), "split");
  std::vector<int64_t> sizes;
  for (int64_t off = 0; off < a.size(dim); off += split_size) sizes.push_back(std::min(split_size, a.size(dim) - off));
  if (sizes.empty()) sizes.push_back(0);  // an empty dim splits into one empty piece (as in PyTorch)
  return split_sizes(a, sizes, dim);
}

std::vector<Tensor> chunk(const Tensor& a, int64_t chunks, int64_t dim) {
  DUEL_CHECK(chunks > 0, "chunk: chunks must be positive, got ", chunks);
  int64_t n = a.size(dim);
  if (n == 0) return split_sizes(a, std::vector<int64_t>(chunks, 0), dim);  // as in PyTorch
  return split(a, (n + chunks - 1) / chunks, dim);
}

Tensor pad(const Tensor& a, const std::vector<int64_t>& pads, PadMode mode, double value) {
  DUEL_CHECK(pads.size() % 2 == 0 && (int64_t)pads.size() / 2 <= a.dim(), "pad: expected an even number of pads, ",
             "at most 2 per dim (", 2 * a.dim(), " for shape ", shape_str(a.sizes()), "), got ", pads.size());
  for (auto p : pads) DUEL_CHECK(p >= 0, "pad: negative padding is not supported");
  const int64_t np = (int64_t)pads.size() / 2;
  if (mode == PadMode::Reflect) {
    Tensor x = a;
    for (int64_t i = 0; i < np; ++i) {
      int64_t d = a.dim() - 1 - i, lo = pads[2 * i], hi = pads[2 * i + 1], n = a.size(d);
      if (lo == 0 && hi == 0) continue;
      DUEL_CHECK(lo < n && hi < n, "pad: reflection padding (", lo, ", ", hi, ") must be smaller than dim ", d,
                 " of size ", n, " (shape ", shape_str(a.sizes()), ")");
      std::vector<int64_t> idx;
      for (int64_t j = lo; j >= 1; --j) idx.push_back(j);
      for (int64_t j = 0; j < n; ++j) idx.push_back(j);
      for (int64_t j = n - 2; j >= n - 1 - hi; --j) idx.push_back(j);
      x = index_select(x, d, from_vector(idx, {}, TensorOptions(kInt64, a.device())));
    }
    return x;
  }
  Shape out_shape = a.sizes();
  for (int64_t i = 0; i < np; ++i) out_shape[a.dim() - 1 - i] += pads[2 * i] + pads[2 * i + 1];
  Tensor out = full(out_shape, value, TensorOptions(a.dtype(), a.device()));
  Tensor interior = out;
  for (int64_t i = 0; i < np; ++i) {
    int64_t d = a.dim() - 1 - i;
    interior = raw_slice(interior, d, pads[2 * i], pads[2 * i] + a.size(d), 1);
  }
  DUEL_KERNEL(a.device(), copy, a, interior);
  return autograd::record("pad", out, {a}, [pads, np, in = a.sizes()](const Tensor& g, const NeedsGrad&) {
    Tensor x = g;
    for (int64_t i = 0; i < np; ++i) {
      int64_t d = (int64_t)in.size() - 1 - i;
      x = x.narrow(d, pads[2 * i], in[d]);
    }
    return TensorList{x};
  });
}

Tensor flip(const Tensor& a, const std::vector<int64_t>& dims) {
  Tensor x = a;
  for (auto d0 : dims) {
    int64_t d = wrap_dim(d0, a.dim(), "flip");
    std::vector<int64_t> idx(a.size(d));
    for (int64_t j = 0; j < a.size(d); ++j) idx[j] = a.size(d) - 1 - j;
    x = index_select(x, d, from_vector(idx, {}, TensorOptions(kInt64, a.device())));
  }
  return x;
}

Tensor repeat(const Tensor& a, const std::vector<int64_t>& repeats) {
  DUEL_CHECK((int64_t)repeats.size() >= a.dim(), "repeat: need at least ", a.dim(), " repeat counts for shape ",
             shape_str(a.sizes()), ", got ", repeats.size());
  int64_t lead = (int64_t)repeats.size() - a.dim();
  Shape padded(lead, 1);
  padded.insert(padded.end(), a.sizes().begin(), a.sizes().end());
  // view as [1, s0, 1, s1, ...], expand to [r0, s0, r1, s1, ...], merge pairs
  Shape inter, expanded, final_shape;
  for (size_t i = 0; i < repeats.size(); ++i) {
    inter.insert(inter.end(), {1, padded[i]});
    expanded.insert(expanded.end(), {repeats[i], padded[i]});
    final_shape.push_back(repeats[i] * padded[i]);
  }
  return a.reshape(inter).expand(expanded).contiguous().reshape(final_shape);
}

Tensor gather(const Tensor& a, int64_t dim_in, const Tensor& index) {
  check_index(index, "gather");
  DUEL_CHECK(a.dim() > 0, "gather: expected an input with at least one dim, got a 0-d tensor");
  int64_t dim = wrap_dim(dim_in, a.dim(), "gather");
  DUEL_CHECK(index.dim() == a.dim(), "gather: index of shape ", shape_str(index.sizes()),
             " must have as many dims as the input of shape ", shape_str(a.sizes()));
  for (int64_t d = 0; d < a.dim(); ++d)
    DUEL_CHECK(d == dim || index.size(d) <= a.size(d), "gather: index of shape ", shape_str(index.sizes()),
               " is larger than the input of shape ", shape_str(a.sizes()), " in dim ", d);
  Tensor idx = index.contiguous();
  Tensor out = empty(index.sizes(), TensorOptions(a.dtype(), a.device()));
  DUEL_KERNEL(a.device(), gather, a.contiguous(), dim, idx, out);
  Shape in = a.sizes();
  SavedTensor si(idx, "gather");
  return autograd::record("gather", out, {a}, [in, dim, si](const Tensor& g, const NeedsGrad&) {
    return TensorList{scatter_add(zeros(in, TensorOptions(g.dtype(), g.device())), dim, si.get(), g)};
  });
}

Tensor scatter_add(const Tensor& self, int64_t dim_in, const Tensor& index, const Tensor& src) {
  check_index(index, "scatter_add");
  DUEL_CHECK(self.dim() > 0, "scatter_add: expected self with at least one dim, got a 0-d tensor");
  int64_t dim = wrap_dim(dim_in, self.dim(), "scatter_add");
  DUEL_CHECK(index.dim() == self.dim() && src.dim() == self.dim(), "scatter_add: self ", shape_str(self.sizes()),
             ", index ", shape_str(index.sizes()), " and src ", shape_str(src.sizes()), " must have the same number of dims");
  for (int64_t d = 0; d < self.dim(); ++d) {
    DUEL_CHECK(index.size(d) <= src.size(d), "scatter_add: index ", shape_str(index.sizes()), " is larger than src ",
               shape_str(src.sizes()), " in dim ", d);
    DUEL_CHECK(d == dim || index.size(d) <= self.size(d), "scatter_add: index ", shape_str(index.sizes()),
               " is larger than self ", shape_str(self.sizes()), " in dim ", d);
  }
  DUEL_CHECK(self.dtype() == src.dtype(), "scatter_add: self is ", dtype_name(self.dtype()), " but src is ",
             dtype_name(src.dtype()));
  Tensor idx = index.contiguous();
  Tensor out = copy_of(self);
  DUEL_KERNEL(self.device(), scatter_add, out, dim, idx, src.contiguous());
  Shape src_sizes = src.sizes();
  SavedTensor si(idx, "scatter_add");
  return autograd::record("scatter_add", out, {self, src}, [dim, si, src_sizes](const Tensor& g, const NeedsGrad& needs) {
    Tensor gsrc;
    if (needs[1]) {
      const Tensor& idx = si.get();
      gsrc = gather(g, dim, idx);
      if (gsrc.sizes() != src_sizes) {  // src may be larger than index: its unused elements get zero
        std::vector<int64_t> pads;
        for (int64_t d = (int64_t)src_sizes.size() - 1; d >= 0; --d) pads.insert(pads.end(), {0, src_sizes[d] - idx.size(d)});
        gsrc = pad(gsrc, pads);
      }
    }
    return TensorList{g, gsrc};
  });
}

Tensor index_select(const Tensor& a, int64_t dim_in, const Tensor& index) {
  check_index(index, "index_select");
  DUEL_CHECK(index.dim() <= 1, "index_select: expected a 1-D index, got shape ", shape_str(index.sizes()));
  DUEL_CHECK(a.dim() > 0, "index_select: expected an input with at least one dim, got a 0-d tensor");
  int64_t dim = wrap_dim(dim_in, a.dim(), "index_select");
  Tensor idx = index.reshape({-1}).contiguous();
  Shape out_shape = a.sizes();
  if (a.dim() > 0) out_shape[dim] = idx.numel();
  Tensor out = empty(out_shape, TensorOptions(a.dtype(), a.device()));
  DUEL_KERNEL(a.device(), index_select, a.contiguous(), dim, idx, out);
  Shape in = a.sizes();
  SavedTensor si(idx, "index_select");
  return autograd::record("index_select", out, {a}, [in, dim, si](const Tensor& g, const NeedsGrad&) {
    return TensorList{index_add(zeros(in, TensorOptions(g.dtype(), g.device())), dim, si.get(), g)};
  });
}

Tensor index_add(const Tensor& self, int64_t dim_in, const Tensor& index, const Tensor& source) {
  check_index(index, "index_add");
  DUEL_CHECK(self.dim() > 0, "index_add: expected self with at least one dim, got a 0-d tensor");
  int64_t dim = wrap_dim(dim_in, self.dim(), "index_add");
  Tensor idx = index.reshape({-1}).contiguous();
  Shape expect = self.sizes();
  expect[dim] = idx.numel();
  DUEL_CHECK(source.sizes() == expect, "index_add: source of shape ", shape_str(source.sizes()),
             " does not match the expected ", shape_str(expect), " (self ", shape_str(self.sizes()), " with ",
             idx.numel(), " indices along dim ", dim, ")");
  DUEL_CHECK(self.dtype() == source.dtype(), "index_add: self is ", dtype_name(self.dtype()), " but source is ",
             dtype_name(source.dtype()));
  Tensor out = copy_of(self);
  DUEL_KERNEL(self.device(), index_add, out, dim, idx, source.contiguous());
  SavedTensor si(idx, "index_add");
  return autograd::record("index_add", out, {self, source}, [dim, si](const Tensor& g, const NeedsGrad& needs) {
    return TensorList{g, needs[1] ? index_select(g, dim, si.get()) : Tensor()};
  });
}

Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype) {
  check_index(labels, "one_hot");
  Shape s = labels.sizes();
  s.push_back(num_classes);
  Tensor out = zeros(s, TensorOptions(dtype, labels.device()));
  Tensor ones_src = ones(labels.unsqueeze(-1).sizes(), TensorOptions(dtype, labels.device()));
  NoGradGuard ng;
  return scatter_add(out, -1, labels.unsqueeze(-1), ones_src);
}

Tensor slice_scatter(const Tensor& self, const Tensor& src, int64_t dim, int64_t start, int64_t end, int64_t step) {
  Tensor out = copy_of(self);
  Tensor region = raw_slice(out, dim, start, end, step);
  DUEL_CHECK(region.sizes() == src.sizes(), "slice_scatter: src of shape ", shape_str(src.sizes()),
             " does not fit the slice of shape ", shape_str(region.sizes()));
  DUEL_KERNEL(self.device(), copy, src, region);
  return autograd::record("slice_scatter", out, {self, src},
                          [dim, start, end, step](const Tensor& g, const NeedsGrad& needs) {
                            Tensor gs = needs[0] ? slice_scatter(g, zeros_like(g.slice(dim, start, end, step)), dim,
                                                                 start, end, step)
                                                 : Tensor();
                            Tensor gsrc = needs[1] ? g.slice(dim, start, end, step) : Tensor();
                            return TensorList{gs, gsrc};
                          });
}

}  // namespace duel
