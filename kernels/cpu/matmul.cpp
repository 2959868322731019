// CPU matmul: each batch entry is one GEMM (kernels/cpu/gemm.h: duel's packed GEMM for float32,
// Eigen for float64) read in place with the operands' strides: no copies for transposed, strided
// or expanded operands. Threading is decided here: many products are spread over threads one GEMM
// each; one large product is split by gemm() into one block of rows (or columns, when N > M) per
// thread.
#include "kernels/cpu/matmul.h"

#include <omp.h>

#include <algorithm>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/loops.h"

namespace duel::cpu {
namespace {

template <class T>
void matmul_typed(const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  const T* pa = static_cast<const T*>(a.raw_data());
  const T* pb = static_cast<const T*>(b.raw_data());
  T* pc = out.data<T>();
  if (M == 0 || N == 0) return;
  if (K == 0) {  // an empty sum: zeros (and a and b may hold no storage: no pointer arithmetic on them)
    std::fill(pc, pc + B * M * N, T(0));
    return;
  }
  // Threads only pay off from kParallelMacs multiply-adds. Many small products: one per thread.
  // One large product: gemm() splits the larger of M and N into one block per thread.
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int64_t work = B * M * N * K;
  const bool parallel_batch = threads > 1 && B >= threads && work >= kParallelMacs;
  const bool parallel_one = threads > 1 && !parallel_batch && std::max(M, N) >= 16 * threads && M * N * K >= kParallelMacs;
#pragma omp parallel for if (parallel_batch)
  for (int64_t i = 0; i < B; ++i) {
    gemm<T>(M, N, K, pa + i * a.stride(0), a.stride(1), a.stride(2), pb + i * b.stride(0), b.stride(1), b.stride(2),
            pc + i * M * N, N, /*accumulate=*/false, parallel_one ? threads : 1);
  }
}

}  // namespace

void matmul(const Tensor& a, const Tensor& b, Tensor& out) {
  DUEL_DISPATCH_FLOATING(out.dtype(), "matmul", [&] { matmul_typed<scalar_t>(a, b, out); });
}

}  // namespace duel::cpu
