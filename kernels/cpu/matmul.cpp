// CPU matmul: each batch entry is one Eigen GEMM on mapped memory (no copies
// when either of the last two dims is contiguous: a transposed operand is
// mapped as a column-major matrix). Eigen parallelises a large GEMM with
// OpenMP itself; many small products are instead spread over threads, one
// GEMM per thread (Eigen then runs single-threaded inside the parallel region).
#include "kernels/cpu/matmul.h"

#include <omp.h>

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
  // (a parallel region costs more than a handful of tiny products: require some total work too)
  const bool many_small = B >= omp_get_max_threads() && M * N * K < 64 * 64 * 64 && B * M * N * K >= 32768;
#pragma omp parallel for if (many_small)
  for (int64_t i = 0; i < B; ++i)
    gemm_one<T>(pa + i * a.stride(0), a.stride(1), a.stride(2), pb + i * b.stride(0), b.stride(1), b.stride(2),
                pc + i * M * N, M, K, N);
}

}  // namespace

void matmul(const Tensor& a, const Tensor& b, Tensor& out) {
  DUEL_DISPATCH_FLOATING(out.dtype(), "matmul", [&] { matmul_typed<scalar_t>(a, b, out); });
}

}  // namespace duel::cpu
