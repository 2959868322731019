// CPU GEMM for float32: packed, cache-blocked, with a register-tiled micro-kernel
// (the BLIS / GotoBLAS structure; Goto & van de Geijn, "Anatomy of High-Performance Matrix
// Multiplication", 2008; Van Zee & van de Geijn, "BLIS", 2015).
//
// Kernel versions (all compute the same blocks in the same order; only the micro-kernel differs):
//   generic  MR x NR = 6 x 16, plain C++ loops over a local accumulator tile; the compiler
//            vectorises it for whatever -march the build uses. The fallback everywhere.
//   avx2     6 x 16, AVX2 + FMA intrinsics: 12 ymm accumulators, per k two 8-float loads of B
//            and six broadcasts of A feed 12 FMAs (Haswell .. Zen 3; Zen 1 splits each into
//            two 128-bit halves).
//   avx512   12 x 32, AVX-512F: 24 zmm accumulators, per k two 16-float loads of B and twelve
//            broadcasts of A feed 24 FMAs (Skylake-X and later, Zen 4).
// The SIMD kernels are compiled with __attribute__((target(...))) and chosen at run time with
// __builtin_cpu_supports, so one binary runs on every x86-64 CPU the build flags allow.
// float64 (and float32 with DUEL_GEMM=eigen) runs through Eigen's GEMM, mapped on the operands.
//
// Blocking, for C[M,N] = A[M,K] B[K,N] (loop order of BLIS):
//   for jc over N in blocks of NC          B block [KC x NC] lives in L3
//     for pc over K in blocks of KC        pack B[pc:pc+KC, jc:jc+NC] into NR-wide micro-panels
//       for ic over M in blocks of MC      pack A[ic:ic+MC, pc:pc+KC] into MR-tall micro-panels (L2)
//         for jr over the block in NR      one B micro-panel [KC x NR] stays in L1 ...
//           for ir over the block in MR    ... while the A micro-panels stream from L2
//             micro-kernel: C[MR x NR] (+)= Apanel[MR x KC] Bpanel[KC x NR]
// A micro-panel holds, for each k, the MR values A[i, k] of its rows; a B micro-panel, for each
// k, the NR values B[k, j] of its columns. Panels are zero-padded at the M/N edges. At the
// bottom edge a kernel instantiated for the R < MR rows left runs; at the right edge the tile
// is computed into a local MR x NR tile and then added to C, so no kernel branches on edges.
// Transposing packs (row-major A, column-major B) use 8 x 8 AVX2 register transposes.
// The first K block overwrites C (unless the caller accumulates), later ones add to it: every
// element of C is summed in the same order whatever M, N or the thread split.
//
// Small M: when B is row-major (unit column stride) and M is small (<= 4 micro-panels), the B
// block is used by only a few A micro-panels and packing it would cost about as much as the
// product; the kernel then reads B in place (ldb = B's row stride) and only a partial last
// panel is packed. (Up to M = 64 was tried: slower when B's row stride is a multiple of 2 KB,
// because the rows of a B panel then fall into the same few L1 sets.)
//
// Measured (docs/performance.md, "duel's CPU GEMM"): on Zen 1 the AVX2 kernel runs at ~92% of
// the FMA peak on 1024^2 and within +-5% of OpenBLAS and Eigen on the bench's shapes; on
// Sapphire Rapids the AVX-512 kernel runs at 95% of the AVX-512 FMA peak on 1024^2, within
// 1-6% of OpenBLAS's SkylakeX kernel (and 1.7x the AVX2 kernel on the same CPU).
//
// Gathered operands (gemm_gather, the implicit-GEMM convolution of kernels/cpu/conv.cpp): the
// same blocked algorithm, where packing an operand gathers its elements through two offset
// tables (base[row[r] + col[c]]) and a finished micro-tile is written or added to C through
// them; kernels and blocking are unchanged. gemm_gather runs on the calling thread.
//
// Threads: gemm() splits the larger of M and N into one contiguous block per thread (a
// multiple of MR or NR), and each thread runs the serial algorithm above on its block with its
// own packing buffers. Each thread packs the whole of the other operand (small next to the
// product for the shapes where threads are used), and there is no synchronisation at all.
#include "kernels/cpu/gemm.h"

#include "kernels/impl.h"  // detail::impl_from_env

#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DUEL_GEMM_X86 1
#else
#define DUEL_GEMM_X86 0
#endif

// duel decides the threading itself (gemm() below): Eigen's own GEMM threading starts a team for
// products far too small to repay it.
#define EIGEN_DONT_PARALLELIZE
#include <Eigen/Core>

namespace duel::cpu {
namespace {

// ---------------------------------------------------------------------------
// micro-kernels: C[MR x NR] = (C +) A_panel B_panel
//   a: packed A micro-panel, a[k * MR + i] = A(i, k)
//   b: B micro-panel, b[k * ldb + j] = B(k, j) (packed: ldb = NR; in place: B's row stride)
//   c: row-major tile with leading dim ldc

using MicroKernel = void (*)(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                             bool accumulate);

// Each kernel is instantiated for R = 1 .. MR rows: a micro-panel at the bottom edge of M runs
// only the rows it has (its A panel is still MR wide and zero-padded), so a product with M = 32
// does 32 rows of work, not 36. Every element of C gets the same sequence of operations
// whichever R computes it.
template <int MR, int NR, int R>
void kernel_generic(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                    bool accumulate) {
  float acc[R][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const float* bk = b + k * ldb;
    const float* ak = a + k * MR;
    for (int i = 0; i < R; ++i) {
#pragma omp simd
      for (int j = 0; j < NR; ++j) acc[i][j] += ak[i] * bk[j];
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < NR; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

#if DUEL_GEMM_X86
// acc[i][0..1]: row i of the tile, columns 0-7 and 8-15. The loops over i are fully unrolled, so
// the 2R accumulators live in registers (12 of the 16 ymm registers for R = 6).
template <int R>
__attribute__((target("avx2,fma"))) void kernel_avx2_6x16(int64_t kc, const float* a, const float* b, int64_t ldb,
                                                          float* c, int64_t ldc, bool accumulate) {
  __m256 acc[R][2];
#pragma GCC unroll 6
  for (int i = 0; i < R; ++i) acc[i][0] = _mm256_setzero_ps(), acc[i][1] = _mm256_setzero_ps();
#pragma GCC unroll 6
  for (int i = 0; i < R; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 15), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < R; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += 6, b += ldb;
  }
#pragma GCC unroll 6
  for (int i = 0; i < R; ++i) {
    float* row = c + i * ldc;
    __m256 lo = acc[i][0], hi = acc[i][1];
    if (accumulate)
      lo = _mm256_add_ps(_mm256_loadu_ps(row), lo), hi = _mm256_add_ps(_mm256_loadu_ps(row + 8), hi);
    _mm256_storeu_ps(row, lo), _mm256_storeu_ps(row + 8, hi);
  }
}

// The same with zmm registers: 2R accumulators (24 of 32 for R = 12), per k two 16-float loads
// of B and R broadcasts of A.
template <int R>
__attribute__((target("avx512f"))) void kernel_avx512_12x32(int64_t kc, const float* a, const float* b,
                                                             int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  __m512 acc[R][2];
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i) acc[i][0] = _mm512_setzero_ps(), acc[i][1] = _mm512_setzero_ps();
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 31), _MM_HINT_T0);
  }
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 12
    for (int i = 0; i < R; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += 12, b += ldb;
  }
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i) {
    float* row = c + i * ldc;
    __m512 lo = acc[i][0], hi = acc[i][1];
    if (accumulate)
      lo = _mm512_add_ps(_mm512_loadu_ps(row), lo), hi = _mm512_add_ps(_mm512_loadu_ps(row + 16), hi);
    _mm512_storeu_ps(row, lo), _mm512_storeu_ps(row + 16, hi);
  }
}
#endif

// kernels[R - 1] computes R rows (R = 1 .. MR).
using KernelTable = std::array<MicroKernel, 12>;
template <size_t... I>
constexpr KernelTable generic_kernels(std::index_sequence<I...>) {
  return {kernel_generic<6, 16, static_cast<int>(I) + 1>...};
}
#if DUEL_GEMM_X86
template <size_t... I>
constexpr KernelTable avx2_kernels(std::index_sequence<I...>) {
  return {kernel_avx2_6x16<static_cast<int>(I) + 1>...};
}
template <size_t... I>
constexpr KernelTable avx512_kernels(std::index_sequence<I...>) {
  return {kernel_avx512_12x32<static_cast<int>(I) + 1>...};
}
#endif

// One kernel version: micro-tile and cache blocks. MC is a multiple of MR, NC of NR.
struct KernelSpec {
  GemmImpl impl;
  int mr, nr;
  int64_t mc, kc, nc;
  KernelTable kernels;  // kernels[R - 1]: R rows of the tile
  int64_t direct_b_max_rows;  // read a row-major B in place when M <= this
  bool simd_pack;             // transposing packs with AVX2
};

// Blocks: KC x NR floats of B (16 KB for AVX2) in L1 next to the A micro-panel; MC x KC of A
// (144 KB) in L2; KC x NC of B in L3. The sizes are those of BLIS's Zen and Skylake-X configs.
constexpr KernelSpec kGeneric{GemmImpl::Generic, 6, 16, 144, 256, 4080, generic_kernels(std::make_index_sequence<6>()), 24, false};
#if DUEL_GEMM_X86
constexpr KernelSpec kAvx2{GemmImpl::Avx2, 6, 16, 144, 256, 4080, avx2_kernels(std::make_index_sequence<6>()), 24, true};
constexpr KernelSpec kAvx512{GemmImpl::Avx512, 12, 32, 240, 384, 3072, avx512_kernels(std::make_index_sequence<12>()), 48, true};
#endif

// ---------------------------------------------------------------------------
// packing

// Per-thread packing buffers, 64-byte aligned, grown on demand and reused across calls.
float* thread_buffer(int slot, int64_t count) {
  struct Buffer {
    float* data = nullptr;
    int64_t size = 0;
    ~Buffer() { std::free(data); }
  };
  static thread_local Buffer buffers[3];
  Buffer& buf = buffers[slot];
  if (buf.size < count) {
    std::free(buf.data);
    const size_t bytes = (static_cast<size_t>(count) * sizeof(float) + 63) / 64 * 64;
    buf.data = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!buf.data) throw std::bad_alloc();
    buf.size = count;
  }
  return buf.data;
}

// A[mb x kb] (element (i, k) at a[i * rs + k * cs]) -> MR-tall micro-panels, zero-padded.
template <int MR>
void pack_a(int64_t mb, int64_t kb, const float* a, int64_t rs, int64_t cs, float* dst) {
  for (int64_t i0 = 0; i0 < mb; i0 += MR, dst += MR * kb) {
    const int64_t rows = std::min<int64_t>(MR, mb - i0);
    const float* src = a + i0 * rs;
    if (rows == MR && cs == 1) {  // row-major A: MR row streams, written interleaved
      for (int64_t k = 0; k < kb; ++k)
        for (int i = 0; i < MR; ++i) dst[k * MR + i] = src[i * rs + k];
    } else if (rows == MR && rs == 1) {  // column-major A: MR contiguous values per k
      for (int64_t k = 0; k < kb; ++k)
        for (int i = 0; i < MR; ++i) dst[k * MR + i] = src[k * cs + i];
    } else {
      for (int64_t k = 0; k < kb; ++k) {
        for (int64_t i = 0; i < rows; ++i) dst[k * MR + i] = src[i * rs + k * cs];
        for (int64_t i = rows; i < MR; ++i) dst[k * MR + i] = 0.0f;
      }
    }
  }
}

// B[kb x nb] (element (k, j) at b[k * rs + j * cs]) -> NR-wide micro-panels, zero-padded.
template <int NR>
void pack_b(int64_t kb, int64_t nb, const float* b, int64_t rs, int64_t cs, float* dst) {
  for (int64_t j0 = 0; j0 < nb; j0 += NR, dst += NR * kb) {
    const int64_t cols = std::min<int64_t>(NR, nb - j0);
    const float* src = b + j0 * cs;
    if (cols == NR && cs == 1) {  // row-major B: NR contiguous values per k
      for (int64_t k = 0; k < kb; ++k)
        for (int j = 0; j < NR; ++j) dst[k * NR + j] = src[k * rs + j];
    } else if (cols == NR && rs == 1) {  // column-major B (a transposed row-major matrix)
      // Blocks of 8 k: NR column streams are read 8 values at a time.
      int64_t k0 = 0;
      for (; k0 + 8 <= kb; k0 += 8)
        for (int j = 0; j < NR; ++j)
          for (int k = 0; k < 8; ++k) dst[(k0 + k) * NR + j] = src[j * cs + k0 + k];
      for (; k0 < kb; ++k0)
        for (int j = 0; j < NR; ++j) dst[k0 * NR + j] = src[j * cs + k0];
    } else {
      for (int64_t k = 0; k < kb; ++k) {
        for (int64_t j = 0; j < cols; ++j) dst[k * NR + j] = src[k * rs + j * cs];
        for (int64_t j = cols; j < NR; ++j) dst[k * NR + j] = 0.0f;
      }
    }
  }
}

#if DUEL_GEMM_X86
// The transposing packs with AVX2: 8 x 8 blocks go through registers (8 row loads, a register
// transpose, 8 stores) instead of 64 scalar loads and stores. Used by the AVX2 and AVX-512
// kernels (every AVX-512 CPU has AVX2); the other cases fall back to pack_a / pack_b.
__attribute__((target("avx2"))) inline void transpose8x8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20), r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20), r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31), r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31), r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// Row-major A (cs == 1) -> MR-tall micro-panels, MR = 6 or 12. Rows are taken 8 at a time (the
// missing ones as zeros); for MR = 6 each k's 8-float store runs 2 floats into the next k, which
// the next store overwrites (the buffers have 8 floats of slack for the last one).
template <int MR>
__attribute__((target("avx2"))) void pack_a_rows_avx2(int64_t mb, int64_t kb, const float* a, int64_t rs, float* dst) {
  for (int64_t i0 = 0; i0 < mb; i0 += MR, dst += MR * kb) {
    const int64_t rows = std::min<int64_t>(MR, mb - i0);
    const float* src = a + i0 * rs;
    const int64_t k_simd = kb / 8 * 8;
    // Groups of 8 rows outside, k inside: at most 8 row streams at a time, each cache line
    // read by consecutive iterations (more streams at a large power-of-two row stride
    // would evict each other from L1 before the second half of a line is used).
    for (int g = 0; g < MR; g += 8) {
      for (int64_t k0 = 0; k0 < k_simd; k0 += 8) {
        __m256 r[8];
        for (int i = 0; i < 8; ++i)
          r[i] = g + i < rows ? _mm256_loadu_ps(src + (g + i) * rs + k0) : _mm256_setzero_ps();
        transpose8x8(r);
        if (MR - g >= 8 || MR % 8 == 6) {
          for (int k = 0; k < 8; ++k) _mm256_storeu_ps(dst + (k0 + k) * MR + g, r[k]);
        } else {  // 4 rows left (MR = 12)
          for (int k = 0; k < 8; ++k) _mm_storeu_ps(dst + (k0 + k) * MR + g, _mm256_castps256_ps128(r[k]));
        }
      }
    }
    for (int64_t k0 = k_simd; k0 < kb; ++k0) {
      for (int64_t i = 0; i < rows; ++i) dst[k0 * MR + i] = src[i * rs + k0];
      for (int64_t i = rows; i < MR; ++i) dst[k0 * MR + i] = 0.0f;
    }
  }
}

// Column-major B (rs == 1: the transpose of a row-major matrix) -> NR-wide micro-panels.
template <int NR>
__attribute__((target("avx2"))) void pack_b_cols_avx2(int64_t kb, int64_t nb, const float* b, int64_t cs, float* dst) {
  for (int64_t j0 = 0; j0 < nb; j0 += NR, dst += NR * kb) {
    const int64_t cols = std::min<int64_t>(NR, nb - j0);
    const float* src = b + j0 * cs;
    const int64_t k_simd = kb / 8 * 8;
    for (int g = 0; g < NR; g += 8) {  // 8 column streams at a time, as in pack_a_rows_avx2
      for (int64_t k0 = 0; k0 < k_simd; k0 += 8) {
        __m256 r[8];
        for (int j = 0; j < 8; ++j)
          r[j] = g + j < cols ? _mm256_loadu_ps(src + (g + j) * cs + k0) : _mm256_setzero_ps();
        transpose8x8(r);
        for (int k = 0; k < 8; ++k) _mm256_storeu_ps(dst + (k0 + k) * NR + g, r[k]);
      }
    }
    for (int64_t k0 = k_simd; k0 < kb; ++k0) {
      for (int64_t j = 0; j < cols; ++j) dst[k0 * NR + j] = src[j * cs + k0];
      for (int64_t j = cols; j < NR; ++j) dst[k0 * NR + j] = 0.0f;
    }
  }
}
#endif

template <int MR>
void pack_a_any(bool simd, int64_t mb, int64_t kb, const float* a, int64_t rs, int64_t cs, float* dst) {
#if DUEL_GEMM_X86
  if (simd && cs == 1 && rs != 0) return pack_a_rows_avx2<MR>(mb, kb, a, rs, dst);
#endif
  pack_a<MR>(mb, kb, a, rs, cs, dst);
}

template <int NR>
void pack_b_any(bool simd, int64_t kb, int64_t nb, const float* b, int64_t rs, int64_t cs, float* dst) {
#if DUEL_GEMM_X86
  if (simd && rs == 1 && cs != 0) return pack_b_cols_avx2<NR>(kb, nb, b, cs, dst);
#endif
  pack_b<NR>(kb, nb, b, rs, cs, dst);
}

// Gathered operands (gemm_gather, for the implicit-GEMM convolution): element (r, c) at
// base[row[r] + col[c]]. The packs below gather straight into the micro-panels.

// B block rows [p0, p0+kb) x columns [j0, j0+nb) -> NR-wide micro-panels, zero-padded. A panel
// whose NR offsets are consecutive (a conv's output row with stride 1) is copied row by row;
// otherwise each k's NR values are one vector gather (`omp simd`: vgatherdps under AVX2/AVX-512).
template <int NR>
void pack_b_gather(const GatherMatrix& B, int64_t p0, int64_t kb, int64_t j0, int64_t nb, float* dst) {
  const int32_t* row = B.row + p0;
  for (int64_t jp = 0; jp < nb; jp += NR, dst += NR * kb) {
    const int64_t cols = std::min<int64_t>(NR, nb - jp);
    const int32_t* col = B.col + j0 + jp;
    if (cols == NR) {
      bool consecutive = true;
      for (int j = 1; j < NR; ++j) consecutive &= col[j] == col[0] + j;
      if (consecutive) {
        for (int64_t k = 0; k < kb; ++k) std::memcpy(dst + k * NR, B.base + row[k] + col[0], sizeof(float) * NR);
      } else {
        for (int64_t k = 0; k < kb; ++k) {
          const float* src = B.base + row[k];
          float* d = dst + k * NR;
#pragma omp simd
          for (int j = 0; j < NR; ++j) d[j] = src[col[j]];
        }
      }
    } else {
      for (int64_t k = 0; k < kb; ++k) {
        const float* src = B.base + row[k];
        for (int64_t j = 0; j < cols; ++j) dst[k * NR + j] = src[col[j]];
        for (int64_t j = cols; j < NR; ++j) dst[k * NR + j] = 0.0f;
      }
    }
  }
}

// A block rows [i0, i0+mb) x columns [p0, p0+kb) -> MR-tall micro-panels, zero-padded.
template <int MR>
void pack_a_gather(const GatherMatrix& A, int64_t i0, int64_t mb, int64_t p0, int64_t kb, float* dst) {
  const int32_t* col = A.col + p0;
  for (int64_t ip = 0; ip < mb; ip += MR, dst += MR * kb) {
    const int64_t rows = std::min<int64_t>(MR, mb - ip);
    const int32_t* row = A.row + i0 + ip;
    for (int64_t i = 0; i < rows; ++i) {
      const float* src = A.base + row[i];
      for (int64_t k = 0; k < kb; ++k) dst[k * MR + i] = src[col[k]];
    }
    for (int64_t i = rows; i < MR; ++i)
      for (int64_t k = 0; k < kb; ++k) dst[k * MR + i] = 0.0f;
  }
}

// ---------------------------------------------------------------------------
// the blocked algorithm on one thread
//
// gemm_blocked is written once over three policies: how the A block is packed, how the B block
// is packed (or read in place), and how a finished micro-tile reaches C. Dense* are strided
// matrices (gemm()), Gather* the offset-table ones (gemm_gather()).

struct Operand {
  const float* p;
  int64_t rs, cs;  // element (r, c) at p[r * rs + c * cs]
};

struct DenseA {
  Operand op;
  template <int MR>
  void pack(bool simd, int64_t i0, int64_t mb, int64_t p0, int64_t kb, float* dst) const {
    pack_a_any<MR>(simd, mb, kb, op.p + i0 * op.rs + p0 * op.cs, op.rs, op.cs, dst);
  }
};
struct GatherA {
  GatherMatrix m;
  template <int MR>
  void pack(bool, int64_t i0, int64_t mb, int64_t p0, int64_t kb, float* dst) const {
    pack_a_gather<MR>(m, i0, mb, p0, kb, dst);
  }
};

// Small M: a row-major B is read in place (see the header comment); only dense B can be.
struct DenseB {
  Operand op;
  bool direct(const KernelSpec& ks, int64_t M) const { return op.cs == 1 && M <= ks.direct_b_max_rows; }
  const float* at(int64_t p0, int64_t j0) const { return op.p + p0 * op.rs + j0 * op.cs; }
  int64_t ld() const { return op.rs; }
  template <int NR>
  void pack(bool simd, int64_t p0, int64_t kb, int64_t j0, int64_t nb, float* dst) const {
    pack_b_any<NR>(simd, kb, nb, at(p0, j0), op.rs, op.cs, dst);
  }
};
struct GatherB {
  GatherMatrix m;
  bool direct(const KernelSpec&, int64_t) const { return false; }
  const float* at(int64_t, int64_t) const { return nullptr; }
  int64_t ld() const { return 0; }
  template <int NR>
  void pack(bool, int64_t p0, int64_t kb, int64_t j0, int64_t nb, float* dst) const {
    pack_b_gather<NR>(m, p0, kb, j0, nb, dst);
  }
};

// A full tile goes straight from the kernel to a dense C; an edge tile through `tile`.
struct DenseC {
  float* c;
  int64_t ldc;
  bool accumulate;
  template <int MR, int NR>
  void run(MicroKernel kernel, int64_t kb, const float* a, const float* b, int64_t ldb, int64_t i0, int64_t j0,
           int64_t rows, int64_t cols, bool acc, float* tile) const {
    float* c_tile = c + i0 * ldc + j0;
    if (cols == NR) return kernel(kb, a, b, ldb, c_tile, ldc, acc);
    kernel(kb, a, b, ldb, tile, NR, false);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        c_tile[i * ldc + j] = acc ? c_tile[i * ldc + j] + tile[i * NR + j] : tile[i * NR + j];
  }
};
// Every tile through `tile`, then to its addresses (added there, unless this is the first K
// block of a Store). Written row by row with plain vector loads and stores when the tile's
// column offsets are consecutive (a conv's output row), else column by column when its row
// offsets are (consecutive taps, e.g. a transposed convolution of 1x1 inputs), else one
// element at a time: AVX-512 scatters (`omp simd`) made the DQN input gradient 10 % slower.
struct GatherC {
  GatherOutput out;
  bool accumulate;  // out.mode != Store
  template <int MR, int NR>
  void run(MicroKernel kernel, int64_t kb, const float* a, const float* b, int64_t ldb, int64_t i0, int64_t j0,
           int64_t rows, int64_t cols, bool acc, float* tile) const {
    kernel(kb, a, b, ldb, tile, NR, false);
    const int32_t* col = out.col + j0;
    const int32_t* row = out.row + i0;
    bool cols_consecutive = true, rows_consecutive = true;
    for (int64_t j = 1; j < cols; ++j) cols_consecutive &= col[j] == col[0] + j;
    for (int64_t i = 1; i < rows; ++i) rows_consecutive &= row[i] == row[0] + i;
    if (cols_consecutive) {
      for (int64_t i = 0; i < rows; ++i) {
        float* d = out.base + row[i] + col[0];
        const float* t = tile + i * NR;
        if (acc) {
          for (int64_t j = 0; j < cols; ++j) d[j] += t[j];
        } else {
          for (int64_t j = 0; j < cols; ++j) d[j] = t[j];
        }
      }
    } else if (rows_consecutive) {
      for (int64_t j = 0; j < cols; ++j) {
        float* d = out.base + row[0] + col[j];
        if (acc) {
          for (int64_t i = 0; i < rows; ++i) d[i] += tile[i * NR + j];
        } else {
          for (int64_t i = 0; i < rows; ++i) d[i] = tile[i * NR + j];
        }
      }
    } else {
      for (int64_t i = 0; i < rows; ++i) {
        float* dst = out.base + row[i];
        const float* t = tile + i * NR;
        if (acc) {
          for (int64_t j = 0; j < cols; ++j) dst[col[j]] += t[j];
        } else {
          for (int64_t j = 0; j < cols; ++j) dst[col[j]] = t[j];
        }
      }
    }
  }
};

template <int MR, int NR, class AOp, class BOp, class COp>
void gemm_blocked(const KernelSpec& ks, int64_t M, int64_t N, int64_t K, const AOp& A, const BOp& B, const COp& C) {
  // K blocks of (nearly) equal size, at most KC: a remainder block of a few k would run the
  // micro-kernel with little work per load and store of C. Depends on K only (not on the split).
  const int64_t k_blocks = (K + ks.kc - 1) / ks.kc;
  const int64_t kc = (K + k_blocks - 1) / k_blocks;
  const int64_t nc = std::min<int64_t>(ks.nc, (N + NR - 1) / NR * NR);
  const int64_t mc = std::min<int64_t>(ks.mc, (M + MR - 1) / MR * MR);
  const bool direct_b = B.direct(ks, M);
  float* packed_a = thread_buffer(0, mc * kc + 8);  // + 8: see pack_a_rows_avx2
  float* packed_b = thread_buffer(1, (direct_b ? NR : nc) * kc + 8);
  alignas(64) float tile[MR * NR];

  for (int64_t jc = 0; jc < N; jc += nc) {
    const int64_t nb = std::min(nc, N - jc);
    for (int64_t pc = 0; pc < K; pc += kc) {
      const int64_t kb = std::min(kc, K - pc);
      const bool acc = C.accumulate || pc > 0;
      const int64_t j_last = nb / NR * NR;  // direct B: only the partial last panel is packed
      if (!direct_b) B.template pack<NR>(ks.simd_pack, pc, kb, jc, nb, packed_b);
      else if (j_last < nb) B.template pack<NR>(ks.simd_pack, pc, kb, jc + j_last, nb - j_last, packed_b);
      for (int64_t ic = 0; ic < M; ic += mc) {
        const int64_t mb = std::min(mc, M - ic);
        A.template pack<MR>(ks.simd_pack, ic, mb, pc, kb, packed_a);
        for (int64_t jr = 0; jr < nb; jr += NR) {
          const int64_t cols = std::min<int64_t>(NR, nb - jr);
          const float* b_panel;
          int64_t ldb;
          if (!direct_b) b_panel = packed_b + jr * kb, ldb = NR;
          else if (cols == NR) b_panel = B.at(pc, jc + jr), ldb = B.ld();
          else b_panel = packed_b, ldb = NR;
          for (int64_t ir = 0; ir < mb; ir += MR) {
            const int64_t rows = std::min<int64_t>(MR, mb - ir);
            C.template run<MR, NR>(ks.kernels[rows - 1], kb, packed_a + ir * kb, b_panel, ldb, ic + ir, jc + jr,
                                   rows, cols, acc, tile);
          }
        }
      }
    }
  }
}

template <class AOp, class BOp, class COp>
void gemm_blocked(const KernelSpec& ks, int64_t M, int64_t N, int64_t K, const AOp& A, const BOp& B, const COp& C) {
  if (ks.mr == 6 && ks.nr == 16) return gemm_blocked<6, 16>(ks, M, N, K, A, B, C);
  if (ks.mr == 12 && ks.nr == 32) return gemm_blocked<12, 32>(ks, M, N, K, A, B, C);
  std::abort();
}

void gemm_blocked(const KernelSpec& ks, int64_t M, int64_t N, int64_t K, Operand A, Operand B, float* c, int64_t ldc,
                  bool accumulate) {
  gemm_blocked(ks, M, N, K, DenseA{A}, DenseB{B}, DenseC{c, ldc, accumulate});
}

// ---------------------------------------------------------------------------
// Eigen (float64, and the reference for float32)

template <class T>
void gemm_eigen(int64_t M, int64_t N, int64_t K, const T* a, int64_t as1, int64_t as2, const T* b, int64_t bs1,
                int64_t bs2, T* c, int64_t ldc, bool accumulate) {
  using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ColMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  using OStride = Eigen::OuterStride<>;
  Eigen::Map<RowMat, 0, OStride> C(c, M, N, OStride(ldc));
  auto product = [&](const auto& A, const auto& B) {
    if (accumulate) C.noalias() += A * B;
    else C.noalias() = A * B;
  };
  // An operand is mapped without a copy when one of its dims has unit stride (or size 1) and the other
  // a positive stride (or size 1); the outer stride of a single row/column is irrelevant. Stride-0
  // (expanded) dims are copied: a mapped outer stride must describe the real layout.
  auto with_b = [&](const auto& A) {
    if ((bs2 == 1 || N == 1) && (bs1 > 0 || K == 1)) {
      Eigen::Map<const RowMat, 0, OStride> B(b, K, N, OStride(K == 1 ? std::max<int64_t>(N, 1) : bs1));
      product(A, B);
    } else if ((bs1 == 1 || K == 1) && (bs2 > 0 || N == 1)) {
      Eigen::Map<const ColMat, 0, OStride> B(b, K, N, OStride(N == 1 ? std::max<int64_t>(K, 1) : bs2));
      product(A, B);
    } else {
      RowMat B(K, N);
      for (int64_t k = 0; k < K; ++k)
        for (int64_t n = 0; n < N; ++n) B(k, n) = b[k * bs1 + n * bs2];
      product(A, B);
    }
  };
  if ((as2 == 1 || K == 1) && (as1 > 0 || M == 1)) {
    Eigen::Map<const RowMat, 0, OStride> A(a, M, K, OStride(M == 1 ? std::max<int64_t>(K, 1) : as1));
    with_b(A);
  } else if ((as1 == 1 || M == 1) && (as2 > 0 || K == 1)) {
    Eigen::Map<const ColMat, 0, OStride> A(a, M, K, OStride(K == 1 ? std::max<int64_t>(M, 1) : as2));
    with_b(A);
  } else {
    RowMat A(M, K);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t k = 0; k < K; ++k) A(m, k) = a[m * as1 + k * as2];
    with_b(A);
  }
}

// ---------------------------------------------------------------------------
// dispatch

bool cpu_has(GemmImpl impl) {
#if DUEL_GEMM_X86
  if (impl == GemmImpl::Avx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (impl == GemmImpl::Avx512) return __builtin_cpu_supports("avx512f");
#endif
  return impl == GemmImpl::Eigen || impl == GemmImpl::Generic || impl == GemmImpl::Auto;
}

const KernelSpec* spec_for(GemmImpl impl) {
  switch (impl) {
#if DUEL_GEMM_X86
    case GemmImpl::Avx2: return &kAvx2;
    case GemmImpl::Avx512: return &kAvx512;
#endif
    case GemmImpl::Generic: return &kGeneric;
    default: return nullptr;
  }
}

// Auto's choice. The AVX-512 kernel is checked once against the portable one on a small product
// before it is trusted (it could not be run on the machine it was written on); a mismatch falls
// back to AVX2 with a message on stderr.
GemmImpl auto_impl() {
  static const GemmImpl chosen = [] {
    if (cpu_has(GemmImpl::Avx512)) {
      const int64_t M = 29, N = 71, K = 45;
      std::vector<float> a(M * K), b(K * N), c1(M * N), c2(M * N);
      for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(static_cast<int>(i * 7 % 13) - 6);
      for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(static_cast<int>(i * 5 % 11) - 5);
      // small integers: every product and partial sum is exact, so both kernels agree bitwise
      gemm_blocked(kAvx512, M, N, K, {a.data(), K, 1}, {b.data(), N, 1}, c1.data(), N, false);
      gemm_blocked(kGeneric, M, N, K, {a.data(), K, 1}, {b.data(), N, 1}, c2.data(), N, false);
      if (c1 == c2) return GemmImpl::Avx512;
      std::fprintf(stderr, "duel: the AVX-512 GEMM kernel failed its self-check; using AVX2\n");
    }
    if (cpu_has(GemmImpl::Avx2)) return GemmImpl::Avx2;
    return GemmImpl::Generic;
  }();
  return chosen;
}

// DUEL_IMPL's cpu:gemm (kernels/impl.h) when it names one, else DUEL_GEMM.
GemmImpl initial_impl() {
  GemmImpl impl = GemmImpl::Auto;
  const std::string from_impl = detail::impl_from_env("cpu:gemm");  // throws on a malformed DUEL_IMPL
  const char* var = from_impl.empty() ? "DUEL_GEMM" : "DUEL_IMPL's cpu:gemm";
  const char* env = from_impl.empty() ? std::getenv("DUEL_GEMM") : from_impl.c_str();
  if (env) {
    if (!parse_gemm_impl(env, impl)) {
      std::fprintf(stderr, "duel: %s=%s is not one of eigen|auto|generic|avx2|avx512; using auto\n", var, env);
      impl = GemmImpl::Auto;
    } else if (!cpu_has(impl)) {
      std::fprintf(stderr, "duel: %s=%s: this CPU cannot run it; using auto\n", var, env);
      impl = GemmImpl::Auto;
    }
  }
  return impl;
}

std::atomic<GemmImpl>& current_impl() {
  static std::atomic<GemmImpl> impl{initial_impl()};
  return impl;
}

GemmImpl resolve(GemmImpl impl) {
  if (impl == GemmImpl::Auto) impl = current_impl().load(std::memory_order_relaxed);
  if (impl == GemmImpl::Auto || !cpu_has(impl)) impl = auto_impl();
  return impl;
}

// Runs body(m0, m1, n0, n1) on one block of C per thread: the larger of M and N is split into
// `threads` contiguous ranges whose sizes are multiples of `unit_m` / `unit_n`.
template <class Body>
void split_over_threads(int64_t M, int64_t N, int threads, int64_t unit_m, int64_t unit_n, const Body& body) {
  if (threads > 1 && omp_in_parallel()) threads = 1;
  const bool split_m = M >= N;
  const int64_t extent = split_m ? M : N, unit = split_m ? unit_m : unit_n;
  const int64_t units = (extent + unit - 1) / unit;
  const int parts = static_cast<int>(std::min<int64_t>(threads, units));
  if (parts <= 1) return body(0, M, 0, N);
  const int64_t chunk = (units + parts - 1) / parts * unit;
#pragma omp parallel num_threads(parts)
  {
    const int64_t lo = std::min<int64_t>(extent, omp_get_thread_num() * chunk);
    const int64_t hi = std::min<int64_t>(extent, lo + chunk);
    if (hi > lo) {
      if (split_m) body(lo, hi, 0, N);
      else body(0, M, lo, hi);
    }
  }
}

}  // namespace

void set_gemm_impl(GemmImpl impl) { current_impl().store(impl, std::memory_order_relaxed); }
GemmImpl gemm_impl() { return current_impl().load(std::memory_order_relaxed); }
GemmImpl gemm_resolved_impl() { return resolve(GemmImpl::Auto); }
bool gemm_impl_supported(GemmImpl impl) { return cpu_has(impl); }

const char* gemm_impl_name(GemmImpl impl) {
  switch (impl) {
    case GemmImpl::Auto: return "auto";
    case GemmImpl::Eigen: return "eigen";
    case GemmImpl::Generic: return "generic";
    case GemmImpl::Avx2: return "avx2";
    case GemmImpl::Avx512: return "avx512";
  }
  return "?";
}

bool parse_gemm_impl(const std::string& name, GemmImpl& impl) {
  for (GemmImpl i : {GemmImpl::Auto, GemmImpl::Eigen, GemmImpl::Generic, GemmImpl::Avx2, GemmImpl::Avx512}) {
    if (name == gemm_impl_name(i)) {
      impl = i;
      return true;
    }
  }
  return false;
}

template <class T>
void gemm(int64_t M, int64_t N, int64_t K, const T* a, int64_t a_row, int64_t a_col, const T* b, int64_t b_row,
          int64_t b_col, T* c, int64_t ldc, bool accumulate, int threads, GemmImpl impl) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int64_t m = 0; m < M; ++m) std::fill(c + m * ldc, c + m * ldc + N, T(0));
    return;
  }
  impl = resolve(impl);
  const KernelSpec* ks = std::is_same_v<T, float> ? spec_for(impl) : nullptr;
  if (!ks) {
    split_over_threads(M, N, threads, 16, 16, [&](int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
      gemm_eigen<T>(m1 - m0, n1 - n0, K, a + m0 * a_row, a_row, a_col, b + n0 * b_col, b_row, b_col,
                    c + m0 * ldc + n0, ldc, accumulate);
    });
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    split_over_threads(M, N, threads, ks->mr, ks->nr, [&](int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
      gemm_blocked(*ks, m1 - m0, n1 - n0, K, {a + m0 * a_row, a_row, a_col}, {b + n0 * b_col, b_row, b_col},
                   c + m0 * ldc + n0, ldc, accumulate);
    });
  }
}

// The packed kernel gemm_gather runs: the chosen one, or the portable one when the choice is
// Eigen (Eigen cannot take gathered operands).
static const KernelSpec& gather_spec(GemmImpl impl) {
  const KernelSpec* ks = spec_for(resolve(impl));
  return ks ? *ks : kGeneric;
}

int64_t gemm_gather_kc(GemmImpl impl) { return gather_spec(impl).kc; }

void gemm_gather(int64_t M, int64_t N, int64_t K, DenseMatrix A, GatherMatrix B, GatherOutput C, GemmImpl impl) {
  if (M <= 0 || N <= 0 || K <= 0) return;  // (callers never pass K = 0 to a Store)
  gemm_blocked(gather_spec(impl), M, N, K, DenseA{{A.p, A.rs, A.cs}}, GatherB{B},
               GatherC{C, C.mode != GatherStore::Store});
}

void gemm_gather(int64_t M, int64_t N, int64_t K, DenseMatrix A, GatherMatrix B, DenseOutput C, GemmImpl impl) {
  if (M <= 0 || N <= 0 || K <= 0) return;  // (callers never pass K = 0)
  gemm_blocked(gather_spec(impl), M, N, K, DenseA{{A.p, A.rs, A.cs}}, GatherB{B}, DenseC{C.p, C.ldc, C.accumulate});
}

void gemm_gather(int64_t M, int64_t N, int64_t K, GatherMatrix A, GatherMatrix B, DenseOutput C, GemmImpl impl) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!C.accumulate)
      for (int64_t m = 0; m < M; ++m) std::fill(C.p + m * C.ldc, C.p + m * C.ldc + N, 0.0f);
    return;
  }
  gemm_blocked(gather_spec(impl), M, N, K, GatherA{A}, GatherB{B}, DenseC{C.p, C.ldc, C.accumulate});
}

template void gemm<float>(int64_t, int64_t, int64_t, const float*, int64_t, int64_t, const float*, int64_t, int64_t,
                          float*, int64_t, bool, int, GemmImpl);
template void gemm<double>(int64_t, int64_t, int64_t, const double*, int64_t, int64_t, const double*, int64_t,
                           int64_t, double*, int64_t, bool, int, GemmImpl);

}  // namespace duel::cpu
