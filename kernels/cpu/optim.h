// Fused optimizer updates (one pass over a parameter and its state buffers): the CPU
// kernels, and the per-element update rules that the device kernels of
// kernels/cuda/optim.cu share with them (DUEL_OPTIM_HD functions below), so that CPU,
// emulator and GPU run the very same sequence of floating-point operations.
//
// The rules follow PyTorch's torch.optim single-tensor implementations (and nn/optim.h):
//   SGD      d = g + wd p;  buf = first ? d : mom buf + (1 - damp) d;  d = nesterov ? d + mom buf : buf;
//            p -= lr d
//   Adam(W)  g += wd p (Adam) or p *= 1 - lr wd (AdamW);  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//            vmax = max(vmax, v) (amsgrad);  p -= lr / (1 - b1^t) * m / (sqrt(v or vmax) / sqrt(1 - b2^t) + eps)
//   RMSprop  g += wd p;  v = a v + (1 - a) g^2;  centred: ga = a ga + (1 - a) g, v' = v - ga^2;
//            denom = sqrt(v') + eps (eps_inside_sqrt: sqrt(v' + eps), DeepMind's DQN variant);
//            momentum: buf = mom buf + g / denom, p -= lr buf;  else p -= lr g / denom
// Every pointer is a contiguous array of n elements on the kernel's device; grad is
// read-only, the others are updated in place. Optional buffers (momentum_buffer when
// momentum == 0, max_exp_avg_sq without amsgrad, grad_avg when not centred) may be null.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define DUEL_OPTIM_HD __host__ __device__ __forceinline__
#else
#define DUEL_OPTIM_HD inline
#endif

namespace duel::cpu {

struct SgdUpdate {
  double lr = 0, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
  bool first_step = false;  // the momentum buffer is initialised with d (PyTorch: buf = d.clone())
};

struct AdamUpdate {
  double lr = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled_weight_decay = false;  // AdamW
  bool amsgrad = false;
  int64_t step = 1;  // t, after the increment (>= 1): bias corrections 1 - b^t
};

struct RmspropUpdate {
  double lr = 0, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0;
  bool centered = false;
  bool eps_inside_sqrt = false;
};

template <class T>
void sgd_update(T* param, const T* grad, T* momentum_buffer, int64_t n, const SgdUpdate& u);
template <class T>
void adam_update(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, int64_t n,
                 const AdamUpdate& u);
template <class T>
void rmsprop_update(T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buffer, int64_t n,
                    const RmspropUpdate& u);

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
}  // namespace duel::cpu
