// CPU fused optimizer updates: one OpenMP loop per parameter over raw memory; the
// per-element rules live in optim.h and are shared with kernels/cuda/optim.cu.
#include "kernels/cpu/optim.h"

namespace duel::cpu {
namespace {
// Parameters at least this large are updated by several OpenMP threads (elements are independent).
constexpr int64_t kParallelGrain = 1 << 15;
}  // namespace

template <class T>
void sgd_update(T* param, const T* grad, T* momentum_buffer, int64_t n, const SgdUpdate& u) {
  const auto s = optim_detail::sgd_scalars<T>(u);
#pragma omp parallel for if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i)
    optim_detail::sgd_element(s, param[i], grad[i], s.use_mom ? momentum_buffer + i : nullptr);
}

template <class T>
void adam_update(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, int64_t n,
                 const AdamUpdate& u) {
  const auto s = optim_detail::adam_scalars<T>(u);
#pragma omp parallel for if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i)
    optim_detail::adam_element(s, param[i], grad[i], exp_avg[i], exp_avg_sq[i],
                               s.amsgrad ? max_exp_avg_sq + i : nullptr);
}

template <class T>
void rmsprop_update(T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buffer, int64_t n,
                    const RmspropUpdate& u) {
  const auto s = optim_detail::rmsprop_scalars<T>(u);
#pragma omp parallel for if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i)
    optim_detail::rmsprop_element(s, param[i], grad[i], square_avg[i], s.centered ? grad_avg + i : nullptr,
                                  s.use_mom ? momentum_buffer + i : nullptr);
}

#define DUEL_INSTANTIATE_OPTIM(T)                                                                  \
  template void sgd_update<T>(T*, const T*, T*, int64_t, const SgdUpdate&);                        \
  template void adam_update<T>(T*, const T*, T*, T*, T*, int64_t, const AdamUpdate&);              \
  template void rmsprop_update<T>(T*, const T*, T*, T*, T*, int64_t, const RmspropUpdate&);
DUEL_INSTANTIATE_OPTIM(float)
DUEL_INSTANTIATE_OPTIM(double)
#undef DUEL_INSTANTIATE_OPTIM

}  // namespace duel::cpu
