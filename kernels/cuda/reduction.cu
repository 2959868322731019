// Reductions: sum / max / min over any set of dims (reduce) and max / min with the
// index of the first extreme along one dim (arg_reduce), for inputs with arbitrary
// strides.
//
// The input's dims are split into kept dims (one output element per index, in the
// row-major order of the contiguous keepdim output) and reduced dims; each group is
// coalesced on the host (OffsetCalc, utils.cuh), so reducing the trailing dims of a
// contiguous tensor is one contiguous run per output.
//
// Two kernels, chosen on the host from the shape:
//
//   reduce_thread_kernel  (short reductions, n_red <= 32, or many outputs with
//       n_red <= 4096): one thread per output element, grid-stride over outputs, a
//       sequential loop over the reduced elements. When the kept dim is the input's
//       innermost dim (e.g. sum over the batch dim of [N, C]) consecutive threads read
//       consecutive addresses: coalesced, and no synchronisation at all.
//
//   reduce_block_kernel   (long reductions): one block (a multiple of 32 threads, at
//       most 256) per output element (blockIdx.x, grid-stride), and optionally `splits`
//       blocks per output (blockIdx.y) when there are few outputs and many elements (a
//       full sum of 10^7 elements uses ~600 blocks, not one). Thread t accumulates
//       elements t, t + blockDim, ... of its chunk (coalesced when the reduced dims are
//       contiguous), then the block combines: a __shfl_down_sync tree inside each warp
//       (no shared memory, no barrier), one shared slot per warp, one barrier, and the
//       first warp reduces the per-warp values with another shuffle tree
//       (block_reduce in utils.cuh). With splits > 1 each block writes its partial to
//       a scratch tensor [n_out, splits] (in the accumulation type) and a second launch
//       of the same kernel reduces the partials.
//
// Accumulation: sums of float32/float64 accumulate in double (as the CPU backend), sums
// of int64/bool in int64; max/min work in the element type (int64 for bool) and
// propagate NaN (a NaN anywhere wins, in any combination order). The combination order
// differs from the CPU's sequential loop, so float sums may differ in the last bit after
// rounding the double result; max/min are exact.
//
// arg_reduce uses the same two layouts (thread per output for n < 256, else block per
// output) on (value, index) pairs. The combine rule (NaN beats numbers, then the larger /
// smaller value, ties -> smaller index) is associative and gives exactly the CPU's
// "first extreme, first NaN" answer whatever the order of combination.
#include "kernels/cuda/utils.cuh"

#include <limits>

namespace duel::DUEL_BACKEND_NAMESPACE {
namespace {

// ------------------------------------------------------------------------ reduce ----
template <class Tin, class A, class Tout, class Op>
__global__ void reduce_thread_kernel(const Tin* __restrict__ in, Tout* __restrict__ out, OffsetCalc<1> kept,
                                     OffsetCalc<1> red, int64_t n_out, int64_t n_red, Op op, A identity) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < n_out; o += step) {
    int64_t base[1];
    kept.get(o, base);
    A acc = identity;
    for (int64_t r = 0; r < n_red; ++r) {
      int64_t off[1];
      red.get(r, off);
      acc = op(acc, static_cast<A>(in[base[0] + off[0]]));
    }
    out[o] = static_cast<Tout>(acc);
  }
}

// out[o * gridDim.y + blockIdx.y] = reduction of chunk blockIdx.y of output o.
template <class Tin, class A, class Tout, class Op>
__global__ void reduce_block_kernel(const Tin* __restrict__ in, Tout* __restrict__ out, OffsetCalc<1> kept,
                                    OffsetCalc<1> red, int64_t n_out, int64_t n_red, int64_t chunk, Op op,
                                    A identity) {
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * chunk;
  const int64_t r1 = r0 + chunk < n_red ? r0 + chunk : n_red;
  for (int64_t o = blockIdx.x; o < n_out; o += gridDim.x) {  // uniform across the block
    int64_t base[1];
    kept.get(o, base);
    A acc = identity;
    for (int64_t r = r0 + threadIdx.x; r < r1; r += blockDim.x) {
      int64_t off[1];
      red.get(r, off);
      acc = op(acc, static_cast<A>(in[base[0] + off[0]]));
    }
    acc = block_reduce(acc, op, identity);
    if (threadIdx.x == 0) out[o * gridDim.y + blockIdx.y] = static_cast<Tout>(acc);
  }
}

template <class T>
struct ReduceTypes;  // A: accumulator of Sum, M: working type of Max/Min, SumOut: output of Sum
template <>
struct ReduceTypes<float> {
  using A = double;
  using M = float;
  using SumOut = float;
};
template <>
struct ReduceTypes<double> {
  using A = double;
  using M = double;
  using SumOut = double;
};
template <>
struct ReduceTypes<int64_t> {
  using A = int64_t;
  using M = int64_t;
  using SumOut = int64_t;
};
template <>
struct ReduceTypes<uint8_t> {
  using A = int64_t;
  using M = int64_t;
  using SumOut = int64_t;
};

template <class T>
T lowest_value() {
  if constexpr (std::numeric_limits<T>::has_infinity) return -std::numeric_limits<T>::infinity();
  else return std::numeric_limits<T>::lowest();
}
template <class T>
T highest_value() {
  if constexpr (std::numeric_limits<T>::has_infinity) return std::numeric_limits<T>::infinity();
  else return std::numeric_limits<T>::max();
}

// Reduces in (viewed through kept/red) into out_ptr[n_out] of type Tout, with working type A.
template <class Tin, class A, class Tout, class Op>
void run_reduce(const Tin* in, Tout* out_ptr, const OffsetCalc<1>& kept, const OffsetCalc<1>& red, int64_t n_out,
                int64_t n_red, Op op, A identity) {
  if (n_red <= 32 || (n_out >= 8192 && n_red <= 4096)) {
    DUEL_LAUNCH((reduce_thread_kernel<Tin, A, Tout, Op>), grid_for(n_out), kThreads, 0, launch_stream())(
        in, out_ptr, kept, red, n_out, n_red, op, identity);
    DUEL_CHECK_LAUNCH("reduce_thread_kernel");
    return;
  }
  // Split long reductions over several blocks per output when there are few outputs.
  int64_t splits = 1;
  constexpr int64_t kChunk = 16384;  // elements per block at least, when splitting
  if (n_out < 256 && n_red > 2 * kChunk) {
    splits = (n_red + kChunk - 1) / kChunk;
    const int64_t max_splits = 1024 / n_out > 1 ? 1024 / n_out : 1;
    if (splits > max_splits) splits = max_splits;
  }
  const int64_t chunk = (n_red + splits - 1) / splits;
  const int threads = warp_multiple(chunk);
  const dim3 grid(static_cast<unsigned>(n_out < kMaxGridX ? n_out : kMaxGridX), static_cast<unsigned>(splits));
  if (splits == 1) {
    DUEL_LAUNCH((reduce_block_kernel<Tin, A, Tout, Op>), grid, threads, 0, launch_stream())(in, out_ptr, kept, red, n_out,
                                                                                   n_red, chunk, op, identity);
    DUEL_CHECK_LAUNCH("reduce_block_kernel");
    return;
  }
  // pass 1: partials [n_out, splits] in A; pass 2: reduce each row of partials.
  Tensor partial = empty({n_out, splits}, TensorOptions(dtype_of<A>::value, Device(kDevice)));
  A* pp = partial.data<A>();
  DUEL_LAUNCH((reduce_block_kernel<Tin, A, A, Op>), grid, threads, 0, launch_stream())(in, pp, kept, red, n_out, n_red,
                                                                               chunk, op, identity);
  DUEL_CHECK_LAUNCH("reduce_block_kernel");
  const OffsetCalc<1> kept2 = make_offset_calc<1>({n_out}, {Shape{splits}});
  const OffsetCalc<1> red2 = make_offset_calc<1>({splits}, {Shape{1}});
  const dim3 grid2(static_cast<unsigned>(n_out < kMaxGridX ? n_out : kMaxGridX), 1);
  DUEL_LAUNCH((reduce_block_kernel<A, A, Tout, Op>), grid2, warp_multiple(splits), 0, launch_stream())(
      pp, out_ptr, kept2, red2, n_out, splits, splits, op, identity);
  DUEL_CHECK_LAUNCH("reduce_block_kernel");
}

template <class T>
void reduce_typed(ReduceOp op, const Tensor& in, Tensor& out, const std::vector<bool>& is_reduced) {
  using RT = ReduceTypes<T>;
  Shape kept_sizes, kept_strides, red_sizes, red_strides;
  for (int64_t d = 0; d < in.dim(); ++d) {
    (is_reduced[d] ? red_sizes : kept_sizes).push_back(in.sizes()[d]);
    (is_reduced[d] ? red_strides : kept_strides).push_back(in.strides()[d]);
  }
  const int64_t n_out = shape_numel(kept_sizes), n_red = shape_numel(red_sizes);
  if (n_out == 0) return;
  if (n_red == 0) {  // only sums reach here (the front-end rejects empty max/min)
    fill(out, 0.0);
    return;
  }
  const OffsetCalc<1> kept = make_offset_calc<1>(kept_sizes, {kept_strides});
  const OffsetCalc<1> red = make_offset_calc<1>(red_sizes, {red_strides});
  const T* x = static_cast<const T*>(in.raw_data());
  switch (op) {
    case ReduceOp::Sum: {
      using A = typename RT::A;
      using O = typename RT::SumOut;
      run_reduce<T, A, O>(x, out.data<O>(), kept, red, n_out, n_red, SumOp{}, A(0));
      break;
    }
    case ReduceOp::Max: {
      using M = typename RT::M;
      run_reduce<T, M, T>(x, out.data<T>(), kept, red, n_out, n_red, MaxOp{}, static_cast<M>(lowest_value<T>()));
      break;
    }
    case ReduceOp::Min: {
      using M = typename RT::M;
      run_reduce<T, M, T>(x, out.data<T>(), kept, red, n_out, n_red, MinOp{}, static_cast<M>(highest_value<T>()));
      break;
    }
  }
}

// ------------------------------------------------------------------------ arg_reduce ----
// Should (v2, i2) replace (v1, i1)? NaN beats numbers (first NaN wins), then the strictly
// better value, then the smaller index among equal values.
template <class T>
DUEL_DEVICE DUEL_FORCEINLINE bool arg_better(bool is_max, T v1, int64_t i1, T v2, int64_t i2) {
  const bool n1 = dm::is_nan(v1), n2 = dm::is_nan(v2);
  if (n1 || n2) return n2 && (!n1 || i2 < i1);
  if (is_max ? v2 > v1 : v2 < v1) return true;
  return v2 == v1 && i2 < i1;
}

template <class T>
__global__ void arg_reduce_thread_kernel(const T* __restrict__ in, T* __restrict__ values,
                                         int64_t* __restrict__ indices, OffsetCalc<1> kept, int64_t n_out, int64_t n,
                                         int64_t stride, bool is_max) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < n_out; o += step) {
    int64_t base[1];
    kept.get(o, base);
    const T* p = in + base[0];
    T best = p[0];
    int64_t bi = 0;
    for (int64_t i = 1; i < n; ++i) {
      const T v = p[i * stride];
      if (arg_better(is_max, best, bi, v, i)) {
        best = v;
        bi = i;
      }
    }
    values[o] = best;
    indices[o] = bi;
  }
}

template <class T>
__global__ void arg_reduce_block_kernel(const T* __restrict__ in, T* __restrict__ values,
                                        int64_t* __restrict__ indices, OffsetCalc<1> kept, int64_t n_out, int64_t n,
                                        int64_t stride, bool is_max, T identity) {
  __shared__ T warp_value[32];
  __shared__ int64_t warp_index[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
  constexpr int64_t kNoIndex = 0x7fffffffffffffffLL;
  for (int64_t o = blockIdx.x; o < n_out; o += gridDim.x) {
    int64_t base[1];
    kept.get(o, base);
    const T* p = in + base[0];
    T best = identity;
    int64_t bi = kNoIndex;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const T v = p[i * stride];
      if (arg_better(is_max, best, bi, v, i)) {
        best = v;
        bi = i;
      }
    }
    // warp tree on (value, index) pairs
    for (int offset = 16; offset > 0; offset /= 2) {
      const T v = __shfl_down_sync(kFullMask, best, offset);
      const int64_t i = __shfl_down_sync(kFullMask, bi, offset);
      if (arg_better(is_max, best, bi, v, i)) {
        best = v;
        bi = i;
      }
    }
    if (lane == 0) {
      warp_value[warp] = best;
      warp_index[warp] = bi;
    }
    __syncthreads();
    if (warp == 0) {
      best = lane < nwarps ? warp_value[lane] : identity;
      bi = lane < nwarps ? warp_index[lane] : kNoIndex;
      for (int offset = 16; offset > 0; offset /= 2) {
        const T v = __shfl_down_sync(kFullMask, best, offset);
        const int64_t i = __shfl_down_sync(kFullMask, bi, offset);
        if (arg_better(is_max, best, bi, v, i)) {
          best = v;
          bi = i;
        }
      }
      if (lane == 0) {
        values[o] = best;
        indices[o] = bi;
      }
    }
    __syncthreads();  // warp_value is rewritten by the next output
  }
}

template <class T>
void arg_reduce_typed(bool is_max, const Tensor& in, Tensor& values, Tensor& indices, int64_t dim) {
  const int64_t n = in.sizes()[dim], stride = in.strides()[dim];
  Shape kept_sizes, kept_strides;
  for (int64_t d = 0; d < in.dim(); ++d)
    if (d != dim) {
      kept_sizes.push_back(in.sizes()[d]);
      kept_strides.push_back(in.strides()[d]);
    }
  const int64_t n_out = shape_numel(kept_sizes);
  if (n_out == 0 || n == 0) return;
  const OffsetCalc<1> kept = make_offset_calc<1>(kept_sizes, {kept_strides});
  const T* x = static_cast<const T*>(in.raw_data());
  if (n < 256) {
    DUEL_LAUNCH((arg_reduce_thread_kernel<T>), grid_for(n_out), kThreads, 0, launch_stream())(
        x, values.data<T>(), indices.data<int64_t>(), kept, n_out, n, stride, is_max);
    DUEL_CHECK_LAUNCH("arg_reduce_thread_kernel");
    return;
  }
  const T identity = is_max ? lowest_value<T>() : highest_value<T>();
  DUEL_LAUNCH((arg_reduce_block_kernel<T>), grid_for(n_out, 1), warp_multiple(n), 0, launch_stream())(
      x, values.data<T>(), indices.data<int64_t>(), kept, n_out, n, stride, is_max, identity);
  DUEL_CHECK_LAUNCH("arg_reduce_block_kernel");
}

}  // namespace

void reduce(ReduceOp op, const Tensor& in, Tensor& out, const std::vector<int64_t>& dims) {
  DUEL_CHECK(in.device().type == kDevice && out.device().type == kDevice, "reduce: tensors must be on ",
             Device(kDevice).str());
  std::vector<bool> is_reduced(in.dim(), false);
  for (auto d : dims) is_reduced[d] = true;
  DUEL_DISPATCH_ALL(in.dtype(), "reduce", [&] { reduce_typed<scalar_t>(op, in, out, is_reduced); });
}

void arg_reduce(bool is_max, const Tensor& in, Tensor& values, Tensor& indices, int64_t dim) {
  DUEL_CHECK(in.device().type == kDevice, is_max ? "max" : "min", ": tensor must be on ", Device(kDevice).str());
  DUEL_DISPATCH_NUMERIC(in.dtype(), is_max ? "max" : "min",
                        [&] { arg_reduce_typed<scalar_t>(is_max, in, values, indices, dim); });
}

}  // namespace duel::DUEL_BACKEND_NAMESPACE
