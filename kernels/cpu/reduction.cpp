// CPU reductions.
//
// The input's dims are split into kept dims (one output element per index)
// and reduced dims. The reduced dims are coalesced, so reducing the trailing
// dims of a contiguous tensor is one contiguous run per output element.
// Parallelisation: over output elements when there are enough of them;
// otherwise (e.g. a full sum) the reduced range is split across threads and
// the per-thread partials are combined.
#include "kernels/cpu/reduction.h"

#include <omp.h>

#include <cmath>
#include <limits>
#include <vector>
#include <algorithm>

#include "kernels/cpu/loops.h"

namespace duel::cpu {
namespace {

// Outputs per block of the outer reduction (below): 1024 double accumulators (8 KiB) stay in
// L1 while the reduced rows stream past (measured: 8192, 2048, 1024, 512, 256 on
// [4096,4096] and [64,6272]; docs/performance.md, "Sum over dim 0").
constexpr int64_t kOuterBlock = 1024;

template <class T>
using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

template <class T, ReduceOp OP>
struct Reducer {
  using A = std::conditional_t<OP == ReduceOp::Sum, acc_t<T>, T>;
  static A init() {
    if constexpr (OP == ReduceOp::Sum) return A(0);
    else if constexpr (OP == ReduceOp::Max) return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
    else return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
  }
  static A combine(A a, A b) {
    if constexpr (OP == ReduceOp::Sum) return a + b;
    else if constexpr (OP == ReduceOp::Max) return (b > a || std::isnan((double)b)) ? b : a;
    else return (b < a || std::isnan((double)b)) ? b : a;
  }
  // reduces a strided run of n elements
  static A run(const T* p, int64_t n, int64_t stride) {
    A acc = init();
    if constexpr (OP == ReduceOp::Sum) {
      if (stride == 1) {
#pragma omp simd reduction(+ : acc)
        for (int64_t i = 0; i < n; ++i) acc += A(p[i]);
      } else {
        for (int64_t i = 0; i < n; ++i) acc += A(p[i * stride]);
      }
    } else {
      for (int64_t i = 0; i < n; ++i) acc = combine(acc, A(p[i * stride]));
    }
    return acc;
  }
};

template <class T, ReduceOp OP>
void reduce_typed(const Tensor& in, Tensor& out, const std::vector<bool>& is_reduced) {
  using R = Reducer<T, OP>;
  using A = typename R::A;
  using O = std::conditional_t<OP == ReduceOp::Sum && !std::is_floating_point_v<T>, int64_t, T>;
  const T* x = static_cast<const T*>(in.raw_data());
  O* y = out.data<O>();
  Shape kept_sizes, kept_strides, red_sizes, red_strides;
  for (int64_t d = 0; d < in.dim(); ++d) {
    if (is_reduced[d]) {
      red_sizes.push_back(in.sizes()[d]);
      red_strides.push_back(in.strides()[d]);
    } else {
      kept_sizes.push_back(in.sizes()[d]);
      kept_strides.push_back(in.strides()[d]);
    }
  }
  const int64_t n_out = shape_numel(kept_sizes);
  const int64_t n_red = shape_numel(red_sizes);
  if (n_out == 0) return;
  if (n_red == 0) {
    for (int64_t o = 0; o < n_out; ++o) y[o] = O(R::init());
    return;
  }
  auto g = coalesce<1>(red_sizes, {red_strides});
  const int64_t nd = (int64_t)g.sizes.size();
  const int64_t inner = g.sizes[nd - 1], inner_stride = g.strides[0][nd - 1];
  const int64_t rows = n_red / inner;

  auto row_offset = [&](int64_t r) {
    int64_t off = 0;
    for (int64_t d = nd - 2; d >= 0; --d) {
      off += (r % g.sizes[d]) * g.strides[0][d];
      r /= g.sizes[d];
    }
    return off;
  };
  auto base_offset = [&](int64_t o) {
    int64_t off = 0;
    for (int64_t d = (int64_t)kept_sizes.size() - 1; d >= 0; --d) {
      off += (o % kept_sizes[d]) * kept_strides[d];
      o /= kept_sizes[d];
    }
    return off;
  };
  auto reduce_rows = [&](const T* base, int64_t r0, int64_t r1) {
    A acc = R::init();
    for (int64_t r = r0; r < r1; ++r) acc = R::combine(acc, R::run(base + row_offset(r), inner, inner_stride));
    return acc;
  };

  // Outer reduction: the kept dims are one unit-stride run, as in a sum over dim 0 of a
  // row-major matrix (a bias gradient). Reducing output by output would walk each column with
  // a large stride; instead every reduced row is streamed once into a block of accumulators
  // (vectorised across the outputs). Each output still combines its elements in
  // the same order as the path below (row by row, each row's run first), so results are
  // bit for bit the same.
  auto kg = coalesce<1>(kept_sizes, {kept_strides});
  if (kg.sizes.size() == 1 && kg.strides[0][0] == 1 && n_out >= 16) {
    // blocks of up to kOuterBlock outputs, one or more per thread
    const int64_t nt = n_out * n_red >= kParallelGrain ? omp_get_max_threads() : 1;
    const int64_t block = std::min<int64_t>(kOuterBlock, ((n_out + nt - 1) / nt + 15) / 16 * 16);
    const int64_t blocks = (n_out + block - 1) / block;
#pragma omp parallel for if (nt > 1)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t o0 = b * block, n = std::min(block, n_out - o0);
      // one reduced row (the common case): accumulate straight into the totals
      std::vector<A> tot(n, R::init()), row(rows > 1 ? n : 0);
      for (int64_t r = 0; r < rows; ++r) {
        const T* p = x + row_offset(r) + o0;
        A* acc = rows > 1 ? row.data() : tot.data();
        if (rows > 1) std::fill(row.begin(), row.end(), R::init());
        // four reduced elements per pass over the accumulators (the same order of combines
        // per output: ((acc + q0) + q1) + ...), so that acc is loaded and stored once per four
        int64_t i = 0;
        for (; i + 4 <= inner; i += 4) {
          const T *q0 = p + i * inner_stride, *q1 = q0 + inner_stride, *q2 = q1 + inner_stride, *q3 = q2 + inner_stride;
#pragma omp simd
          for (int64_t j = 0; j < n; ++j)
            acc[j] = R::combine(R::combine(R::combine(R::combine(acc[j], A(q0[j])), A(q1[j])), A(q2[j])), A(q3[j]));
        }
        for (; i < inner; ++i) {
          const T* q = p + i * inner_stride;
#pragma omp simd
          for (int64_t j = 0; j < n; ++j) acc[j] = R::combine(acc[j], A(q[j]));
        }
        if (rows > 1)
          for (int64_t j = 0; j < n; ++j) tot[j] = R::combine(tot[j], row[j]);
      }
      for (int64_t j = 0; j < n; ++j) y[o0 + j] = O(tot[j]);
    }
    return;
  }

  const int threads = omp_get_max_threads();
  if (n_out >= 4 * threads || n_out * n_red < kParallelGrain) {
#pragma omp parallel for if (n_out * n_red >= kParallelGrain)
    for (int64_t o = 0; o < n_out; ++o) y[o] = O(reduce_rows(x + base_offset(o), 0, rows));
    return;
  }
  for (int64_t o = 0; o < n_out; ++o) {
    const T* base = x + base_offset(o);
    std::vector<A> partial(threads, R::init());
    if (rows >= threads) {
#pragma omp parallel
      {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t chunk = (rows + nt - 1) / nt;
        int64_t s = std::min<int64_t>(rows, t * chunk), e = std::min<int64_t>(rows, s + chunk);
        partial[t] = reduce_rows(base, s, e);
      }
    } else {  // few long rows: split each row
      for (int64_t r = 0; r < rows; ++r) {
        const T* p = base + row_offset(r);
#pragma omp parallel
        {
          int t = omp_get_thread_num(), nt = omp_get_num_threads();
          int64_t chunk = (inner + nt - 1) / nt;
          int64_t s = std::min<int64_t>(inner, t * chunk), e = std::min<int64_t>(inner, s + chunk);
          if (e > s) partial[t] = R::combine(partial[t], R::run(p + s * inner_stride, e - s, inner_stride));
        }
      }
    }
    A acc = R::init();
    for (auto& v : partial) acc = R::combine(acc, v);
    y[o] = O(acc);
  }
}

}  // namespace

void reduce(ReduceOp op, const Tensor& in, Tensor& out, const std::vector<int64_t>& dims) {
  std::vector<bool> is_reduced(in.dim(), false);
  for (auto d : dims) is_reduced[d] = true;
  DUEL_DISPATCH_ALL(in.dtype(), "reduce", [&] {
    using T = scalar_t;
    switch (op) {
      case ReduceOp::Sum: reduce_typed<T, ReduceOp::Sum>(in, out, is_reduced); break;
      case ReduceOp::Max: reduce_typed<T, ReduceOp::Max>(in, out, is_reduced); break;
      case ReduceOp::Min: reduce_typed<T, ReduceOp::Min>(in, out, is_reduced); break;
    }
  });
}

template <class T>
void arg_reduce_typed(bool is_max, const Tensor& in, Tensor& values, Tensor& indices, int64_t dim) {
  const T* x = static_cast<const T*>(in.raw_data());
  T* v = values.data<T>();
  int64_t* ix = indices.data<int64_t>();
  const int64_t n = in.sizes()[dim], st = in.strides()[dim];
  Shape kept_sizes, kept_strides;
  for (int64_t d = 0; d < in.dim(); ++d)
    if (d != dim) {
      kept_sizes.push_back(in.sizes()[d]);
      kept_strides.push_back(in.strides()[d]);
    }
  const int64_t n_out = shape_numel(kept_sizes);
#pragma omp parallel for if (n_out * n >= kParallelGrain)
  for (int64_t o = 0; o < n_out; ++o) {
    int64_t off = 0, rem = o;
    for (int64_t d = (int64_t)kept_sizes.size() - 1; d >= 0; --d) {
      off += (rem % kept_sizes[d]) * kept_strides[d];
      rem /= kept_sizes[d];
    }
    const T* p = x + off;
    T best = p[0];
    int64_t bi = 0;
    for (int64_t i = 1; i < n; ++i) {
      T val = p[i * st];
      bool better = is_max ? (val > best) : (val < best);
      if (better || (std::isnan((double)val) && !std::isnan((double)best))) {
        best = val;
        bi = i;
      }
    }
    v[o] = best;
    ix[o] = bi;
  }
}

void arg_reduce(bool is_max, const Tensor& in, Tensor& values, Tensor& indices, int64_t dim) {
  DUEL_DISPATCH_NUMERIC(in.dtype(), is_max ? "max" : "min",
                        [&] { arg_reduce_typed<scalar_t>(is_max, in, values, indices, dim); });
}

}  // namespace duel::cpu
