#include "nn/utils.h"

#include <cmath>
#include <set>

#include "autograd/grad_mode.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/reduction.h"

namespace duel::nn {

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double p, bool error_if_nonfinite) {
  DUEL_CHECK(p > 0, "clip_grad_norm_: norm_type must be positive, got ", p);
  NoGradGuard ng;
  std::vector<Tensor> grads;
  std::set<const TensorImpl*> seen;
  for (auto& t : params)
    if (t.defined() && t.grad().defined() && seen.insert(t.impl()).second) grads.push_back(t.grad());
  if (grads.empty()) return 0.0;
  double total = 0.0;
  for (auto& g : grads) {
    Tensor a = abs(g.detach());
    if (std::isinf(p)) {
      total = std::max(total, max(a).item());
    } else if (p == 2.0) {
      total += sum(a * a).item();
    } else if (p == 1.0) {
      total += sum(a).item();
    } else {
      total += sum(pow(a, p)).item();
    }
  }
  if (!std::isinf(p)) total = p == 2.0 ? std::sqrt(total) : (p == 1.0 ? total : std::pow(total, 1.0 / p));
  DUEL_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm_: the total norm of order ", p,
             " of the gradients is non-finite (", total, "), so it cannot be clipped");
  double coef = max_norm / (total + 1e-6);
  if (coef < 1.0)
    for (auto& g : grads) g.mul_(coef);
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  DUEL_CHECK(clip_value >= 0, "clip_grad_value_: clip_value must be non-negative, got ", clip_value);
  NoGradGuard ng;
  std::set<const TensorImpl*> seen;
  for (auto& t : params)
    if (t.defined() && t.grad().defined() && seen.insert(t.impl()).second) t.grad().clamp_(-clip_value, clip_value);
}

void clamp_parameters_(const std::vector<Tensor>& params, double lo, double hi) {
  DUEL_CHECK(lo <= hi, "clamp_parameters_: lo (", lo, ") must be <= hi (", hi, ")");
  NoGradGuard ng;
  for (auto t : params)
    if (t.defined()) t.clamp_(lo, hi);
}

// ---------------------------------------------------------------- EMA

ExponentialMovingAverage::ExponentialMovingAverage(const Module& module, double d) : decay(d) {
  DUEL_CHECK(d >= 0 && d <= 1, "ExponentialMovingAverage: decay must be in [0, 1], got ", d);
  NoGradGuard ng;
  for (auto& [name, t] : module.state_dict()) shadow_[name] = t.clone();
  for (auto& [name, t] : module.named_parameters()) param_names_.push_back(name);
}

void ExponentialMovingAverage::update(const Module& module) {
  NoGradGuard ng;
  StateDict cur = module.state_dict();
  DUEL_CHECK(cur.size() == shadow_.size(), "ExponentialMovingAverage::update: the module has ", cur.size(),
             " state entries but the average was built with ", shadow_.size());
  std::set<std::string> params(param_names_.begin(), param_names_.end());
  for (auto& [name, s] : shadow_) {
    auto it = cur.find(name);
    DUEL_CHECK(it != cur.end(), "ExponentialMovingAverage::update: the module has no '", name, "'");
    DUEL_CHECK(it->second.sizes() == s.sizes(), "ExponentialMovingAverage::update: '", name, "' has shape ",
               shape_str(it->second.sizes()), " but its average has shape ", shape_str(s.sizes()));
    Tensor sh = s;
    if (params.count(name)) {
      sh.mul_(decay).add_(it->second, 1.0 - decay);
    } else {
      sh.copy_(it->second);
    }
  }
  ++num_updates;
}

void ExponentialMovingAverage::copy_to(Module& module) const { module.load_state_dict(shadow_, true); }

// ---------------------------------------------------------------- target networks

namespace {
void check_same(const StateDict& t, const StateDict& s, const char* op) {
  for (auto& [name, tt] : t) {
    auto it = s.find(name);
    DUEL_CHECK(it != s.end(), op, ": the source module has no '", name, "'");
    DUEL_CHECK(it->second.sizes() == tt.sizes(), op, ": '", name, "' has shape ", shape_str(tt.sizes()),
               " in the target and ", shape_str(it->second.sizes()), " in the source");
  }
  for (auto& [name, st] : s) DUEL_CHECK(t.count(name), op, ": the target module has no '", name, "'");
}
}  // namespace

void soft_update(Module& target, const Module& source, double tau) {
  DUEL_CHECK(tau >= 0 && tau <= 1, "soft_update: tau must be in [0, 1], got ", tau);
  NoGradGuard ng;
  StateDict t = target.state_dict(), s = source.state_dict();
  check_same(t, s, "soft_update");
  std::set<std::pair<const Storage*, int64_t>> done;  // a tensor shared under two names is updated once
  for (auto& [name, tt] : t) {
    if (!done.insert({tt.storage().get(), tt.offset()}).second) continue;
    Tensor dst = tt;
    const Tensor& src = s.at(name);
    if (is_floating(dst.dtype())) {
      dst.mul_(1.0 - tau).add_(src, tau);
    } else {
      dst.copy_(src);
    }
  }
}

void hard_update(Module& target, const Module& source) {
  NoGradGuard ng;
  StateDict t = target.state_dict(), s = source.state_dict();
  check_same(t, s, "hard_update");
  for (auto& [name, tt] : t) {
    Tensor dst = tt;
    dst.copy_(s.at(name));
  }
}

}  // namespace duel::nn
