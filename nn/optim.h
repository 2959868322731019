// Optimizers (torch.optim): SGD, Adam, AdamW, RMSprop, with PyTorch's update rules.
//
//   optim::Adam opt(gen->parameters(), {.lr = 2e-4, .betas = {0.5, 0.999}});
//   opt.zero_grad();  loss.backward();  opt.step();
//
// Parameter groups carry their own learning rate (the other hyperparameters are
// the optimizer's):
//   optim::SGD opt({{body->parameters()}, {head->parameters(), 1e-3}}, {.lr = 1e-2, .momentum = 0.9});
//
// Steps run under NoGradGuard. Per-parameter state (momentum buffers, moments)
// is created on the first step that sees a gradient, in the parameter's dtype
// and device: move modules with Module::to() before the first step. Parameters
// whose grad is undefined are skipped (their step counter does not advance).
//
// `fused` (default true) updates each contiguous float32/float64 parameter in
// one pass by a fused kernel on its own device (kernels/cpu/optim.cpp on the CPU,
// kernels/cuda/optim.cu on sim and cuda); otherwise (non-contiguous parameters,
// or fused = false) the same formulas run as in-place tensor ops. Both follow
// PyTorch's order of floating-point operations.
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"

namespace duel::optim {

using nn::StateDict;

struct ParamGroup {
  std::vector<Tensor> params;
  std::optional<double> lr;  // unset: the optimizer's lr
  ParamGroup() = default;
  ParamGroup(std::vector<Tensor> params, std::optional<double> lr = std::nullopt)  // NOLINT: {{params}, lr}
      : params(std::move(params)), lr(lr) {}
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual void step() = 0;
  // set_to_none: drop the gradients (default, as PyTorch 2); otherwise fill them with zeros.
  void zero_grad(bool set_to_none = true);

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  void add_param_group(ParamGroup group);
  double lr(size_t group = 0) const;
  void set_lr(double lr);                // every group
  void set_lr(size_t group, double lr);  // one group

  // Keys: "param_groups.<g>.lr" (0-d float64), "param_groups.<g>.num_params" (0-d int64),
  // "state.<g>.<i>.step" (0-d int64) and "state.<g>.<i>.<buffer>" (e.g. exp_avg; shares storage
  // with the live state). Hyperparameters other than lr are not stored: they come from the code.
  StateDict state_dict() const;
  // Checks the group structure and every buffer's shape against the parameters, then replaces
  // the whole state (buffers are copied and converted to each parameter's dtype and device).
  void load_state_dict(const StateDict& state);

  // Steps taken so far by parameter i of group g (0 before its first update).
  int64_t step_count(size_t group, size_t index) const;

  // Data-parallel training: runs the gradient-sync hook (set_gradient_sync) on every parameter
  // now, e.g. before clipping the gradients' norm; step() then does not sync again. Without a
  // hook (one process) it does nothing.
  void sync_gradients();

 protected:
  Optimizer(std::vector<ParamGroup> groups, double default_lr, std::string name);

  struct ParamState {
    int64_t step = 0;
    std::map<std::string, Tensor> buffers;
  };
  ParamState& state(size_t group, size_t index) { return state_[group][index]; }
  // A zero buffer shaped like p (its dtype and device).
  static Tensor zeros_like_param(const Tensor& p);
  // The gradient as a contiguous tensor of p's dtype (for the fused loops).
  static Tensor dense_grad(const Tensor& p);
  // Whether a fused kernel (kernels/cpu/optim.h, kernels/cuda/optim.cu) can update p in place.
  static bool fusable(const Tensor& p);

  // Called first by every step(): sync_gradients() unless it already ran since the last step.
  void sync_gradients_before_step();

  std::string name_;
  double default_lr_;
  bool gradients_synced_ = false;
  std::vector<ParamGroup> groups_;
  std::vector<std::vector<ParamState>> state_;
};

// Data-parallel training (dist/dist.h): a function every optimizer step calls first with the
// parameters of all its groups, to average their gradients over the processes. dist::init
// installs it when the program runs as several MPI processes; unset (the default), steps are
// exactly as in one process. Pass an empty function to remove it.
using GradientSync = std::function<void(const std::vector<Tensor>& params)>;
void set_gradient_sync(GradientSync sync);

// ---------------------------------------------------------------- SGD

// d = g + weight_decay * p;  with momentum: buf = d on the first step, else
// buf = momentum * buf + (1 - dampening) * d;  d = nesterov ? d + momentum * buf : buf;
// p -= lr * d.   State: "momentum_buffer".
struct SGDOptions {
  double lr = 1e-2;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool fused = true;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& options = {});
  SGD(std::vector<ParamGroup> groups, const SGDOptions& options = {});
  void step() override;
  SGDOptions options;
};

// ---------------------------------------------------------------- Adam / AdamW

// t += 1; g += weight_decay * p (Adam) or p *= 1 - lr * weight_decay (AdamW);
// m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  vmax = max(vmax, v) (amsgrad);
// p -= lr / (1 - b1^t) * m / (sqrt(v or vmax) / sqrt(1 - b2^t) + eps).
// State: "exp_avg", "exp_avg_sq", "max_exp_avg_sq" (amsgrad).
struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
  bool fused = true;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options = {});
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options = {});
  void step() override;
  AdamOptions options;

 protected:
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options, bool decoupled, const char* name);
  bool decoupled_weight_decay_ = false;
};

// Adam with decoupled weight decay (Loshchilov & Hutter); PyTorch's default weight_decay 1e-2.
struct AdamWOptions {
  double lr = 1e-3;
  std::pair<double, double> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  bool fused = true;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& options = {});
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& options = {});
};

// ---------------------------------------------------------------- RMSprop

// g += weight_decay * p;  v = alpha v + (1 - alpha) g^2;
// centered: ga = alpha ga + (1 - alpha) g, v' = v - ga^2 (else v' = v);
// denom = sqrt(v') + eps  (eps_inside_sqrt: sqrt(v' + eps), DeepMind's DQN RMSProp);
// momentum > 0: buf = momentum buf + g / denom, p -= lr buf;  else p -= lr g / denom.
// State: "square_avg", "grad_avg" (centered), "momentum_buffer" (momentum > 0).
// DQN (Mnih et al. 2015): {.lr = 2.5e-4, .alpha = 0.95, .eps = 0.01, .centered = true, .eps_inside_sqrt = true}.
struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
  bool eps_inside_sqrt = false;
  bool fused = true;
};

class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, const RMSpropOptions& options = {});
  RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& options = {});
  void step() override;
  RMSpropOptions options;
};
using RMSProp = RMSprop;
using RMSPropOptions = RMSpropOptions;

}  // namespace duel::optim
