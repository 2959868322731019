// Deliberately buggy CUDA kernels (and their correct twins) for the emulator's guards
// (tests/sim/test_sim_guards.cpp): the race detector, the warp run-ahead schedule and the
// poisoning of static __shared__ memory. Each bug is one a reviewer could miss and that
// the emulator's plain schedule hides: every CUDA thread of a block runs to its next
// barrier or warp collective in one piece, and static __shared__ memory starts at zero.
// Plain CUDA plus kernels/cuda/common.cuh, like tests/sim/kernels_for_tests.cuh.
#pragma once
#include "kernels/cuda/common.cuh"

namespace guardtest {

constexpr unsigned kFull = 0xffffffffu;

// ------------------------------------------------------------ lost updates ----
// out[index[i]] += src[i], as scatter_add / index_add in kernels/cuda/index.cu. Several i
// may name one element: only atomicAdd is right; `+=` is a read-modify-write that loses
// updates when two threads interleave (on a GPU, always, for threads of one warp).
template <class T>
__global__ void scatter_add(T* out, const int* index, const T* src, int n, bool atomic) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
    if (atomic) atomicAdd(out + index[i], src[i]);
    else out[index[i]] += src[i];
  }
}

// index_add over rows: out[index[j], k] += src[j, k] for a [m, inner] src (one thread per
// element of src), the layout of kernels/cuda/index.cu's index_add_kernel.
__global__ void index_add_rows(long long* out, const int* index, const long long* src, int m, int inner,
                               bool atomic) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= m * inner) return;
  const int j = i / inner, k = i % inner;
  long long* dst = out + index[j] * inner + k;
  if (atomic) atomicAdd(reinterpret_cast<unsigned long long*>(dst), static_cast<unsigned long long>(src[i]));
  else *dst += src[i];
}

// A per-block histogram in static shared memory; `atomic = false` counts with `+=`.
constexpr int kBins = 16;
__global__ void shared_histogram(const int* in, unsigned* hist, int n, bool atomic) {
  __shared__ unsigned local[kBins];
  for (int b = threadIdx.x; b < kBins; b += blockDim.x) local[b] = 0;
  __syncthreads();
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
    if (atomic) atomicAdd(&local[in[i] % kBins], 1u);
    else local[in[i] % kBins] += 1;
  }
  __syncthreads();
  for (int b = threadIdx.x; b < kBins; b += blockDim.x) atomicAdd(&hist[b], local[b]);
}

// Lanes 0 and 1 of every warp write the same shared slot one after the other; only a
// __syncwarp() between the two writes orders them. out[warp] = the slot's final value.
__global__ void two_lanes_one_slot(int* out, bool with_syncwarp) {
  __shared__ int slot[32];
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) slot[warp] = 1;
  if (with_syncwarp) __syncwarp();
  if (lane == 1) slot[warp] = 2;
  __syncthreads();
  if (lane == 0) out[blockIdx.x * (blockDim.x / 32) + warp] = slot[warp];
}

// ---------------------------------------------------- a warp running ahead ----
__device__ __forceinline__ double warp_sum(double v) {
  for (int off = 16; off > 0; off /= 2) v += __shfl_down_sync(kFull, v, off);
  return v;
}

// kernels/cuda/utils.cuh's block_reduce (sum), with its trailing barrier optional. Without
// it, warp 0 may leave, start the next reduction and overwrite partial[0] (its lane 0
// stores its new warp sum there) before a slower warp has read this reduction's total.
__device__ double block_sum(double v, bool trailing_sync) {
  __shared__ double partial[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
  v = warp_sum(v);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    double w = lane < nwarps ? partial[lane] : 0.0;
    w = warp_sum(w);
    if (lane == 0) partial[0] = w;
  }
  __syncthreads();
  const double total = partial[0];
  if (trailing_sync) __syncthreads();
  return total;
}

// Mean and (biased) variance of each row of x [rows, cols], one block per row: two block
// reductions in a row, as batch_norm's statistics and softmax do. blockDim.x % 32 == 0.
__global__ void row_mean_var(const double* x, double* mean, double* var, int cols, bool trailing_sync) {
  const double* row = x + static_cast<long long>(blockIdx.x) * cols;
  double s = 0.0;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) s += row[c];
  const double m = block_sum(s, trailing_sync) / cols;
  double q = 0.0;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) q += (row[c] - m) * (row[c] - m);
  const double v = block_sum(q, trailing_sync) / cols;
  if (threadIdx.x == 0) {
    mean[blockIdx.x] = m;
    var[blockIdx.x] = v;
  }
}

// --------------------------------------------- reads of unwritten shared memory ----
// out[block] = sum of the block's first k inputs (k <= 64), staged in static shared
// memory. The bug (`sum_all = true`): thread 0 adds up all 64 slots, of which only k were
// written. Static __shared__ memory starts at zero on the emulator (and a later block sees
// what the last one left), so the sum is right by luck unless the slots are poisoned.
__global__ void sum_first_k(const float* in, float* out, int k, bool sum_all) {
  __shared__ float s[64];
  const int t = threadIdx.x;
  if (t < k) s[t] = in[blockIdx.x * k + t];
  __syncthreads();
  if (t == 0) {
    float acc = 0.0f;
    for (int j = 0; j < (sum_all ? 64 : k); ++j) acc += s[j];
    out[blockIdx.x] = acc;
  }
}

// The same bug in a templated device function: warp 0 reduces all 32 slots of `partial`
// where only blockDim.x / 32 were written (the `lane < nwarps` guard forgotten).
template <class T>
__device__ T block_total(T v, bool guard) {
  __shared__ T partial[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
  for (int off = 16; off > 0; off /= 2) v += __shfl_down_sync(kFull, v, off);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  T w = T(0);
  if (warp == 0) {
    w = (!guard || lane < nwarps) ? partial[lane] : T(0);
    for (int off = 16; off > 0; off /= 2) w += __shfl_down_sync(kFull, w, off);
  }
  return w;  // valid in thread 0
}
template <class T>
__global__ void block_totals(const T* in, T* out, bool guard) {
  const T t = block_total(in[blockIdx.x * blockDim.x + threadIdx.x], guard);
  if (threadIdx.x == 0) out[blockIdx.x] = t;
}

// Writes out[0 .. n] inclusive: one element past the end (the race detector must not
// swallow the fault).
__global__ void write_past_end(float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= n) out[i] = 1.0f;
}

// -------------------------------------------------------------- launch helpers ----
template <class T>
inline void launch_scatter_add(T* out, const int* index, const T* src, int n, int grid, int block, bool atomic) {
  DUEL_LAUNCH((scatter_add<T>), grid, block, 0, 0)(out, index, src, n, atomic);
}
inline void launch_index_add_rows(long long* out, const int* index, const long long* src, int m, int inner,
                                  bool atomic) {
  DUEL_LAUNCH(index_add_rows, (m * inner + 127) / 128, 128, 0, 0)(out, index, src, m, inner, atomic);
}
inline void launch_shared_histogram(const int* in, unsigned* hist, int n, int grid, int block, bool atomic) {
  DUEL_LAUNCH(shared_histogram, grid, block, 0, 0)(in, hist, n, atomic);
}
inline void launch_two_lanes_one_slot(int* out, int grid, int block, bool with_syncwarp) {
  DUEL_LAUNCH(two_lanes_one_slot, grid, block, 0, 0)(out, with_syncwarp);
}
inline void launch_row_mean_var(const double* x, double* mean, double* var, int rows, int cols, int block,
                                bool trailing_sync) {
  DUEL_LAUNCH(row_mean_var, rows, block, 0, 0)(x, mean, var, cols, trailing_sync);
}
inline void launch_sum_first_k(const float* in, float* out, int blocks, int k, bool sum_all) {
  DUEL_LAUNCH(sum_first_k, blocks, 64, 0, 0)(in, out, k, sum_all);
}
inline void launch_write_past_end(float* out, int n) {
  DUEL_LAUNCH(write_past_end, (n + 1 + 63) / 64, 64, 0, 0)(out, n);
}
template <class T>
inline void launch_block_totals(const T* in, T* out, int blocks, int block, bool guard) {
  DUEL_LAUNCH((block_totals<T>), blocks, block, 0, 0)(in, out, guard);
}

}  // namespace guardtest
