// Softmax / log-softmax, forward and backward, over the middle dim of x viewed as
// [outer, D, inner] (contiguous), with the semantics of kernels/cpu/softmax.h.
//
// inner == 1 (softmax over the last dim, the common case): ONE BLOCK PER ROW (grid-
// stride over the `outer` rows; blockDim = D rounded up to a multiple of 32, at most
// 256). Thread t handles elements t, t + blockDim, ... of its row, so a warp reads 32
// consecutive values: coalesced. Three sweeps over the row:
//   1. row max: per-thread max, then block_reduce (utils.cuh): __shfl_down_sync tree in
//      each warp, one shared slot per warp, the first warp reduces those;
//   2. sum of exp(x - max), accumulated in double (like the CPU backend, so long rows
//      lose nothing in float), block_reduce again;
//   3. y = exp(x - max) / sum  or  y = x - (max + log(sum)).
// The row is re-read from global memory (L1/L2-resident for realistic D) instead of
// being staged in shared memory, so D is not limited by shared-memory size.
//
// inner > 1 (softmax over channels of NCHW, say): the D values of one softmax are
// `inner` apart, and adjacent inner positions are adjacent in memory. ONE THREAD PER
// (outer, inner) COLUMN, grid-stride; the thread sweeps its column three times. Threads
// of a warp read 32 adjacent inner positions of the same d: coalesced, no
// synchronisation.
//
// The max is subtracted before exp (no overflow); an all -inf row uses 0 as its max (no
// NaN from -inf - -inf), as on the CPU. y may equal x and gx may equal gy (in place):
// every element is read and written by the same thread, and the reduction sweeps finish
// (block barrier) before the first write.
#include "kernels/cuda/utils.cuh"

namespace duel::DUEL_BACKEND_NAMESPACE {
namespace {

template <class T>
__global__ void softmax_rows_kernel(const T* x, T* y, int64_t outer, int64_t D, bool log_softmax) {
  for (int64_t row = blockIdx.x; row < outer; row += gridDim.x) {  // uniform across the block
    const T* xr = x + row * D;
    T* yr = y + row * D;
    T m = -dm::infinity<T>();
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) m = xr[d] > m ? xr[d] : m;
    m = block_reduce(m, MaxOp{}, -dm::infinity<T>());
    if (m == -dm::infinity<T>()) m = T(0);  // all -inf
    double sum = 0.0;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) sum += static_cast<double>(dm::exp(xr[d] - m));
    sum = block_reduce(sum, SumOp{}, 0.0);
    if (log_softmax) {
      const T shift = static_cast<T>(static_cast<double>(m) + ::log(sum));
      for (int64_t d = threadIdx.x; d < D; d += blockDim.x) yr[d] = xr[d] - shift;
    } else {
      const T scale = static_cast<T>(1.0 / sum);
      for (int64_t d = threadIdx.x; d < D; d += blockDim.x) yr[d] = dm::exp(xr[d] - m) * scale;
    }
  }
}

template <class T>
__global__ void softmax_columns_kernel(const T* x, T* y, int64_t outer, int64_t D, int64_t inner, bool log_softmax) {
  const int64_t columns = outer * inner;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t col = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; col < columns; col += step) {
    const int64_t o = col / inner, i = col % inner;
    const T* xc = x + o * D * inner + i;
    T* yc = y + o * D * inner + i;
    T m = -dm::infinity<T>();
    for (int64_t d = 0; d < D; ++d) m = xc[d * inner] > m ? xc[d * inner] : m;
    if (m == -dm::infinity<T>()) m = T(0);
    double sum = 0.0;
    for (int64_t d = 0; d < D; ++d) sum += static_cast<double>(dm::exp(xc[d * inner] - m));
    if (log_softmax) {
      const T shift = static_cast<T>(static_cast<double>(m) + ::log(sum));
      for (int64_t d = 0; d < D; ++d) yc[d * inner] = xc[d * inner] - shift;
    } else {
      const T scale = static_cast<T>(1.0 / sum);
      for (int64_t d = 0; d < D; ++d) yc[d * inner] = dm::exp(xc[d * inner] - m) * scale;
    }
  }
}

// softmax: gx = y * (gy - sum(gy * y));  log_softmax: gx = gy - exp(y) * sum(gy)
template <class T>
__global__ void softmax_backward_rows_kernel(const T* gy, const T* y, T* gx, int64_t outer, int64_t D,
                                             bool log_softmax) {
  for (int64_t row = blockIdx.x; row < outer; row += gridDim.x) {
    const T* g = gy + row * D;
    const T* yr = y + row * D;
    T* out = gx + row * D;
    double dot = 0.0;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x)
      dot += log_softmax ? static_cast<double>(g[d]) : static_cast<double>(g[d] * yr[d]);
    const T s = static_cast<T>(block_reduce(dot, SumOp{}, 0.0));
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x)
      out[d] = log_softmax ? g[d] - dm::exp(yr[d]) * s : yr[d] * (g[d] - s);
  }
}

template <class T>
__global__ void softmax_backward_columns_kernel(const T* gy, const T* y, T* gx, int64_t outer, int64_t D,
                                                int64_t inner, bool log_softmax) {
  const int64_t columns = outer * inner;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t col = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; col < columns; col += step) {
    const int64_t base = (col / inner) * D * inner + col % inner;
    double dot = 0.0;
    for (int64_t d = 0; d < D; ++d) {
      const int64_t k = base + d * inner;
      dot += log_softmax ? static_cast<double>(gy[k]) : static_cast<double>(gy[k] * y[k]);
    }
    const T s = static_cast<T>(dot);
    for (int64_t d = 0; d < D; ++d) {
      const int64_t k = base + d * inner;
      gx[k] = log_softmax ? gy[k] - dm::exp(y[k]) * s : y[k] * (gy[k] - s);
    }
  }
}

}  // namespace

template <class T>
void softmax_forward(const T* x, T* y, int64_t outer, int64_t D, int64_t inner, bool log_softmax) {
  if (outer <= 0 || D <= 0 || inner <= 0) return;
  if (inner == 1) {
    DUEL_LAUNCH((softmax_rows_kernel<T>), grid_for(outer, 1), warp_multiple(D), 0, launch_stream())(x, y, outer, D,
                                                                                           log_softmax);
    DUEL_CHECK_LAUNCH("softmax_rows_kernel");
  } else {
    DUEL_LAUNCH((softmax_columns_kernel<T>), grid_for(outer * inner), kThreads, 0, launch_stream())(x, y, outer, D, inner,
                                                                                           log_softmax);
    DUEL_CHECK_LAUNCH("softmax_columns_kernel");
  }
}

template <class T>
void softmax_backward(const T* gy, const T* y, T* gx, int64_t outer, int64_t D, int64_t inner, bool log_softmax) {
  if (outer <= 0 || D <= 0 || inner <= 0) return;
  if (inner == 1) {
    DUEL_LAUNCH((softmax_backward_rows_kernel<T>), grid_for(outer, 1), warp_multiple(D), 0, launch_stream())(
        gy, y, gx, outer, D, log_softmax);
    DUEL_CHECK_LAUNCH("softmax_backward_rows_kernel");
  } else {
    DUEL_LAUNCH((softmax_backward_columns_kernel<T>), grid_for(outer * inner), kThreads, 0, launch_stream())(
        gy, y, gx, outer, D, inner, log_softmax);
    DUEL_CHECK_LAUNCH("softmax_backward_columns_kernel");
  }
}

template void softmax_forward<float>(const float*, float*, int64_t, int64_t, int64_t, bool);
template void softmax_forward<double>(const double*, double*, int64_t, int64_t, int64_t, bool);
template void softmax_backward<float>(const float*, const float*, float*, int64_t, int64_t, int64_t, bool);
template void softmax_backward<double>(const double*, const double*, double*, int64_t, int64_t, int64_t, bool);

}  // namespace duel::DUEL_BACKEND_NAMESPACE
