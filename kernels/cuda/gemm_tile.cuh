// A hand-written tiled GEMM for both builds (nvcc and the SIMT emulator), shared by
// matmul.cu (plain strided batched products) and conv.cu (implicit-GEMM convolutions).
//
//   C[z](m, n) = sum_k A[z](m, k) * B[z](k, n)     for z < batches, m < M, n < N
//
// The operands are not arrays but a Problem functor, so the same kernel reads a strided
// matrix, or gathers an im2col column of an image on the fly (implicit GEMM), and
// scatters the result wherever it belongs:
//
//   struct Problem {
//     int64_t M, N, K, batches;
//     T a(int64_t z, int64_t m, int64_t k) const;          // only called in range
//     T b(int64_t z, int64_t k, int64_t n) const;
//     void store(int64_t z, int64_t m, int64_t n, T v) const;
//   };
//
// Parallelisation: a block of 256 threads computes a 64x64 tile of C (blockIdx.x: tile
// column, blockIdx.y: tile row, blockIdx.z: batch entry, grid-stride over batches
// beyond 65535). Thread (tx, ty) = (t % 16, t / 16) owns a 4x4 register micro-tile: rows
// ty + 16*i, columns tx + 16*j (i, j < 4), so that a warp's stores cover 16 consecutive
// columns of 2 rows. The K dim is walked in slabs of 16: the block cooperatively stages
// the 64x16 slab of A and the 16x64 slab of B in shared memory (4 elements per thread
// each, zero outside the matrix, so edge tiles need no special case), __syncthreads(),
// then every thread does 16 rank-1 updates of its micro-tile from shared memory (4 + 4
// shared loads for 16 FMAs), and a second barrier protects the slab before it is
// overwritten.
//
// Memory access: the A slab is loaded with consecutive threads on consecutive k (A
// rows are usually k-contiguous), the B slab with consecutive threads on consecutive n
// (B rows are n-contiguous), so global loads are coalesced for row-major operands. A is
// stored transposed in shared memory (As[k][m]) and both slabs have one column of
// padding, so the stores into shared memory are free of bank conflicts and the reads in
// the inner loop are broadcasts (As: 2 distinct addresses per warp) or 16 consecutive
// words (Bs). Each element of A and B is read from global memory 64 times less often
// than in a naive one-thread-per-output kernel.
//
// Accumulation happens in T (float or double), like the CPU backend's Eigen GEMM.
#pragma once
#include "kernels/cuda/utils.cuh"

namespace duel::DUEL_BACKEND_NAMESPACE {

constexpr int kGemmBM = 64, kGemmBN = 64, kGemmBK = 16, kGemmThreads = 256;

template <class T, class Problem>
__global__ void __launch_bounds__(kGemmThreads) gemm_tile_kernel(Problem p) {
  constexpr int BM = kGemmBM, BN = kGemmBN, BK = kGemmBK, TM = 4, TN = 4;
  __shared__ T As[BK][BM + 1];  // A slab, transposed
  __shared__ T Bs[BK][BN + 1];
  const int t = threadIdx.x;
  const int tx = t % 16, ty = t / 16;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * BM, n0 = static_cast<int64_t>(blockIdx.x) * BN;
  for (int64_t z = blockIdx.z; z < p.batches; z += gridDim.z) {
    T acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) acc[i][j] = T(0);

    for (int64_t k0 = 0; k0 < p.K; k0 += BK) {
#pragma unroll
      for (int r = 0; r < (BM * BK) / kGemmThreads; ++r) {
        const int e = t + r * kGemmThreads;
        const int mm = e / BK, kk = e % BK;
        const int64_t gm = m0 + mm, gk = k0 + kk;
        As[kk][mm] = (gm < p.M && gk < p.K) ? p.a(z, gm, gk) : T(0);
      }
#pragma unroll
      for (int r = 0; r < (BK * BN) / kGemmThreads; ++r) {
        const int e = t + r * kGemmThreads;
        const int kk = e / BN, nn = e % BN;
        const int64_t gk = k0 + kk, gn = n0 + nn;
        Bs[kk][nn] = (gk < p.K && gn < p.N) ? p.b(z, gk, gn) : T(0);
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < BK; ++kk) {
        T a[TM], b[TN];
#pragma unroll
        for (int i = 0; i < TM; ++i) a[i] = As[kk][ty + 16 * i];
#pragma unroll
        for (int j = 0; j < TN; ++j) b[j] = Bs[kk][tx + 16 * j];
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
          for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
      }
      __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < TM; ++i) {
      const int64_t m = m0 + ty + 16 * i;
      if (m >= p.M) continue;
#pragma unroll
      for (int j = 0; j < TN; ++j) {
        const int64_t n = n0 + tx + 16 * j;
        if (n < p.N) p.store(z, m, n, acc[i][j]);
      }
    }
  }
}

// Launches gemm_tile_kernel over the whole problem; `name`, `file` and `line` (the caller's
// __FILE__, __LINE__) are reported if the launch fails.
template <class T, class Problem>
void launch_gemm_tile(const Problem& p, const char* name, const char* file, int line) {
  if (p.M <= 0 || p.N <= 0 || p.batches <= 0) return;
  const int64_t gx = (p.N + kGemmBN - 1) / kGemmBN, gy = (p.M + kGemmBM - 1) / kGemmBM;
  DUEL_CHECK(gx <= 0x7fffffffLL && gy <= 65535, name, ": matrix too large for the tiled kernel (", p.M, " x ", p.N,
             ")");
  const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy),
                  static_cast<unsigned>(p.batches < 65535 ? p.batches : 65535));
  DUEL_LAUNCH((gemm_tile_kernel<T, Problem>), grid, kGemmThreads, 0, launch_stream())(p);
  check_launch(name, file, line);
}

}  // namespace duel::DUEL_BACKEND_NAMESPACE
