// Indexing kernels: gather, scatter_add, index_select, index_add (contiguous tensors,
// int64 indices; the semantics of kernels/cpu/index.h).
//
// Parallelisation: one thread per element of the iteration space, grid-stride:
//   gather        one thread per output element p (= per index element): decompose p
//                 over index's shape, replace the coordinate along `dim` by index[p],
//                 read that input element. Writes are coalesced (p consecutive);
//                 reads follow the index (a gather, uncoalesced in general).
//   index_select  one thread per output element of [outer, m, inner]: thread i copies
//                 in[(o*n + index[j])*inner + k]; for inner >= 32 a warp copies 32
//                 consecutive elements of one selected row (coalesced both sides).
//   scatter_add   one thread per index element: out[..index[p]..] += src[p] with
//                 atomicAdd, since several p may hit the same output element.
//   index_add     one thread per element of src [outer, m, inner], atomicAdd into
//                 out[(o*n + index[j])*inner + k] (repeated indices collide).
// Float atomics make the order of the additions (and so the last bits of a float
// sum with repeated indices) run-dependent; int64 adds use the 64-bit integer atomic
// (two's complement, so signed adds are exact).
//
// Bounds: the CPU backend throws on an out-of-range index before writing anything. Here
// a check kernel (one thread per index element) records the first bad value it sees in
// a 2-word device flag (atomicCAS), the host reads the flag back (one small copy, which
// also synchronises) and throws the same message before the real kernel is launched.
#include "kernels/cuda/utils.cuh"

namespace duel::DUEL_BACKEND_NAMESPACE {
namespace {

// Shape of the index tensor and the strides of the tensor being addressed (<= kMaxDims dims).
struct IndexGeom {
  int ndim = 0;
  int64_t sizes[kMaxDims];
  int64_t strides[kMaxDims];
};

IndexGeom make_geom(const Shape& sizes, const Shape& strides, const char* op) {
  DUEL_CHECK(static_cast<int>(sizes.size()) <= kMaxDims, op, ": at most ", kMaxDims, " dims are supported, got ",
             shape_str(sizes));
  IndexGeom g;
  g.ndim = static_cast<int>(sizes.size());
  for (int d = 0; d < g.ndim; ++d) {
    g.sizes[d] = sizes[d];
    g.strides[d] = strides[d];
  }
  return g;
}

// Offset (with g.strides) of the multi-index of linear position pos in g.sizes, with the
// coordinate along dim replaced by at (dim = -1: none replaced).
DUEL_DEVICE DUEL_FORCEINLINE int64_t remap(int64_t pos, const IndexGeom& g, int dim, int64_t at) {
  int64_t off = 0;
  for (int d = g.ndim - 1; d >= 0; --d) {
    const int64_t c = pos % g.sizes[d];
    pos /= g.sizes[d];
    off += (d == dim ? at : c) * g.strides[d];
  }
  return off;
}

DUEL_DEVICE DUEL_FORCEINLINE void atomic_add(float* p, float v) { atomicAdd(p, v); }
DUEL_DEVICE DUEL_FORCEINLINE void atomic_add(double* p, double v) { atomicAdd(p, v); }
DUEL_DEVICE DUEL_FORCEINLINE void atomic_add(int64_t* p, int64_t v) {
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}

__global__ void check_index_kernel(const int64_t* __restrict__ index, int64_t m, int64_t n,
                                   unsigned long long* flag) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < m; i += step) {
    const int64_t v = index[i];
    if (v < 0 || v >= n) {
      if (atomicCAS(&flag[0], 0ull, 1ull) == 0ull) flag[1] = static_cast<unsigned long long>(v);
    }
  }
}

template <class T>
__global__ void gather_kernel(const T* __restrict__ in, const int64_t* __restrict__ index, T* __restrict__ out,
                              IndexGeom g, int dim, int64_t m) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < m; p += step)
    out[p] = in[remap(p, g, dim, index[p])];
}

// out and src addressed through their own strides, both iterated over index's shape.
template <class T>
__global__ void scatter_add_kernel(T* out, const int64_t* __restrict__ index, const T* __restrict__ src,
                                   IndexGeom gout, IndexGeom gsrc, int dim, int64_t m) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < m; p += step)
    atomic_add(out + remap(p, gout, dim, index[p]), src[remap(p, gsrc, -1, 0)]);
}

template <class T>
__global__ void index_select_kernel(const T* __restrict__ in, const int64_t* __restrict__ index,
                                    T* __restrict__ out, int64_t n, int64_t m, int64_t inner, int64_t total) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t k = i % inner, j = (i / inner) % m, o = i / (inner * m);
    out[i] = in[(o * n + index[j]) * inner + k];
  }
}

template <class T>
__global__ void index_add_kernel(T* out, const int64_t* __restrict__ index, const T* __restrict__ src, int64_t n,
                                 int64_t m, int64_t inner, int64_t total) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t k = i % inner, j = (i / inner) % m, o = i / (inner * m);
    atomic_add(out + (o * n + index[j]) * inner + k, src[i]);
  }
}

// Throws the CPU backend's message if any index lies outside [0, n).
void check_range(const Tensor& index, int64_t n, const char* op, int64_t dim) {
  const int64_t m = index.numel();
  if (m == 0) return;
  Tensor flag = zeros({2}, TensorOptions(kInt64, Device(kDevice)));
  DUEL_LAUNCH(check_index_kernel, grid_for(m), kThreads, 0, launch_stream())(
      index.data<int64_t>(), m, n, reinterpret_cast<unsigned long long*>(flag.data<int64_t>()));
  DUEL_CHECK_LAUNCH("check_index_kernel");
  int64_t host[2] = {0, 0};
  allocator_for(Device(kDevice)).copy_to_host(host, flag.data<int64_t>(), sizeof(host));
  DUEL_CHECK(host[0] == 0, op, ": index ", host[1], " is out of bounds for dim ", dim, " of size ", n);
}

int64_t prod(const Shape& s, int64_t from, int64_t to) {
  int64_t p = 1;
  for (int64_t d = from; d < to; ++d) p *= s[d];
  return p;
}

void check_device(const Tensor& t, const char* op) {
  DUEL_CHECK(t.device().type == kDevice, op, ": tensor on ", t.device().str(), " passed to the ",
             Device(kDevice).str(), " kernel");
}

}  // namespace

void gather(const Tensor& in, int64_t dim, const Tensor& index, Tensor& out) {
  check_device(in, "gather");
  check_range(index, in.sizes()[dim], "gather", dim);
  const int64_t m = index.numel();
  if (m == 0) return;
  const IndexGeom g = make_geom(index.sizes(), contiguous_strides(in.sizes()), "gather");
  DUEL_DISPATCH_ALL(in.dtype(), "gather", [&] {
    using T = scalar_t;
    DUEL_LAUNCH((gather_kernel<T>), grid_for(m), kThreads, 0, launch_stream())(in.data<T>(), index.data<int64_t>(),
                                                                      out.data<T>(), g, static_cast<int>(dim), m);
    DUEL_CHECK_LAUNCH("gather_kernel");
  });
}

void scatter_add(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  check_device(out, "scatter_add");
  check_range(index, out.sizes()[dim], "scatter_add", dim);
  const int64_t m = index.numel();
  if (m == 0) return;
  const IndexGeom gout = make_geom(index.sizes(), contiguous_strides(out.sizes()), "scatter_add");
  const IndexGeom gsrc = make_geom(index.sizes(), contiguous_strides(src.sizes()), "scatter_add");
  DUEL_DISPATCH_NUMERIC(out.dtype(), "scatter_add", [&] {
    using T = scalar_t;
    DUEL_LAUNCH((scatter_add_kernel<T>), grid_for(m), kThreads, 0, launch_stream())(
        out.data<T>(), index.data<int64_t>(), src.data<T>(), gout, gsrc, static_cast<int>(dim), m);
    DUEL_CHECK_LAUNCH("scatter_add_kernel");
  });
}

void index_select(const Tensor& in, int64_t dim, const Tensor& index, Tensor& out) {
  check_device(in, "index_select");
  check_range(index, in.sizes()[dim], "index_select", dim);
  const int64_t n = in.sizes()[dim], m = index.numel();
  const int64_t outer = prod(in.sizes(), 0, dim), inner = prod(in.sizes(), dim + 1, in.dim());
  const int64_t total = outer * m * inner;
  if (total == 0) return;
  DUEL_DISPATCH_ALL(in.dtype(), "index_select", [&] {
    using T = scalar_t;
    DUEL_LAUNCH((index_select_kernel<T>), grid_for(total), kThreads, 0, launch_stream())(
        in.data<T>(), index.data<int64_t>(), out.data<T>(), n, m, inner, total);
    DUEL_CHECK_LAUNCH("index_select_kernel");
  });
}

void index_add(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  check_device(out, "index_add");
  check_range(index, out.sizes()[dim], "index_add", dim);
  const int64_t n = out.sizes()[dim], m = index.numel();
  const int64_t outer = prod(out.sizes(), 0, dim), inner = prod(out.sizes(), dim + 1, out.dim());
  const int64_t total = outer * m * inner;
  if (total == 0) return;
  DUEL_DISPATCH_NUMERIC(out.dtype(), "index_add", [&] {
    using T = scalar_t;
    DUEL_LAUNCH((index_add_kernel<T>), grid_for(total), kThreads, 0, launch_stream())(
        out.data<T>(), index.data<int64_t>(), src.data<T>(), n, m, inner, total);
    DUEL_CHECK_LAUNCH("index_add_kernel");
  });
}

}  // namespace duel::DUEL_BACKEND_NAMESPACE
