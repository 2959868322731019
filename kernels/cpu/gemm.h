// CPU GEMM: C = A B (or C += A B) with strided operands. float32 runs through duel's own
// packed, cache-blocked GEMM (kernels/cpu/gemm.cpp, BLIS/GotoBLAS structure) with the SIMD
// micro-kernel chosen at run time; float64, and float32 when asked, through Eigen.
#pragma once
#include <cstdint>
#include <string>

namespace duel::cpu {

// Which GEMM runs. Auto: the fastest kernel this CPU supports (AVX-512, else AVX2+FMA, else
// the portable one). Eigen: Eigen 3.4's GEMM (the reference the kernels are checked against).
// Generic: the portable micro-kernel (plain C++, vectorised by the compiler).
enum class GemmImpl { Auto, Eigen, Generic, Avx2, Avx512 };

// The process-wide choice. It starts from the environment variable DUEL_GEMM
// (eigen|auto|generic|avx2|avx512; unset: auto); a kernel the CPU lacks falls back to auto.
void set_gemm_impl(GemmImpl impl);
GemmImpl gemm_impl();
// What a float32 product runs with right now (never Auto).
GemmImpl gemm_resolved_impl();
// Whether this CPU (and this build) can run `impl`.
bool gemm_impl_supported(GemmImpl impl);
const char* gemm_impl_name(GemmImpl impl);
// "eigen", "auto", ... -> impl; false for an unknown name.
bool parse_gemm_impl(const std::string& name, GemmImpl& impl);

// C[M, N] = A[M, K] B[K, N], or C += A B when `accumulate`.
// A's element (m, k) is a[m * a_row + k * a_col], B's element (k, n) is b[k * b_row + n * b_col]
// (any strides, including 0 for an expanded dim); C is row-major with leading dim ldc >= N.
// `threads` > 1 splits the larger of M and N into one block per thread (ignored, i.e. 1, inside
// an OpenMP parallel region). The result does not depend on `threads`: every element of C is
// summed in the same order whatever the split (bitwise identical for duel's kernels).
// `impl` = Auto uses the process-wide choice above.
template <class T>
void gemm(int64_t M, int64_t N, int64_t K, const T* a, int64_t a_row, int64_t a_col, const T* b, int64_t b_row,
          int64_t b_col, T* c, int64_t ldc, bool accumulate, int threads, GemmImpl impl = GemmImpl::Auto);

// ---------------------------------------------------------------------------
// Implicit GEMM: operands given by offset tables instead of strides.
//
// A GatherMatrix is an R x C matrix whose element (r, c) is base[row[r] + col[c]]. Every strided
// matrix is one (row[r] = r * rs, col[c] = c * cs), and so is the column matrix of a convolution
// (row (c, ki, kj) -> c*Hp*Wp + ki*dH*Wp + kj*dW in a zero-bordered input, column (n, oh, ow) ->
// n*C*Hp*Wp + oh*sH*Wp + ow*sW), which is why kernels/cpu/conv.cpp can hand the GEMM its input
// image and let the GEMM's packing gather the patches straight into its micro-panels: no
// im2col buffer is written and read back. The offsets must be valid for every (r, c) of the
// product.
struct GatherMatrix {
  const float* base;
  const int32_t* row;
  const int32_t* col;
};

// Where C's element (i, j) goes: base[row[i] + col[j]]. The column offsets are distinct (within
// one row of C no two elements share an address); rows may overlap.
//   Store:      C = A B (each element written once: the (i, j) -> offset map is one-to-one);
//   Accumulate: C += A B (one-to-one too);
//   ScatterAdd: every product element is added to its address, and elements of different rows
//               may share one (col2im: the input gradient of a convolution, scattered while the
//               GEMM runs; two taps of one output pixel reach one input pixel).
enum class GatherStore { Store, Accumulate, ScatterAdd };
struct GatherOutput {
  float* base;
  const int32_t* row;
  const int32_t* col;
  GatherStore mode;
};

// C[M, N] = A[M, K] B[K, N] (stored, accumulated or scatter-added as C says), on one thread,
// with duel's packed GEMM (the kernel of gemm_resolved_impl(); the portable one when that is
// Eigen). An operand is either strided (DenseMatrix, DenseOutput) or gathered. Store and
// Accumulate sum every element in the order gemm() does (the same K blocks and micro-kernel),
// so they equal gemm() on the same values bitwise; ScatterAdd adds each K block's partial
// products to the shared addresses in tile order, so its sums are ordered differently from an
// im2col + col2im.
struct DenseMatrix {
  const float* p;
  int64_t rs, cs;  // element (r, c) at p[r * rs + c * cs]
};
struct DenseOutput {
  float* p;
  int64_t ldc;
  bool accumulate;
};
// forward (C = y, Store) and input gradient (C = the padded gx, ScatterAdd) of a convolution
void gemm_gather(int64_t M, int64_t N, int64_t K, DenseMatrix A, GatherMatrix B, GatherOutput C,
                 GemmImpl impl = GemmImpl::Auto);
// The K block (KC) of the kernel gemm_gather runs with now: a product with K > KC adds to its
// output once per further block (kernels/cpu/conv.cpp then prefers a dense output).
int64_t gemm_gather_kc(GemmImpl impl = GemmImpl::Auto);
// forward of a convolution into a dense [O, columns] buffer
void gemm_gather(int64_t M, int64_t N, int64_t K, DenseMatrix A, GatherMatrix B, DenseOutput C,
                 GemmImpl impl = GemmImpl::Auto);
// weight gradient of a convolution (A = gy, B = the column matrix transposed)
void gemm_gather(int64_t M, int64_t N, int64_t K, GatherMatrix A, GatherMatrix B, DenseOutput C,
                 GemmImpl impl = GemmImpl::Auto);

}  // namespace duel::cpu
