// Batched matrix product out[B, M, N] = a[B, M, K] x b[B, K, N] (a, b with any strides,
// batch strides may be 0; out contiguous, overwritten), the semantics of
// kernels/cpu/matmul.h.
//
// Two implementations:
//
//   * the hand-written tiled SGEMM/DGEMM of gemm_tile.cuh (64x64 tile per block of 256
//     threads, 4x4 register micro-tile per thread, 16-deep K slabs staged in shared
//     memory; see that file for the thread/block decomposition and the access pattern).
//     It reads the operands through their strides, so transposed or expanded operands
//     need no copy. This is what the SIMT emulator (the `sim` device) always runs.
//
//   * cuBLAS (nvcc build only), {S,D}gemmStridedBatched. cuBLAS is column-major; a
//     row-major matrix X[R, C] with row stride ld is, byte for byte, the column-major
//     matrix X^T[C, R] with leading dimension ld. So the row-major product
//         C = A * B                       (C[M, N] row-major, ldc = N)
//     is computed as the column-major product
//         C^T = B^T * A^T                 (C^T[N, M] column-major, ldc = N)
//     i.e. cuBLAS gets m = N, n = M, k = K, its first operand is b's memory and its
//     second is a's. An operand whose columns are contiguous (stride(2) == 1, the usual
//     row-major case) already *is* the transposed matrix cuBLAS wants: op N with ld =
//     stride(1). An operand whose rows are contiguous (stride(1) == 1: a transposed view
//     such as w.t()) is the untransposed matrix in column-major order: op T with ld =
//     stride(2). No data is moved either way. Operands with neither dim contiguous (e.g.
//     a permuted 3-D view) go to the hand-written kernel under MatmulImpl::Auto, or are
//     made contiguous first under MatmulImpl::Cublas. cuBLAS's default math mode is
//     used (no TF32), so float results match the CPU within float rounding.
//
//   Selection (CUDA only): duel::cuda::set_matmul_impl(MatmulImpl::Auto | Hand | Cublas),
//   or the environment variable DUEL_CUDA_MATMUL=auto|hand|cublas; default Auto.
#include "kernels/cuda/gemm_tile.cuh"
#include "kernels/impl.h"

#if defined(__CUDACC__)
#include <cublas_v2.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#endif

namespace duel::DUEL_BACKEND_NAMESPACE {

#if defined(__CUDACC__)
// The process's cuBLAS handle, created on first use; also used by conv.cu's im2col path
// (which declares it). Callers set its stream (cublasSetStream) before each call.
cublasHandle_t cublas_handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t handle = nullptr;
    const cublasStatus_t s = cublasCreate(&handle);
    if (s != CUBLAS_STATUS_SUCCESS) DUEL_FAIL("cuda: cublasCreate failed (cublasStatus_t ", static_cast<int>(s), ")");
    return handle;
  }();
  return h;
}
#endif

namespace {

template <class T>
struct StridedGemm {
  int64_t M, N, K, batches;
  const T* pa;
  const T* pb;
  T* pc;
  int64_t as0, as1, as2, bs0, bs1, bs2;
  DUEL_DEVICE DUEL_FORCEINLINE T a(int64_t z, int64_t m, int64_t k) const { return pa[z * as0 + m * as1 + k * as2]; }
  DUEL_DEVICE DUEL_FORCEINLINE T b(int64_t z, int64_t k, int64_t n) const { return pb[z * bs0 + k * bs1 + n * bs2]; }
  DUEL_DEVICE DUEL_FORCEINLINE void store(int64_t z, int64_t m, int64_t n, T v) const { pc[(z * M + m) * N + n] = v; }
};

template <class T>
void matmul_hand(const Tensor& a, const Tensor& b, Tensor& out) {
  StridedGemm<T> p;
  p.batches = out.size(0), p.M = out.size(1), p.N = out.size(2), p.K = a.size(2);
  p.pa = static_cast<const T*>(a.raw_data());
  p.pb = static_cast<const T*>(b.raw_data());
  p.pc = out.data<T>();
  p.as0 = a.stride(0), p.as1 = a.stride(1), p.as2 = a.stride(2);
  p.bs0 = b.stride(0), p.bs1 = b.stride(1), p.bs2 = b.stride(2);
  launch_gemm_tile<T>(p, "matmul(gemm_tile_kernel)", __FILE__, __LINE__);
}

#if defined(__CUDACC__)
// ------------------------------------------------------------------------ cuBLAS ----
std::atomic<int> g_impl{-1};

// DUEL_IMPL's cuda:matmul (kernels/impl.h) when it names one, else DUEL_CUDA_MATMUL.
int impl_from_env() {
  const std::string v = ::duel::detail::impl_from_env("cuda:matmul");
  if (v == "hand") return static_cast<int>(MatmulImpl::Hand);
  if (v == "cublas") return static_cast<int>(MatmulImpl::Cublas);
  if (v == "auto") return static_cast<int>(MatmulImpl::Auto);
  const char* e = std::getenv("DUEL_CUDA_MATMUL");
  if (!e) return static_cast<int>(MatmulImpl::Auto);
  if (!std::strcmp(e, "hand")) return static_cast<int>(MatmulImpl::Hand);
  if (!std::strcmp(e, "cublas")) return static_cast<int>(MatmulImpl::Cublas);
  return static_cast<int>(MatmulImpl::Auto);
}

void check_cublas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) DUEL_FAIL("cuda matmul: ", what, " failed (cublasStatus_t ", static_cast<int>(s), ")");
}

// One operand X[R, C] (row-major logical view, strides s1 along R and s2 along C) as a
// cuBLAS operand of the *transposed* product: fills op/ld, or returns false.
bool as_cublas_operand(int64_t R, int64_t C, int64_t s1, int64_t s2, cublasOperation_t& op, int64_t& ld) {
  if ((s2 == 1 || C == 1) && (s1 >= (C > 1 ? C : 1) || R == 1)) {  // row-major: X^T col-major
    op = CUBLAS_OP_N;
    ld = R == 1 ? (C > 1 ? C : 1) : s1;
    return true;
  }
  if ((s1 == 1 || R == 1) && (s2 >= (R > 1 ? R : 1) || C == 1)) {  // column-major: X col-major, transpose it
    op = CUBLAS_OP_T;
    ld = C == 1 ? (R > 1 ? R : 1) : s2;
    return true;
  }
  return false;
}

template <class T>
bool matmul_cublas(const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  cublasOperation_t op_b, op_a;  // first cuBLAS operand = b, second = a
  int64_t ld_b, ld_a;
  if (!as_cublas_operand(K, N, b.stride(1), b.stride(2), op_b, ld_b)) return false;
  if (!as_cublas_operand(M, K, a.stride(1), a.stride(2), op_a, ld_a)) return false;
  const int64_t lim = 0x7fffffffLL;
  if (M > lim || N > lim || K > lim || B > lim || ld_a > lim || ld_b > lim) return false;
  const T one = T(1), zero = T(0);
  const long long stride_b = B > 1 ? b.stride(0) : 0, stride_a = B > 1 ? a.stride(0) : 0;
  const T* pa = static_cast<const T*>(a.raw_data());
  const T* pb = static_cast<const T*>(b.raw_data());
  T* pc = out.data<T>();
  // cuBLAS work goes to the current stream too (kernels/cuda/stream.h)
  check_cublas(cublasSetStream(cublas_handle(), launch_stream()), "cublasSetStream");
  if constexpr (std::is_same_v<T, float>) {
    check_cublas(cublasSgemmStridedBatched(cublas_handle(), op_b, op_a, (int)N, (int)M, (int)K, &one, pb, (int)ld_b,
                                           stride_b, pa, (int)ld_a, stride_a, &zero, pc, (int)N, M * N, (int)B),
                 "cublasSgemmStridedBatched");
  } else {
    check_cublas(cublasDgemmStridedBatched(cublas_handle(), op_b, op_a, (int)N, (int)M, (int)K, &one, pb, (int)ld_b,
                                           stride_b, pa, (int)ld_a, stride_a, &zero, pc, (int)N, M * N, (int)B),
                 "cublasDgemmStridedBatched");
  }
  return true;
}
#endif  // __CUDACC__

template <class T>
void matmul_typed(const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  if (B == 0 || M == 0 || N == 0) return;
  if (K == 0) {
    fill(out, 0.0);
    return;
  }
#if defined(__CUDACC__)
  const MatmulImpl impl = matmul_impl();
  if (impl != MatmulImpl::Hand) {
    if (matmul_cublas<T>(a, b, out)) return;
    if (impl == MatmulImpl::Cublas) {
      Tensor ac = a.contiguous(), bc = b.contiguous();
      if (matmul_cublas<T>(ac, bc, out)) return;
    }
  }
#endif
  matmul_hand<T>(a, b, out);
}

}  // namespace

#if defined(__CUDACC__)
void set_matmul_impl(MatmulImpl impl) { g_impl.store(static_cast<int>(impl)); }
MatmulImpl matmul_impl() {
  int v = g_impl.load();
  if (v < 0) {
    v = impl_from_env();
    g_impl.store(v);
  }
  return static_cast<MatmulImpl>(v);
}
#endif

void matmul(const Tensor& a, const Tensor& b, Tensor& out) {
  DUEL_CHECK(out.device().type == kDevice, "matmul: tensors must be on ", Device(kDevice).str());
  DUEL_DISPATCH_FLOATING(out.dtype(), "matmul", [&] { matmul_typed<scalar_t>(a, b, out); });
}

}  // namespace duel::DUEL_BACKEND_NAMESPACE
