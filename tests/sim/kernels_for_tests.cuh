// CUDA kernels used by the SIMT emulator tests (tests/sim/test_sim.cpp). Written as
// ordinary CUDA with the two kernels/cuda/common.cuh macros, so that nvcc compiles this
// header too (nvcc -std=c++20 -arch=sm_80 -I<repo> -c x.cu); under DUEL_SIM g++ runs
// the same kernels on the CPU. The launch helpers take device pointers.
#pragma once
#include "kernels/cuda/common.cuh"

namespace simtest {

constexpr unsigned kFull = 0xffffffffu;

// ---------------------------------------------------------- vector add ----
__global__ void vec_add(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ c, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) c[i] = a[i] + b[i];
}

// One thread per element, no loop (the fast path at 1e6 threads).
__global__ void axpy(float alpha, const float* x, float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = alpha * x[i] + y[i];
}

// ----------------------------------------- block reduction, shared-memory tree ----
// out[blockIdx.x] = sum of in[blockIdx.x * BLOCK .. + BLOCK) (zero past n).
template <unsigned BLOCK>
__global__ void block_sum_tree(const float* in, float* out, int n) {
  __shared__ float s[BLOCK];
  const unsigned t = threadIdx.x;
  const int i = blockIdx.x * BLOCK + t;
  s[t] = i < n ? in[i] : 0.0f;
  __syncthreads();
  for (unsigned stride = BLOCK / 2; stride > 0; stride /= 2) {
    if (t < stride) s[t] += s[t + stride];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = s[0];
}

// The same reduction over dynamic shared memory; `with_sync = false` leaves out the
// __syncthreads() between filling shared memory and reading it (a real bug class).
__global__ void block_sum_dynamic(const float* in, float* out, int n, bool with_sync) {
  DUEL_DYNAMIC_SHARED(float, s);
  const unsigned t = threadIdx.x;
  const int i = blockIdx.x * blockDim.x + t;
  s[t] = i < n ? in[i] : 0.0f;
  if (with_sync) __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (t < stride) s[t] += s[t + stride];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = s[0];
}

// out[i] = in[i - 1] within each block (0 for a block's first thread), through shared
// memory. Without the barrier, running threads in index order hides the race (thread
// t-1 always wrote its slot before thread t reads it); a shuffled order exposes it.
__global__ void shift_right(const float* in, float* out, bool with_sync) {
  DUEL_DYNAMIC_SHARED(float, s);
  const unsigned t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
  s[t] = in[i];
  if (with_sync) __syncthreads();
  out[i] = t > 0 ? s[t - 1] : 0.0f;
}

// ------------------------------------------------- warp-shuffle reduction ----
__device__ __forceinline__ float warp_sum(float v) {
  for (int off = warpSize / 2; off > 0; off /= 2) v += __shfl_down_sync(kFull, v, off);
  return v;
}

// Block sum via shuffles: warp sums -> shared -> first warp. blockDim.x % 32 == 0.
__global__ void block_sum_shfl(const float* in, float* out, int n) {
  __shared__ float warp_sums[32];
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const unsigned lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize;
  float v = warp_sum(i < n ? in[i] : 0.0f);
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < blockDim.x / warpSize ? warp_sums[lane] : 0.0f;
    v = warp_sum(v);
    if (lane == 0) out[blockIdx.x] = v;
  }
}

// ----------------------------------------------------- dynamic shared memory ----
// Reverses each block-sized chunk through dynamic shared memory (n % blockDim.x == 0).
__global__ void reverse_chunks(const int* in, int* out) {
  DUEL_DYNAMIC_SHARED(int, s);
  const unsigned t = threadIdx.x, base = blockIdx.x * blockDim.x;
  s[t] = in[base + t];
  __syncthreads();
  out[base + t] = s[blockDim.x - 1 - t];
}

// ----------------------------------------------------- histogram with atomics ----
constexpr int kBins = 64;
__global__ void histogram(const int* in, unsigned* hist, int n) {
  __shared__ unsigned local[kBins];
  for (int b = threadIdx.x; b < kBins; b += blockDim.x) local[b] = 0;
  __syncthreads();
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
    atomicAdd(&local[in[i] % kBins], 1u);
  __syncthreads();
  for (int b = threadIdx.x; b < kBins; b += blockDim.x) atomicAdd(&hist[b], local[b]);
}

// Global float and double atomics, one add per thread.
__global__ void atomic_sums(const float* in, float* fsum, double* dsum, unsigned long long* count, int* imax, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    atomicAdd(fsum, in[i]);
    atomicAdd(dsum, static_cast<double>(in[i]));
    atomicAdd(count, 1ull);
    atomicMax(imax, static_cast<int>(in[i]));
  }
}

// --------------------------------------------------------------------- votes ----
// Per warp: ballot / any / all of (in[i] > 0); written by lane 0.
__global__ void votes(const int* in, unsigned* ballots, int* anys, int* alls) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const int pred = in[i] > 0;
  const unsigned b = __ballot_sync(kFull, pred);
  const int any = __any_sync(kFull, pred), all = __all_sync(kFull, pred);
  if (threadIdx.x % warpSize == 0) {
    const int w = i / warpSize;
    ballots[w] = b;
    anys[w] = any;
    alls[w] = all;
  }
}

// ----------------------------------------------- back-to-back shuffles ----
// Five shuffles in a row on one warp, each fed by the last (out: 5 x 32 ints).
__global__ void shuffle_chain(int* out) {
  const int lane = threadIdx.x;
  int v = lane * 10;
  int a = __shfl_xor_sync(kFull, v, 1);
  int b = __shfl_down_sync(kFull, a, 2);
  int c = __shfl_up_sync(kFull, b, 3);
  int d = __shfl_sync(kFull, c, 31 - lane);
  int e = __shfl_xor_sync(kFull, d, 5, 8);  // width 8 sub-sections
  out[0 * 32 + lane] = a;
  out[1 * 32 + lane] = b;
  out[2 * 32 + lane] = c;
  out[3 * 32 + lane] = d;
  out[4 * 32 + lane] = e;
}

// --------------------------------------------------------------- partial warps ----
// Block of blockDim.x (not a multiple of 32) threads. Per thread: the ballot of its
// warp, the broadcast of lane 0's value, and the warp sum of (tid + 1) computed with
// guarded shuffles (lanes that do not exist are never added).
__global__ void partial_warp(unsigned* ballots, int* bcast, int* sums) {
  const unsigned t = threadIdx.x, lane = t % warpSize;
  const unsigned warp_base = t - lane;
  const unsigned lanes_here = min(static_cast<unsigned>(warpSize), blockDim.x - warp_base);
  ballots[t] = __ballot_sync(kFull, 1);
  bcast[t] = __shfl_sync(kFull, static_cast<int>(t) * 3, 0);
  int v = static_cast<int>(t) + 1;
  for (unsigned off = 16; off > 0; off /= 2) {
    int other = __shfl_down_sync(kFull, v, off);
    if (lane + off < lanes_here) v += other;
  }
  __syncwarp();
  sums[t] = __shfl_sync(kFull, v, 0);
}

// ------------------------------------------------------ 2-D blocks: transpose ----
constexpr int kTile = 32;
// out (cols x rows) = transpose of in (rows x cols); block (32, 8), tile 32x33.
__global__ void transpose(const float* in, float* out, int rows, int cols) {
  __shared__ float tile[kTile][kTile + 1];
  int x = blockIdx.x * kTile + threadIdx.x;
  int y = blockIdx.y * kTile + threadIdx.y;
  for (int j = 0; j < kTile; j += blockDim.y)
    if (x < cols && y + j < rows) tile[threadIdx.y + j][threadIdx.x] = in[(y + j) * cols + x];
  __syncthreads();
  x = blockIdx.y * kTile + threadIdx.x;
  y = blockIdx.x * kTile + threadIdx.y;
  for (int j = 0; j < kTile; j += blockDim.y)
    if (x < rows && y + j < cols) out[(y + j) * rows + x] = tile[threadIdx.x][threadIdx.y + j];
}

// ------------------------------------------------ intrinsics and other atomics ----
// One block: thread t evaluates the math intrinsics on x[t]; all threads hammer a few
// integer atomics. f: 8 floats per thread, i: 4 ints per thread, a: 8 shared counters.
__global__ void intrinsics(const float* x, float* f, int* i, unsigned* a) {
  const unsigned t = threadIdx.x;
  const float v = x[t];
  float s, c;
  __sincosf(v, &s, &c);
  f[8 * t + 0] = __expf(v);
  f[8 * t + 1] = __logf(fabsf(v) + 1.0f);
  f[8 * t + 2] = rsqrtf(fabsf(v) + 1.0f);
  f[8 * t + 3] = __fdividef(v, 3.0f);
  f[8 * t + 4] = fmaxf(v, 0.25f) + fminf(v, -0.25f);
  f[8 * t + 5] = __powf(fabsf(v) + 1.0f, 1.5f) + __saturatef(v);
  f[8 * t + 6] = s * s + c * c;
  f[8 * t + 7] = __int_as_float(__float_as_int(v));
  i[4 * t + 0] = __float2int_rn(v * 4.0f);
  i[4 * t + 1] = __popc(t) + __clz(static_cast<int>(t)) * 100;
  i[4 * t + 2] = static_cast<int>(__brev(t) >> 22);
  i[4 * t + 3] = max(static_cast<int>(t) - 7, 0) + min(static_cast<int>(t), 3);
  atomicInc(&a[0], 9u);                       // wraps to 0 after 9
  atomicSub(&a[1], 2u);
  atomicOr(&a[2], 1u << (t % 32));
  atomicXor(&a[3], t);
  atomicMin(&a[4], t + 5);
  atomicExch(&a[5], 77u);
  unsigned old = atomicCAS(&a[6], t, t + 1);  // a[6] counts up only if we find our turn
  (void)old;
  atomicAnd(&a[7], ~(1u << (t % 32)));
}

// ------------------------------------------------------------ misbehaving kernels ----
// Only threads below `limit` reach the barrier.
__global__ void divergent_barrier(int* out, unsigned limit) {
  if (threadIdx.x < limit) __syncthreads();
  out[threadIdx.x] = 1;
}
// Only threads at or above `limit` reach the barrier.
__global__ void divergent_barrier_late(int* out, unsigned limit) {
  if (threadIdx.x >= limit) __syncthreads();
  out[threadIdx.x] = 1;
}
// Lanes below 16 leave before a full-mask shuffle.
__global__ void shuffle_after_exit(int* out) {
  if (threadIdx.x % 32 < 16) return;
  out[threadIdx.x] = __shfl_down_sync(kFull, static_cast<int>(threadIdx.x), 1);
}
// Writes out[0 .. n] inclusive: one element past the end.
__global__ void write_one_past_end(float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= n) out[i] = 1.0f;
}
// Barrier predicates.
__global__ void barrier_count(const int* in, int* count, int* all, int* any) {
  int p = in[threadIdx.x];
  int c = __syncthreads_count(p);
  int a = __syncthreads_and(p);
  int o = __syncthreads_or(p);
  if (threadIdx.x == 0) {
    *count = c;
    *all = a;
    *any = o;
  }
}
// Does nothing but exist (launch-limit checks).
__global__ void empty_kernel(int*) {}

// -------------------------------------------------------------- launch helpers ----
inline void launch_vec_add(const float* a, const float* b, float* c, int n, int grid, int block) {
  DUEL_LAUNCH(vec_add, grid, block, 0, 0)(a, b, c, n);
}
inline void launch_axpy(float alpha, const float* x, float* y, int n) {
  DUEL_LAUNCH(axpy, (n + 255) / 256, 256, 0, 0)(alpha, x, y, n);
}
inline void launch_block_sum_tree256(const float* in, float* out, int n) {
  DUEL_LAUNCH((block_sum_tree<256>), (n + 255) / 256, 256, 0, 0)(in, out, n);
}
inline void launch_block_sum_dynamic(const float* in, float* out, int n, int block, bool with_sync) {
  DUEL_LAUNCH(block_sum_dynamic, (n + block - 1) / block, block, block * sizeof(float), 0)(in, out, n, with_sync);
}
inline void launch_shift_right(const float* in, float* out, int n, int block, bool with_sync) {
  DUEL_LAUNCH(shift_right, n / block, block, block * sizeof(float), 0)(in, out, with_sync);
}
inline void launch_block_sum_shfl(const float* in, float* out, int n, int block) {
  DUEL_LAUNCH(block_sum_shfl, (n + block - 1) / block, block, 0, 0)(in, out, n);
}
inline void launch_reverse_chunks(const int* in, int* out, int n, int block) {
  DUEL_LAUNCH(reverse_chunks, n / block, block, block * sizeof(int), 0)(in, out);
}
inline void launch_histogram(const int* in, unsigned* hist, int n) {
  DUEL_LAUNCH(histogram, 8, 128, 0, 0)(in, hist, n);
}
inline void launch_atomic_sums(const float* in, float* fs, double* ds, unsigned long long* c, int* m, int n) {
  DUEL_LAUNCH(atomic_sums, (n + 127) / 128, 128, 0, 0)(in, fs, ds, c, m, n);
}
inline void launch_votes(const int* in, unsigned* ballots, int* anys, int* alls, int n, int block) {
  DUEL_LAUNCH(votes, n / block, block, 0, 0)(in, ballots, anys, alls);
}
inline void launch_shuffle_chain(int* out) { DUEL_LAUNCH(shuffle_chain, 1, 32, 0, 0)(out); }
inline void launch_partial_warp(unsigned* ballots, int* bcast, int* sums, int block) {
  DUEL_LAUNCH(partial_warp, 1, block, 0, 0)(ballots, bcast, sums);
}
inline void launch_transpose(const float* in, float* out, int rows, int cols) {
  DUEL_LAUNCH(transpose, dim3((cols + kTile - 1) / kTile, (rows + kTile - 1) / kTile), dim3(kTile, 8), 0, 0)
  (in, out, rows, cols);
}
inline void launch_intrinsics(const float* x, float* f, int* i, unsigned* a, int block) {
  DUEL_LAUNCH(intrinsics, 1, block, 0, 0)(x, f, i, a);
}
inline void launch_divergent_barrier(int* out, unsigned limit, int block) {
  DUEL_LAUNCH(divergent_barrier, 1, block, 0, 0)(out, limit);
}
inline void launch_divergent_barrier_late(int* out, unsigned limit, int block) {
  DUEL_LAUNCH(divergent_barrier_late, 1, block, 0, 0)(out, limit);
}
inline void launch_shuffle_after_exit(int* out) { DUEL_LAUNCH(shuffle_after_exit, 1, 32, 0, 0)(out); }
inline void launch_write_one_past_end(float* out, int n) {
  DUEL_LAUNCH(write_one_past_end, (n + 1 + 63) / 64, 64, 0, 0)(out, n);
}
inline void launch_barrier_count(const int* in, int* count, int* all, int* any, int block) {
  DUEL_LAUNCH(barrier_count, 1, block, 0, 0)(in, count, all, any);
}
inline void launch_empty(dim3 grid, dim3 block, size_t shmem) { DUEL_LAUNCH(empty_kernel, grid, block, shmem, 0)(nullptr); }

}  // namespace simtest
