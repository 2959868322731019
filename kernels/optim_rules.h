// The per-element update rules of the fused optimizer steps (SGD, Adam/AdamW, RMSprop),
// shared by every backend: the CPU loops (kernels/cpu/optim.cpp) and the device kernels
// (kernels/cuda/optim.cu, under nvcc and in the emulator) call these same inline functions,
// so that CPU, emulator and GPU run the very same sequence of floating-point operations.
// The rules themselves are written out in kernels/cpu/optim.h's header comment.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/types.h"  // SgdUpdate, AdamUpdate, RmspropUpdate

#if defined(__CUDACC__)
#define DUEL_OPTIM_HD __host__ __device__ __forceinline__
#else
#define DUEL_OPTIM_HD inline
#endif

namespace duel {

// ------------------------------------------------------ per-element rules (all backends) ----
// Scalars are converted to T once on the host (as PyTorch does for its foreach/fused paths),
// so float32 parameters are updated in float32 arithmetic.
namespace optim_detail {

template <class T>
DUEL_OPTIM_HD T sqrt_(T x) {
#if defined(__CUDA_ARCH__)
  return sqrt(x);  // CUDA's float / double overloads (correctly rounded, as on the CPU)
#else
  return std::sqrt(x);
#endif
}

template <class T>
struct SgdScalars {
  T wd, mom, one_minus_damp, neg_lr;
  bool use_wd, use_mom, nesterov, first;
};
template <class T>
SgdScalars<T> sgd_scalars(const SgdUpdate& u) {
  return {T(u.weight_decay), T(u.momentum), T(1 - u.dampening), T(-u.lr),
          u.weight_decay != 0, u.momentum != 0, u.nesterov, u.first_step};
}
// S is SgdScalars<T>, or a type derived from it whose static constexpr flags shadow the runtime
// ones (the CPU loops use that to make the loop body branch-free); the same holds for Adam and RMSprop.
template <class S, class T>
DUEL_OPTIM_HD void sgd_element(const S& s, T& p, T g, T* buf) {
  T d = g;
  if (s.use_wd) d = d + s.wd * p;
  if (s.use_mom) {
    *buf = s.first ? d : *buf * s.mom + s.one_minus_damp * d;
    d = s.nesterov ? d + s.mom * *buf : *buf;
  }
  p = p + s.neg_lr * d;
}

template <class T>
struct AdamScalars {
  T b1, b2, one_minus_b1, one_minus_b2, wd, decay, bc2_sqrt, eps, neg_step_size;
  bool use_wd, decoupled, amsgrad;
};
template <class T>
AdamScalars<T> adam_scalars(const AdamUpdate& u) {
  const double bc1 = 1 - std::pow(u.beta1, (double)u.step), bc2 = 1 - std::pow(u.beta2, (double)u.step);
  return {T(u.beta1), T(u.beta2),        T(1 - u.beta1), T(1 - u.beta2), T(u.weight_decay), T(1 - u.lr * u.weight_decay),
          T(std::sqrt(bc2)), T(u.eps), T(-(u.lr / bc1)), u.weight_decay != 0, u.decoupled_weight_decay, u.amsgrad};
}
template <class S, class T>
DUEL_OPTIM_HD void adam_element(const S& s, T& p, T g, T& m, T& v, T* vmax) {
  if (s.use_wd) {
    if (s.decoupled) {
      p = p * s.decay;
    } else {
      g = g + s.wd * p;
    }
  }
  m = m * s.b1 + s.one_minus_b1 * g;
  v = v * s.b2 + s.one_minus_b2 * g * g;
  T vv = v;
  if (s.amsgrad) {
    if (*vmax < v) *vmax = v;  // max(vmax, v)
    vv = *vmax;
  }
  const T denom = sqrt_(vv) / s.bc2_sqrt + s.eps;
  p = p + s.neg_step_size * (m / denom);
}

template <class T>
struct RmspropScalars {
  T alpha, one_minus_alpha, wd, eps, mom, neg_lr;
  bool use_wd, centered, inside, use_mom;
};
template <class T>
RmspropScalars<T> rmsprop_scalars(const RmspropUpdate& u) {
  return {T(u.alpha), T(1 - u.alpha), T(u.weight_decay), T(u.eps), T(u.momentum), T(-u.lr),
          u.weight_decay != 0, u.centered, u.eps_inside_sqrt, u.momentum > 0};
}
template <class S, class T>
DUEL_OPTIM_HD void rmsprop_element(const S& s, T& p, T g, T& sq, T* ga, T* buf) {
  if (s.use_wd) g = g + s.wd * p;
  sq = sq * s.alpha + s.one_minus_alpha * g * g;
  T avg = sq;
  if (s.centered) {
    *ga = *ga * s.alpha + s.one_minus_alpha * g;
    avg = avg - *ga * *ga;
  }
  const T denom = s.inside ? sqrt_(avg + s.eps) : sqrt_(avg) + s.eps;
  if (s.use_mom) {
    *buf = *buf * s.mom + g / denom;
    p = p + s.neg_lr * *buf;
  } else {
    p = p + s.neg_lr * (g / denom);
  }
}

}  // namespace optim_detail

}  // namespace duel
