// Fused optimizer updates (one pass over a parameter and its state buffers): the CPU
// kernels, and the per-element update rules that the device kernels of
// kernels/cuda/optim.cu share with them (kernels/optim_rules.h), so that CPU,
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
#include <cstdint>

#include "kernels/optim_rules.h"  // the per-element rules, shared with kernels/cuda/optim.cu
#include "kernels/types.h"        // SgdUpdate, AdamUpdate, RmspropUpdate

namespace duel::cpu {

template <class T>
void sgd_update(T* param, const T* grad, T* momentum_buffer, int64_t n, const SgdUpdate& u);
template <class T>
void adam_update(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, int64_t n,
                 const AdamUpdate& u);
template <class T>
void rmsprop_update(T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buffer, int64_t n,
                    const RmspropUpdate& u);

}  // namespace duel::cpu
