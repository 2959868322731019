// Shared helpers of duel's CUDA kernel sources (kernels/cuda/*.cu), for both builds
// (nvcc -> duel::cuda, the SIMT emulator -> duel::sim; see common.cuh):
//
//   kDevice               the DeviceType of this build (scratch tensors are allocated on it)
//   DUEL_CHECK_LAUNCH(name)  after every DUEL_LAUNCH: turns a launch error into an exception
//                         naming the kernel and the file:line of the launch
//   launch_stream()       the stream argument of every DUEL_LAUNCH (the current stream)
//   grid_for(n, threads)  1-D grid for a grid-stride loop over n items
//   OffsetCalc<N>         linear index -> element offsets of N strided operands
//   acc_t<T>, dm::*       accumulation types and float/double math overloads
//   warp_reduce / block_reduce   __shfl_down_sync tree + one shared slot per warp
#pragma once
#include <array>
#include <cstdint>
#include <type_traits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.h"
#include "kernels/cuda/stream.h"
#include "tensor/tensor.h"

namespace duel::DUEL_BACKEND_NAMESPACE {

#if defined(__CUDACC__)
inline constexpr DeviceType kDevice = DeviceType::CUDA;
#else
inline constexpr DeviceType kDevice = DeviceType::Sim;
#endif

// Throws (DUEL_FAIL) if the last launch failed: "cuda: kernel <name> launched at <file>:<line>
// failed: <error text> (<error name>)". Defined in kernels/sim/sim_device.cpp for the
// emulator (which throws launch errors from the launch itself, with the launch site, so
// there is nothing left to check) and in kernels/cuda/device.cu for CUDA (cudaGetLastError;
// with DUEL_CUDA_SYNC=1 it also synchronises the current stream, so that a kernel that
// faults while running is named at its own launch). Use DUEL_CHECK_LAUNCH(name).
void check_launch(const char* kernel, const char* file, int line);
inline void check_launch(const char* kernel) { check_launch(kernel, nullptr, 0); }
#define DUEL_CHECK_LAUNCH(kernel_name) check_launch((kernel_name), __FILE__, __LINE__)

// The stream argument of DUEL_LAUNCH: the calling thread's current stream
// (kernels/cuda/stream.h). The emulator ignores it (one serial queue).
inline cudaStream_t launch_stream() { return static_cast<cudaStream_t>(current_stream_handle()); }

constexpr int kThreads = 256;            // default block size of the 1-D kernels
constexpr int64_t kMaxGridX = 65535;     // grid-stride loops cap the grid here
constexpr unsigned kFullMask = 0xffffffffu;

inline unsigned grid_for(int64_t n, int threads = kThreads) {
  int64_t blocks = (n + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  if (blocks > kMaxGridX) blocks = kMaxGridX;
  return static_cast<unsigned>(blocks);
}

// Smallest multiple of 32 that is >= n, clamped to [32, cap].
inline int warp_multiple(int64_t n, int cap = kThreads) {
  int64_t t = (n + 31) / 32 * 32;
  if (t < 32) t = 32;
  if (t > cap) t = cap;
  return static_cast<int>(t);
}

// ------------------------------------------------------------------ strided iteration ----
// Up to kMaxDims dims after coalescing (dims that are contiguous in every operand merge).
constexpr int kMaxDims = 12;

template <int N>
struct OffsetCalc {
  int ndim = 0;
  int64_t sizes[kMaxDims];
  int64_t strides[N][kMaxDims];

  // Element offsets of linear (row-major) index i in each operand.
  DUEL_HOST_DEVICE DUEL_FORCEINLINE void get(int64_t i, int64_t (&off)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t size = sizes[d];
      const int64_t c = i % size;
      i /= size;
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += c * strides[k][d];
    }
  }
};

// Builds the offset calculator of N operands of shape `sizes` (strides per operand, 0 for
// broadcast dims), merging dims as kernels/cpu/loops.h does. `contiguous` is set when every
// operand is one dense run (offset == linear index).
template <int N>
OffsetCalc<N> make_offset_calc(const Shape& sizes, const std::array<Shape, N>& strides, bool* contiguous = nullptr) {
  // drop size-1 dims
  Shape s;
  std::array<Shape, N> st;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 1) continue;
    s.push_back(sizes[d]);
    for (int k = 0; k < N; ++k) st[k].push_back(strides[k][d]);
  }
  if (s.empty()) {
    s.push_back(1);
    for (int k = 0; k < N; ++k) st[k].push_back(0);
  }
  // merge from the innermost dim outwards (outermost-first result)
  Shape ms{s.back()};
  std::array<Shape, N> mst;
  for (int k = 0; k < N; ++k) mst[k].push_back(st[k].back());
  for (int64_t d = static_cast<int64_t>(s.size()) - 2; d >= 0; --d) {
    bool mergeable = true;
    for (int k = 0; k < N; ++k)
      if (st[k][d] != mst[k].back() * ms.back()) mergeable = false;
    if (mergeable) {
      ms.back() *= s[d];
    } else {
      ms.push_back(s[d]);
      for (int k = 0; k < N; ++k) mst[k].push_back(st[k][d]);
    }
  }
  DUEL_CHECK(static_cast<int>(ms.size()) <= kMaxDims, "device kernels: tensors with more than ", kMaxDims,
             " non-mergeable dims are not supported (shape ", shape_str(sizes), ")");
  OffsetCalc<N> c;
  c.ndim = static_cast<int>(ms.size());
  for (int d = 0; d < c.ndim; ++d) {
    c.sizes[d] = ms[c.ndim - 1 - d];
    for (int k = 0; k < N; ++k) c.strides[k][d] = mst[k][c.ndim - 1 - d];
  }
  if (contiguous) {
    bool dense = c.ndim == 1;
    for (int k = 0; k < N && dense; ++k) dense = c.strides[k][0] == 1 || c.sizes[0] == 1;
    *contiguous = dense;
  }
  return c;
}

// Strides of tensor t broadcast to out_sizes (trailing dims aligned, 0 where t has size 1).
inline Shape broadcast_strides(const Tensor& t, const Shape& out_sizes) {
  Shape s(out_sizes.size(), 0);
  const size_t off = out_sizes.size() - t.sizes().size();
  for (size_t d = 0; d < t.sizes().size(); ++d) s[d + off] = t.sizes()[d] == 1 ? 0 : t.strides()[d];
  return s;
}

// ------------------------------------------------------------------ types and math ----
// Accumulator of sums: double for float/double (as the CPU backend), int64 for integers.
template <class T>
using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

namespace dm {
DUEL_DEVICE DUEL_FORCEINLINE float exp(float x) { return ::expf(x); }
DUEL_DEVICE DUEL_FORCEINLINE double exp(double x) { return ::exp(x); }
DUEL_DEVICE DUEL_FORCEINLINE float log(float x) { return ::logf(x); }
DUEL_DEVICE DUEL_FORCEINLINE double log(double x) { return ::log(x); }
DUEL_DEVICE DUEL_FORCEINLINE float log1p(float x) { return ::log1pf(x); }
DUEL_DEVICE DUEL_FORCEINLINE double log1p(double x) { return ::log1p(x); }
DUEL_DEVICE DUEL_FORCEINLINE float sqrt(float x) { return ::sqrtf(x); }
DUEL_DEVICE DUEL_FORCEINLINE double sqrt(double x) { return ::sqrt(x); }
DUEL_DEVICE DUEL_FORCEINLINE float sin(float x) { return ::sinf(x); }
DUEL_DEVICE DUEL_FORCEINLINE double sin(double x) { return ::sin(x); }
DUEL_DEVICE DUEL_FORCEINLINE float cos(float x) { return ::cosf(x); }
DUEL_DEVICE DUEL_FORCEINLINE double cos(double x) { return ::cos(x); }
DUEL_DEVICE DUEL_FORCEINLINE float tanh(float x) { return ::tanhf(x); }
DUEL_DEVICE DUEL_FORCEINLINE double tanh(double x) { return ::tanh(x); }
DUEL_DEVICE DUEL_FORCEINLINE float pow(float x, float y) { return ::powf(x, y); }
DUEL_DEVICE DUEL_FORCEINLINE double pow(double x, double y) { return ::pow(x, y); }

// NaN test that works for every element type (integers are never NaN).
template <class T>
DUEL_HOST_DEVICE DUEL_FORCEINLINE bool is_nan(T v) {
  return v != v;
}
template <class T>
DUEL_DEVICE DUEL_FORCEINLINE T infinity();
template <>
DUEL_DEVICE DUEL_FORCEINLINE float infinity<float>() {
  return __int_as_float(0x7f800000);
}
template <>
DUEL_DEVICE DUEL_FORCEINLINE double infinity<double>() {
  return __longlong_as_double(0x7ff0000000000000LL);
}
// Identity of max (lowest) and min (highest) for every element type.
template <class T>
DUEL_DEVICE DUEL_FORCEINLINE T lowest() {
  if constexpr (std::is_floating_point_v<T>) return -infinity<T>();
  else if constexpr (std::is_same_v<T, uint8_t>) return 0;
  else return static_cast<T>(-0x7fffffffffffffffLL - 1);
}
template <class T>
DUEL_DEVICE DUEL_FORCEINLINE T highest() {
  if constexpr (std::is_floating_point_v<T>) return infinity<T>();
  else if constexpr (std::is_same_v<T, uint8_t>) return 255;
  else return static_cast<T>(0x7fffffffffffffffLL);
}
}  // namespace dm

// ------------------------------------------------------------------ warp/block reductions ----
// Combine functors (associative; Max/Min propagate NaN like the CPU backend).
struct SumOp {
  template <class A>
  DUEL_DEVICE DUEL_FORCEINLINE A operator()(A a, A b) const {
    return a + b;
  }
};
struct MaxOp {
  template <class A>
  DUEL_DEVICE DUEL_FORCEINLINE A operator()(A a, A b) const {
    return (b > a || dm::is_nan(b)) ? b : a;
  }
};
struct MinOp {
  template <class A>
  DUEL_DEVICE DUEL_FORCEINLINE A operator()(A a, A b) const {
    return (b < a || dm::is_nan(b)) ? b : a;
  }
};

// Tree reduction over the 32 lanes of a full warp; lane 0 ends with the total.
template <class A, class Op>
DUEL_DEVICE DUEL_FORCEINLINE A warp_reduce(A v, Op op) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) v = op(v, __shfl_down_sync(kFullMask, v, offset));
  return v;
}

// Reduction over a 1-D block whose size is a multiple of 32 (every thread must call it);
// every thread gets the total. One __shared__ slot per warp; ends with a barrier so that
// the block may call it again right away.
template <class A, class Op>
DUEL_DEVICE A block_reduce(A v, Op op, A identity) {
  __shared__ A partial[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
  v = warp_reduce(v, op);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    A w = lane < nwarps ? partial[lane] : identity;
    w = warp_reduce(w, op);
    if (lane == 0) partial[0] = w;
  }
  __syncthreads();
  const A total = partial[0];
  __syncthreads();
  return total;
}

}  // namespace duel::DUEL_BACKEND_NAMESPACE
