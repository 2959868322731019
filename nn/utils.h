// Training utilities: gradient clipping, WGAN weight clipping, exponential
// moving averages of weights, and target-network updates (DQN / DDPG style).
// All run without recording a graph.
#pragma once
#include <limits>
#include <vector>

#include "nn/module.h"

namespace duel::nn {

// Scales all gradients together so that their joint p-norm is at most max_norm
// (torch.nn.utils.clip_grad_norm_): total = ||(||g_1||_p, ..., ||g_k||_p)||_p,
// g *= min(1, max_norm / (total + 1e-6)). norm_type may be infinity (max |g|).
// Parameters without a gradient are ignored. Returns the total norm before clipping.
// error_if_nonfinite: throw if the total norm is nan or inf.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
inline constexpr double kInfNorm = std::numeric_limits<double>::infinity();

// Clamps every gradient element into [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

// Clamps parameter values into [lo, hi] in place (WGAN's weight clipping: lo = -c, hi = c).
void clamp_parameters_(const std::vector<Tensor>& params, double lo, double hi);

// Exponential moving average of a module's parameters (Polyak averaging; e.g.
// the averaged generator of ProGAN/StyleGAN):
//   shadow = decay * shadow + (1 - decay) * param   on update(),
// buffers (BatchNorm running stats, ...) are copied as they are. The shadow
// starts as a copy of the module's state; it lives in the module's dtype and device.
class ExponentialMovingAverage {
 public:
  ExponentialMovingAverage(const Module& module, double decay);
  void update(const Module& module);
  // Writes the averaged weights (and the copied buffers) into `module` (same architecture).
  void copy_to(Module& module) const;
  const StateDict& shadow() const { return shadow_; }
  double decay;
  int64_t num_updates = 0;

 private:
  StateDict shadow_;
  std::vector<std::string> param_names_;
};

// target = tau * source + (1 - tau) * target for every parameter and floating
// buffer (integer buffers are copied). tau = 1 is hard_update. The modules
// must have the same parameter and buffer names and shapes.
void soft_update(Module& target, const Module& source, double tau);
// Copies every parameter and buffer of source into target (a DQN target network sync).
void hard_update(Module& target, const Module& source);

}  // namespace duel::nn
