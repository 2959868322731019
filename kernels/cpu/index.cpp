// CPU indexing kernels. Tensors are viewed as [outer, n, inner] around the
// indexed dim. gather/index_select write each output once, so they run in
// parallel; the scatter/index add kernels accumulate into shared positions
// and run serially (parallel only over the inner dim, which never collides).
#include "kernels/cpu/index.h"

#include "kernels/cpu/loops.h"

namespace duel::cpu {
namespace {

void check_range(const Tensor& index, int64_t n, const char* op, int64_t dim) {
  const int64_t* ix = index.data<int64_t>();
  for (int64_t i = 0; i < index.numel(); ++i)
    DUEL_CHECK(ix[i] >= 0 && ix[i] < n, op, ": index ", ix[i], " is out of bounds for dim ", dim, " of size ", n);
}

int64_t prod(const Shape& s, int64_t from, int64_t to) {
  int64_t p = 1;
  for (int64_t d = from; d < to; ++d) p *= s[d];
  return p;
}

// offset into a contiguous tensor of `sizes` of the multi-index of linear position `pos` in `index_sizes`,
// with the coordinate along `dim` replaced by `at`.
inline int64_t remap(int64_t pos, const Shape& index_sizes, const Shape& strides, int64_t dim, int64_t at) {
  int64_t off = 0;
  for (int64_t d = (int64_t)index_sizes.size() - 1; d >= 0; --d) {
    int64_t c = pos % index_sizes[d];
    pos /= index_sizes[d];
    off += (d == dim ? at : c) * strides[d];
  }
  return off;
}

template <class T>
void gather_typed(const Tensor& in, int64_t dim, const Tensor& index, Tensor& out) {
  const Shape st = contiguous_strides(in.sizes());
  const T* x = in.data<T>();
  T* y = out.data<T>();
  const int64_t* ix = index.data<int64_t>();
  const int64_t n = index.numel();
#pragma omp parallel for if (n >= kParallelGrain)
  for (int64_t p = 0; p < n; ++p) y[p] = x[remap(p, index.sizes(), st, dim, ix[p])];
}

template <class T>
void index_select_typed(const Tensor& in, int64_t dim, const Tensor& index, Tensor& out) {
  const int64_t n = in.sizes()[dim];
  const int64_t outer = prod(in.sizes(), 0, dim), inner = prod(in.sizes(), dim + 1, in.dim());
  const int64_t m = index.numel();
  const T* x = in.data<T>();
  T* y = out.data<T>();
  const int64_t* ix = index.data<int64_t>();
#pragma omp parallel for collapse(2) if (outer * m * inner >= kParallelGrain)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < m; ++i) {
      const T* src = x + (o * n + ix[i]) * inner;
      T* dst = y + (o * m + i) * inner;
      for (int64_t k = 0; k < inner; ++k) dst[k] = src[k];
    }
}

template <class T>
void index_add_typed(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  const int64_t n = out.sizes()[dim];
  const int64_t outer = prod(out.sizes(), 0, dim), inner = prod(out.sizes(), dim + 1, out.dim());
  const int64_t m = index.numel();
  T* y = out.data<T>();
  const T* s = src.data<T>();
  const int64_t* ix = index.data<int64_t>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < m; ++i) {
      T* dst = y + (o * n + ix[i]) * inner;
      const T* from = s + (o * m + i) * inner;
#pragma omp parallel for if (inner >= kParallelGrain)
      for (int64_t k = 0; k < inner; ++k) dst[k] += from[k];
    }
}

}  // namespace

void gather(const Tensor& in, int64_t dim, const Tensor& index, Tensor& out) {
  check_range(index, in.sizes()[dim], "gather", dim);
  DUEL_DISPATCH_ALL(in.dtype(), "gather", [&] { gather_typed<scalar_t>(in, dim, index, out); });
}

void scatter_add(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  check_range(index, out.sizes()[dim], "scatter_add", dim);
  const Shape st = contiguous_strides(out.sizes());
  const Shape sst = contiguous_strides(src.sizes());
  DUEL_DISPATCH_NUMERIC(out.dtype(), "scatter_add", [&] {
    scalar_t* y = out.data<scalar_t>();
    const scalar_t* s = src.data<scalar_t>();
    const int64_t* ix = index.data<int64_t>();
    for (int64_t p = 0; p < index.numel(); ++p) {
      // src may be larger than index in every dim: read src at index's multi-index
      int64_t soff = remap(p, index.sizes(), sst, -1, 0);
      y[remap(p, index.sizes(), st, dim, ix[p])] += s[soff];
    }
  });
}

void index_select(const Tensor& in, int64_t dim, const Tensor& index, Tensor& out) {
  check_range(index, in.sizes()[dim], "index_select", dim);
  DUEL_DISPATCH_ALL(in.dtype(), "index_select", [&] { index_select_typed<scalar_t>(in, dim, index, out); });
}

void index_add(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  check_range(index, out.sizes()[dim], "index_add", dim);
  DUEL_DISPATCH_NUMERIC(out.dtype(), "index_add", [&] { index_add_typed<scalar_t>(out, dim, index, src); });
}

}  // namespace duel::cpu
