// The fused LSTM cell on the CPU (kernels/cpu/rnn.h). One row of the batch at a time: the row's
// pre-activations (xg + hg + bx + bh) are summed into a per-thread buffer [4H], and the four
// gate activations go into a second one through the same vectorised
// sigmoid and tanh as the unary ops (kernels/cpu/simd_math.h; float with AVX2 + FMA), then
// plain loops over H combine them. Rows are split over the OpenMP threads when the call is
// large enough to pay for a parallel region.
#include "kernels/cpu/rnn.h"

#include <vector>

#include "kernels/cpu/loops.h"
#include "kernels/cpu/simd_math.h"

namespace duel::cpu {
namespace {

// act [4H] = (i, f, g, o) of row n; a [4H] is scratch for the row's pre-activations
template <class T>
void activations(const T* xg, const T* hg, const T* bx, const T* bh, int64_t n, int64_t H, T* a, T* act) {
  const int64_t G = 4 * H;
  const T* x = xg + n * G;
  if (hg || bx || bh) {
    const T* h = hg ? hg + n * G : nullptr;
    for (int64_t k = 0; k < G; ++k) a[k] = x[k];
    if (h)
      for (int64_t k = 0; k < G; ++k) a[k] += h[k];
    if (bx)
      for (int64_t k = 0; k < G; ++k) a[k] += bx[k];
    if (bh)
      for (int64_t k = 0; k < G; ++k) a[k] += bh[k];
    x = a;
  }
  sigmoid_n(x, act, 2 * H);                   // input and forget gates
  tanh_n(x + 2 * H, act + 2 * H, H);          // cell candidate
  sigmoid_n(x + 3 * H, act + 3 * H, H);       // output gate
}

template <class T>
T* row_buffer(int64_t count) {
  static thread_local std::vector<T> buffer;
  if (static_cast<int64_t>(buffer.size()) < count) buffer.resize(static_cast<size_t>(count));
  return buffer.data();
}

template <class F>
void for_rows(int64_t N, int64_t H, F row) {
  const bool parallel = N > 1 && N * H * 8 >= kParallelGrain;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t n = 0; n < N; ++n) row(n);
}

}  // namespace

template <class T>
void lstm_cell_forward(const T* xg, const T* hg, const T* bx, const T* bh, const T* c, T* out, int64_t N, int64_t H) {
  for_rows(N, H, [&](int64_t n) {
    T* act = row_buffer<T>(9 * H);
    T* t = act + 4 * H;
    activations(xg, hg, bx, bh, n, H, act + 5 * H, act);
    const T *i = act, *f = act + H, *g = act + 2 * H, *o = act + 3 * H, *cp = c + n * H;
    T* h2 = out + n * 2 * H;
    T* c2 = h2 + H;
    for (int64_t j = 0; j < H; ++j) c2[j] = f[j] * cp[j] + i[j] * g[j];
    tanh_n(c2, t, H);
    for (int64_t j = 0; j < H; ++j) h2[j] = o[j] * t[j];
  });
}

template <class T>
void lstm_cell_backward(const T* xg, const T* hg, const T* bx, const T* bh, const T* c, const T* out,
                        const T* grad_out, T* grad_gates, T* grad_c, int64_t N, int64_t H) {
  for_rows(N, H, [&](int64_t n) {
    T* act = row_buffer<T>(9 * H);
    T* t = act + 4 * H;
    activations(xg, hg, bx, bh, n, H, act + 5 * H, act);
    tanh_n(out + n * 2 * H + H, t, H);  // tanh(c')
    const T *i = act, *f = act + H, *g = act + 2 * H, *o = act + 3 * H, *cp = c + n * H;
    const T *gh = grad_out + n * 2 * H, *gc2 = gh + H;
    T* da = grad_gates + n * 4 * H;
    T* dc = grad_c + n * H;
    for (int64_t j = 0; j < H; ++j) {
      const T dc2 = gc2[j] + gh[j] * o[j] * (T(1) - t[j] * t[j]);
      da[j] = dc2 * g[j] * i[j] * (T(1) - i[j]);
      da[H + j] = dc2 * cp[j] * f[j] * (T(1) - f[j]);
      da[2 * H + j] = dc2 * i[j] * (T(1) - g[j] * g[j]);
      da[3 * H + j] = gh[j] * t[j] * o[j] * (T(1) - o[j]);
      dc[j] = dc2 * f[j];
    }
  });
}

template void lstm_cell_forward<float>(const float*, const float*, const float*, const float*, const float*, float*,
                                       int64_t, int64_t);
template void lstm_cell_forward<double>(const double*, const double*, const double*, const double*, const double*,
                                        double*, int64_t, int64_t);
template void lstm_cell_backward<float>(const float*, const float*, const float*, const float*, const float*,
                                        const float*, const float*, float*, float*, int64_t, int64_t);
template void lstm_cell_backward<double>(const double*, const double*, const double*, const double*, const double*,
                                         const double*, const double*, double*, double*, int64_t, int64_t);

}  // namespace duel::cpu
