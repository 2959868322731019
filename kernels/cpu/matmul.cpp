// CPU matmul: each batch entry is one Eigen GEMM on mapped memory (no copies
// when either of the last two dims is contiguous: a transposed operand is
// mapped as a column-major matrix). Threading is ours, not Eigen's: many
// products are spread over threads one GEMM each; one large product is split
// into blocks of rows of A (and C), one single-threaded GEMM per thread.
#include "kernels/cpu/matmul.h"

#include <omp.h>

// duel decides the threading itself (below): Eigen's own GEMM threading starts a team for
// products far too small to repay it.
#define EIGEN_DONT_PARALLELIZE
#include <Eigen/Core>

namespace duel::cpu {
namespace {

using Index = Eigen::Index;

template <class T>
void gemm_one(const T* a, int64_t as1, int64_t as2, const T* b, int64_t bs1, int64_t bs2, T* c, int64_t M, int64_t K,
              int64_t N) {
  using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ColMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  using OStride = Eigen::OuterStride<>;
  Eigen::Map<RowMat> C(c, M, N);
  // An operand is mapped without a copy when one of its dims has unit stride (or size 1) and the other
  // a positive stride (or size 1); the outer stride of a single row/column is irrelevant. Stride-0
  // (expanded) dims are copied: a mapped outer stride must describe the real layout.
  auto with_b = [&](const auto& A) {
    if ((bs2 == 1 || N == 1) && (bs1 > 0 || K == 1)) {
      Eigen::Map<const RowMat, 0, OStride> B(b, K, N, OStride(K == 1 ? std::max<int64_t>(N, 1) : bs1));
      C.noalias() = A * B;
    } else if ((bs1 == 1 || K == 1) && (bs2 > 0 || N == 1)) {
      Eigen::Map<const ColMat, 0, OStride> B(b, K, N, OStride(N == 1 ? std::max<int64_t>(K, 1) : bs2));
      C.noalias() = A * B;
    } else {
      RowMat B(K, N);
      for (int64_t k = 0; k < K; ++k)
        for (int64_t n = 0; n < N; ++n) B(k, n) = b[k * bs1 + n * bs2];
      C.noalias() = A * B;
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

template <class T>
void matmul_typed(const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  const T* pa = static_cast<const T*>(a.raw_data());
  const T* pb = static_cast<const T*>(b.raw_data());
  T* pc = out.data<T>();
  if (K == 0) {
    std::fill(pc, pc + B * M * N, T(0));
    return;
  }
  if (M == 0 || N == 0) return;
  // Threads only pay off from about a million multiply-adds. Many small products: one per thread.
  // One large product: the rows of A and C are split into one block per thread.
  const int threads = omp_get_max_threads();
  const int64_t work = B * M * N * K;
  const bool parallel_batch = threads > 1 && B >= threads && work >= (1 << 20);
  const bool parallel_rows = threads > 1 && !parallel_batch && M >= 16 * threads && M * N * K >= (1 << 20);
#pragma omp parallel for if (parallel_batch)
  for (int64_t i = 0; i < B; ++i) {
    const T* ai = pa + i * a.stride(0);
    const T* bi = pb + i * b.stride(0);
    T* ci = pc + i * M * N;
    if (!parallel_rows) {
      gemm_one<T>(ai, a.stride(1), a.stride(2), bi, b.stride(1), b.stride(2), ci, M, K, N);
      continue;
    }
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      const int64_t chunk = (M + nt - 1) / nt, m0 = std::min<int64_t>(M, t * chunk), m1 = std::min<int64_t>(M, m0 + chunk);
      if (m1 > m0)
        gemm_one<T>(ai + m0 * a.stride(1), a.stride(1), a.stride(2), bi, b.stride(1), b.stride(2), ci + m0 * N,
                    m1 - m0, K, N);
    }
  }
}

}  // namespace

void matmul(const Tensor& a, const Tensor& b, Tensor& out) {
  DUEL_DISPATCH_FLOATING(out.dtype(), "matmul", [&] { matmul_typed<scalar_t>(a, b, out); });
}

}  // namespace duel::cpu
