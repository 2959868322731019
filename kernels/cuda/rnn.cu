// The fused LSTM cell, forward and backward, with the semantics of kernels/cpu/rnn.h
// (pre-activations a = xg + hg + bx + bh [N, 4H] in the order input, forget, cell, output, hg
// and the biases optional (null); c [N, H]; out [N, 2H] = [h' | c']).
//
// ONE THREAD PER (n, j), j < H, grid-stride over N * H. A thread reads the four gate
// pre-activations of its unit (H apart in the row, so the 32 threads of a warp read 32
// consecutive values of each gate: coalesced), recomputes the activations, and writes its h'
// and c' (forward) or its four gate gradients and its dc (backward). No shared memory, no
// synchronisation: every output element has exactly one writer.
#include "kernels/cuda/utils.cuh"

namespace duel::DUEL_BACKEND_NAMESPACE {
namespace {

template <class T>
DUEL_DEVICE DUEL_FORCEINLINE T sigmoid(T v) {
  if (v >= 0) return T(1) / (T(1) + dm::exp(-v));  // stable for large |v|
  const T e = dm::exp(v);
  return e / (T(1) + e);
}

// the pre-activation of gate q (0..3) of unit j of row n
template <class T>
DUEL_DEVICE DUEL_FORCEINLINE T pre(const T* xg, const T* hg, const T* bx, const T* bh, int64_t n, int64_t H,
                                   int64_t j, int q) {
  const int64_t col = q * H + j, at = n * 4 * H + col;
  T a = xg[at];
  if (hg) a += hg[at];
  if (bx) a += bx[col];
  if (bh) a += bh[col];
  return a;
}

template <class T>
__global__ void lstm_cell_forward_kernel(const T* xg, const T* hg, const T* bx, const T* bh, const T* c, T* out,
                                         int64_t N, int64_t H) {
  const int64_t total = N * H, step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < total; k += step) {
    const int64_t n = k / H, j = k % H;
    const T i = sigmoid(pre(xg, hg, bx, bh, n, H, j, 0)), f = sigmoid(pre(xg, hg, bx, bh, n, H, j, 1));
    const T g = dm::tanh(pre(xg, hg, bx, bh, n, H, j, 2)), o = sigmoid(pre(xg, hg, bx, bh, n, H, j, 3));
    const T c2 = f * c[k] + i * g;
    out[n * 2 * H + j] = o * dm::tanh(c2);
    out[n * 2 * H + H + j] = c2;
  }
}

template <class T>
__global__ void lstm_cell_backward_kernel(const T* xg, const T* hg, const T* bx, const T* bh, const T* c,
                                          const T* out, const T* grad_out, T* grad_gates, T* grad_c, int64_t N,
                                          int64_t H) {
  const int64_t total = N * H, step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < total; k += step) {
    const int64_t n = k / H, j = k % H;
    const T i = sigmoid(pre(xg, hg, bx, bh, n, H, j, 0)), f = sigmoid(pre(xg, hg, bx, bh, n, H, j, 1));
    const T g = dm::tanh(pre(xg, hg, bx, bh, n, H, j, 2)), o = sigmoid(pre(xg, hg, bx, bh, n, H, j, 3));
    const T t = dm::tanh(out[n * 2 * H + H + j]);
    const T gh = grad_out[n * 2 * H + j], gc2 = grad_out[n * 2 * H + H + j];
    const T dc2 = gc2 + gh * o * (T(1) - t * t);
    T* da = grad_gates + n * 4 * H + j;
    da[0] = dc2 * g * i * (T(1) - i);
    da[H] = dc2 * c[k] * f * (T(1) - f);
    da[2 * H] = dc2 * i * (T(1) - g * g);
    da[3 * H] = gh * t * o * (T(1) - o);
    grad_c[k] = dc2 * f;
  }
}

}  // namespace

template <class T>
void lstm_cell_forward(const T* xg, const T* hg, const T* bx, const T* bh, const T* c, T* out, int64_t N, int64_t H) {
  if (N <= 0 || H <= 0) return;
  DUEL_LAUNCH((lstm_cell_forward_kernel<T>), grid_for(N * H), kThreads, 0, launch_stream())(xg, hg, bx, bh, c, out,
                                                                                            N, H);
  DUEL_CHECK_LAUNCH("lstm_cell_forward_kernel");
}

template <class T>
void lstm_cell_backward(const T* xg, const T* hg, const T* bx, const T* bh, const T* c, const T* out,
                        const T* grad_out, T* grad_gates, T* grad_c, int64_t N, int64_t H) {
  if (N <= 0 || H <= 0) return;
  DUEL_LAUNCH((lstm_cell_backward_kernel<T>), grid_for(N * H), kThreads, 0, launch_stream())(
      xg, hg, bx, bh, c, out, grad_out, grad_gates, grad_c, N, H);
  DUEL_CHECK_LAUNCH("lstm_cell_backward_kernel");
}

template void lstm_cell_forward<float>(const float*, const float*, const float*, const float*, const float*, float*,
                                       int64_t, int64_t);
template void lstm_cell_forward<double>(const double*, const double*, const double*, const double*, const double*,
                                        double*, int64_t, int64_t);
template void lstm_cell_backward<float>(const float*, const float*, const float*, const float*, const float*,
                                        const float*, const float*, float*, float*, int64_t, int64_t);
template void lstm_cell_backward<double>(const double*, const double*, const double*, const double*, const double*,
                                         const double*, const double*, double*, double*, int64_t, int64_t);

}  // namespace duel::DUEL_BACKEND_NAMESPACE
