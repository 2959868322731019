// Fused optimizer updates on the device: SGD (momentum, dampening, Nesterov, weight
// decay), Adam / AdamW (bias correction, amsgrad), RMSprop (alpha, eps, centred, momentum,
// eps inside the square root as in DeepMind's DQN). nn/optim.cpp calls them through
// DUEL_KERNEL for every contiguous float32/float64 parameter, so one optimizer step is one
// launch per parameter instead of about ten elementwise kernels and temporaries.
//
// ONE THREAD PER ELEMENT (grid-stride, 256-thread blocks): the thread reads the gradient
// and the parameter's state (momentum buffer / moments), applies the update rule and
// writes the parameter and the state back. Every element is independent: no shared
// memory, no barriers. A warp touches 32 consecutive elements of each array (coalesced);
// the kernel is purely memory-bound (Adam: 4 reads and 3 writes per element).
//
// The per-element rule is the same inline function the CPU kernel uses
// (kernels/optim_rules.h, optim_detail::*_element), with the scalars converted to T once on
// the host, so the emulator reproduces the CPU bit for bit (the GPU may differ in the
// last bit where nvcc contracts a multiply-add into an FMA).
#include "kernels/cuda/utils.cuh"
#include "kernels/optim_rules.h"

namespace duel::DUEL_BACKEND_NAMESPACE {
namespace {

using namespace ::duel::optim_detail;

template <class T>
__global__ void sgd_kernel(T* param, const T* __restrict__ grad, T* buf, int64_t n, SgdScalars<T> s) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    sgd_element(s, param[i], grad[i], s.use_mom ? buf + i : nullptr);
}

template <class T>
__global__ void adam_kernel(T* param, const T* __restrict__ grad, T* m, T* v, T* vmax, int64_t n, AdamScalars<T> s) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    adam_element(s, param[i], grad[i], m[i], v[i], s.amsgrad ? vmax + i : nullptr);
}

template <class T>
__global__ void rmsprop_kernel(T* param, const T* __restrict__ grad, T* sq, T* ga, T* buf, int64_t n,
                               RmspropScalars<T> s) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    rmsprop_element(s, param[i], grad[i], sq[i], s.centered ? ga + i : nullptr, s.use_mom ? buf + i : nullptr);
}

void require(bool ok, const char* op, const char* what) {
  DUEL_CHECK(ok, op, ": ", what, " must not be null for these options (", Device(kDevice).str(), " kernel)");
}

}  // namespace

template <class T>
void sgd_update(T* param, const T* grad, T* momentum_buffer, int64_t n, const SgdUpdate& u) {
  if (n <= 0) return;
  const auto s = sgd_scalars<T>(u);
  require(param && grad, "sgd_update", "param and grad");
  if (s.use_mom) require(momentum_buffer, "sgd_update", "momentum_buffer (momentum != 0)");
  DUEL_LAUNCH((sgd_kernel<T>), grid_for(n), kThreads, 0, launch_stream())(param, grad, momentum_buffer, n, s);
  DUEL_CHECK_LAUNCH("sgd_kernel");
}

template <class T>
void adam_update(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, int64_t n,
                 const AdamUpdate& u) {
  if (n <= 0) return;
  DUEL_CHECK(u.step >= 1, "adam_update: step must be >= 1 (counted after the increment), got ", u.step);
  const auto s = adam_scalars<T>(u);
  require(param && grad && exp_avg && exp_avg_sq, "adam_update", "param, grad, exp_avg and exp_avg_sq");
  if (s.amsgrad) require(max_exp_avg_sq, "adam_update", "max_exp_avg_sq (amsgrad)");
  DUEL_LAUNCH((adam_kernel<T>), grid_for(n), kThreads, 0, launch_stream())(param, grad, exp_avg, exp_avg_sq,
                                                                          max_exp_avg_sq, n, s);
  DUEL_CHECK_LAUNCH("adam_kernel");
}

template <class T>
void rmsprop_update(T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buffer, int64_t n,
                    const RmspropUpdate& u) {
  if (n <= 0) return;
  const auto s = rmsprop_scalars<T>(u);
  require(param && grad && square_avg, "rmsprop_update", "param, grad and square_avg");
  if (s.centered) require(grad_avg, "rmsprop_update", "grad_avg (centered)");
  if (s.use_mom) require(momentum_buffer, "rmsprop_update", "momentum_buffer (momentum > 0)");
  DUEL_LAUNCH((rmsprop_kernel<T>), grid_for(n), kThreads, 0, launch_stream())(param, grad, square_avg, grad_avg,
                                                                             momentum_buffer, n, s);
  DUEL_CHECK_LAUNCH("rmsprop_kernel");
}

#define DUEL_INSTANTIATE_OPTIM(T)                                                                  \
  template void sgd_update<T>(T*, const T*, T*, int64_t, const SgdUpdate&);                        \
  template void adam_update<T>(T*, const T*, T*, T*, T*, int64_t, const AdamUpdate&);              \
  template void rmsprop_update<T>(T*, const T*, T*, T*, T*, int64_t, const RmspropUpdate&);
DUEL_INSTANTIATE_OPTIM(float)
DUEL_INSTANTIATE_OPTIM(double)
#undef DUEL_INSTANTIATE_OPTIM

}  // namespace duel::DUEL_BACKEND_NAMESPACE
