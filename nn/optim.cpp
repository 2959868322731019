// Optimizer base (groups, state, state dicts) and the SGD / Adam / RMSprop updates.
// Each update exists twice with the same operation order: a fused kernel (one pass per
// parameter: kernels/cpu/optim.cpp on the CPU, kernels/cuda/optim.cu on sim and cuda,
// dispatched with DUEL_KERNEL) and a tensor-op version for the other cases
// (non-contiguous parameters, or fused = false).
#include "nn/optim.h"

#include <cmath>
#include <set>

#include "autograd/grad_mode.h"
#include "kernels/dispatch.h"
#include "tensor/ops/elementwise.h"

namespace duel::optim {

// ---------------------------------------------------------------- base

Optimizer::Optimizer(std::vector<ParamGroup> groups, double default_lr, std::string name)
    : name_(std::move(name)), default_lr_(default_lr) {
  DUEL_CHECK(default_lr >= 0, name_, ": lr must be non-negative, got ", default_lr);
  DUEL_CHECK(!groups.empty(), name_, ": got an empty list of parameter groups");
  for (auto& g : groups) add_param_group(std::move(g));
}

void Optimizer::add_param_group(ParamGroup group) {
  std::set<const TensorImpl*> seen;
  for (auto& g : groups_)
    for (auto& p : g.params) seen.insert(p.impl());
  for (size_t i = 0; i < group.params.size(); ++i) {
    const Tensor& p = group.params[i];
    DUEL_CHECK(p.defined(), name_, ": parameter ", i, " of group ", groups_.size(), " is undefined");
    DUEL_CHECK(p.is_leaf(), name_, ": can't optimize a non-leaf tensor (", p.str(), ")");
    DUEL_CHECK(is_floating(p.dtype()), name_, ": can only optimize float32/float64 tensors, got ", p.str());
    DUEL_CHECK(seen.insert(p.impl()).second, name_, ": parameter ", p.name().empty() ? p.str() : "'" + p.name() + "'",
               " appears more than once in the parameter groups");
  }
  if (!group.lr) group.lr = default_lr_;
  DUEL_CHECK(*group.lr >= 0, name_, ": lr must be non-negative, got ", *group.lr);
  state_.emplace_back(group.params.size());
  groups_.push_back(std::move(group));
}

namespace {
GradientSync& gradient_sync() {
  static GradientSync sync;
  return sync;
}
}  // namespace

void set_gradient_sync(GradientSync sync) { gradient_sync() = std::move(sync); }

void Optimizer::sync_gradients() {
  if (gradient_sync()) {
    std::vector<Tensor> params;
    for (auto& g : groups_) params.insert(params.end(), g.params.begin(), g.params.end());
    gradient_sync()(params);
  }
  gradients_synced_ = true;
}

void Optimizer::sync_gradients_before_step() {
  if (!gradients_synced_) sync_gradients();
  gradients_synced_ = false;
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard ng;
  for (auto& g : groups_)
    for (auto& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (set_to_none || grad.requires_grad()) {
        p.zero_grad();
      } else {
        grad.zero_();
      }
    }
}

double Optimizer::lr(size_t group) const {
  DUEL_CHECK(group < groups_.size(), name_, ": no parameter group ", group, " (", groups_.size(), " groups)");
  return *groups_[group].lr;
}

void Optimizer::set_lr(double lr) {
  for (size_t g = 0; g < groups_.size(); ++g) set_lr(g, lr);
}

void Optimizer::set_lr(size_t group, double lr) {
  DUEL_CHECK(group < groups_.size(), name_, ": no parameter group ", group, " (", groups_.size(), " groups)");
  DUEL_CHECK(lr >= 0, name_, ": lr must be non-negative, got ", lr);
  groups_[group].lr = lr;
}

int64_t Optimizer::step_count(size_t group, size_t index) const {
  DUEL_CHECK(group < state_.size() && index < state_[group].size(), name_, ": no parameter ", index, " in group ",
             group);
  return state_[group][index].step;
}

Tensor Optimizer::zeros_like_param(const Tensor& p) { return zeros(p.sizes(), TensorOptions(p.dtype(), p.device())); }

Tensor Optimizer::dense_grad(const Tensor& p) {
  Tensor g = p.grad().detach();
  if (g.dtype() != p.dtype()) g = g.to(p.dtype());
  return g.contiguous();
}

bool Optimizer::fusable(const Tensor& p) { return p.is_contiguous() && is_floating(p.dtype()); }

StateDict Optimizer::state_dict() const {
  StateDict sd;
  for (size_t g = 0; g < groups_.size(); ++g) {
    std::string gp = "param_groups." + std::to_string(g) + ".";
    sd[gp + "lr"] = scalar_tensor(*groups_[g].lr, TensorOptions(kFloat64));
    sd[gp + "num_params"] = scalar_tensor((double)groups_[g].params.size(), TensorOptions(kInt64));
    for (size_t i = 0; i < state_[g].size(); ++i) {
      const ParamState& st = state_[g][i];
      if (st.step == 0 && st.buffers.empty()) continue;
      std::string sp = "state." + std::to_string(g) + "." + std::to_string(i) + ".";
      sd[sp + "step"] = scalar_tensor((double)st.step, TensorOptions(kInt64));
      for (auto& [name, t] : st.buffers) sd[sp + name] = t.detach();
    }
  }
  return sd;
}

void Optimizer::load_state_dict(const StateDict& sd) {
  const std::string where = name_ + "::load_state_dict: ";
  std::vector<std::vector<ParamState>> fresh(groups_.size());
  std::vector<double> lrs(groups_.size());
  std::set<std::string> used;
  for (size_t g = 0; g < groups_.size(); ++g) {
    std::string gp = "param_groups." + std::to_string(g) + ".";
    auto it_n = sd.find(gp + "num_params"), it_lr = sd.find(gp + "lr");
    DUEL_CHECK(it_n != sd.end() && it_lr != sd.end(), where, "missing key '", gp,
               it_n == sd.end() ? "num_params" : "lr", "' (this optimizer has ", groups_.size(), " parameter groups)");
    int64_t n = (int64_t)it_n->second.item();
    DUEL_CHECK(n == (int64_t)groups_[g].params.size(), where, "parameter group ", g, " has ", groups_[g].params.size(),
               " parameters but the state dict's has ", n);
    lrs[g] = it_lr->second.item();
    used.insert(gp + "num_params");
    used.insert(gp + "lr");
    fresh[g].resize(n);
  }
  for (auto& [key, t] : sd) {
    if (used.count(key)) continue;
    // state.<g>.<i>.<name>
    size_t a = key.find('.'), b = a == std::string::npos ? a : key.find('.', a + 1),
           c = b == std::string::npos ? b : key.find('.', b + 1);
    DUEL_CHECK(key.compare(0, a, "state") == 0 && c != std::string::npos, where, "unexpected key '", key, "'");
    auto index = [&, &key = key](size_t from, size_t to) {  // (clang 14 cannot capture a structured binding)
      std::string digits = key.substr(from, to - from);
      DUEL_CHECK(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos, where,
                 "unexpected key '", key, "' (expected state.<group>.<index>.<name>)");
      return (size_t)std::stoull(digits);
    };
    size_t g = index(a + 1, b), i = index(b + 1, c);
    std::string name = key.substr(c + 1);
    DUEL_CHECK(g < groups_.size() && i < groups_[g].params.size(), where, "unexpected key '", key,
               "' (no such parameter)");
    const Tensor& p = groups_[g].params[i];
    DUEL_CHECK(t.defined(), where, "'", key, "' is undefined");
    if (name == "step") {
      DUEL_CHECK(t.numel() == 1, where, "'", key, "' should be a 0-d step counter, got shape ", shape_str(t.sizes()));
      fresh[g][i].step = (int64_t)t.item();
    } else {
      DUEL_CHECK(t.sizes() == p.sizes(), where, "state '", key, "' has shape ", shape_str(t.sizes()),
                 " but its parameter has shape ", shape_str(p.sizes()));
      Tensor copy = zeros_like_param(p);
      NoGradGuard ng;
      copy.copy_(t.detach().to(p.dtype()));
      fresh[g][i].buffers[name] = copy;
    }
  }
  state_ = std::move(fresh);
  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].lr = lrs[g];
}

namespace {

template <class F>
void dispatch_fused(const Tensor& p, F&& f) {
  if (p.dtype() == kFloat32) {
    f(float{});
  } else {
    f(double{});
  }
}

template <class T>
T* ptr(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// State buffers are created contiguous (zeros_like_param, load_state_dict); checked anyway.
bool all_contiguous(std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    if (t->defined() && !t->is_contiguous()) return false;
  return true;
}

}  // namespace

// ---------------------------------------------------------------- SGD

SGD::SGD(std::vector<Tensor> params, const SGDOptions& o) : SGD(std::vector<ParamGroup>{{std::move(params)}}, o) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& o) : Optimizer(std::move(groups), o.lr, "SGD"), options(o) {
  DUEL_CHECK(o.momentum >= 0, "SGD: momentum must be non-negative, got ", o.momentum);
  DUEL_CHECK(o.weight_decay >= 0, "SGD: weight_decay must be non-negative, got ", o.weight_decay);
  DUEL_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
             "SGD: nesterov momentum requires momentum > 0 and zero dampening");
}

void SGD::step() {
  sync_gradients_before_step();
  NoGradGuard ng;
  const double mom = options.momentum, damp = options.dampening, wd = options.weight_decay;
  const bool nesterov = options.nesterov;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const double lr = *groups_[gi].lr;
    for (size_t pi = 0; pi < groups_[gi].params.size(); ++pi) {
      Tensor p = groups_[gi].params[pi];
      if (!p.grad().defined()) continue;
      ParamState& st = state(gi, pi);
      const bool first = st.step == 0 || !st.buffers.count("momentum_buffer");
      st.step += 1;
      Tensor buf;
      if (mom != 0) {
        auto it = st.buffers.find("momentum_buffer");
        buf = it == st.buffers.end() ? (st.buffers["momentum_buffer"] = zeros_like_param(p)) : it->second;
      }
      if (options.fused && fusable(p) && all_contiguous({&buf})) {
        Tensor g = dense_grad(p);
        SgdUpdate u;
        u.lr = lr, u.momentum = mom, u.dampening = damp, u.weight_decay = wd, u.nesterov = nesterov;
        u.first_step = first;
        dispatch_fused(p, [&](auto tag) {
          using T = decltype(tag);
          DUEL_KERNEL(p.device(), sgd_update<T>, p.data<T>(), g.data<T>(), ptr<T>(buf), p.numel(), u);
        });
        p.bump_version();
        if (buf.defined()) buf.bump_version();
      } else {
        Tensor d = p.grad().detach();
        if (wd != 0) d = add(d, p, wd);
        if (mom != 0) {
          if (first) {
            buf.copy_(d);
          } else {
            buf.mul_(mom).add_(d, 1 - damp);
          }
          d = nesterov ? add(d, buf, mom) : buf;
        }
        p.add_(d, -lr);
      }
    }
  }
}

// ---------------------------------------------------------------- Adam

Adam::Adam(std::vector<Tensor> params, const AdamOptions& o)
    : Adam(std::vector<ParamGroup>{{std::move(params)}}, o, false, "Adam") {}
Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& o) : Adam(std::move(groups), o, false, "Adam") {}

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& o, bool decoupled, const char* name)
    : Optimizer(std::move(groups), o.lr, name), options(o), decoupled_weight_decay_(decoupled) {
  DUEL_CHECK(o.eps >= 0, name, ": eps must be non-negative, got ", o.eps);
  DUEL_CHECK(o.betas.first >= 0 && o.betas.first < 1 && o.betas.second >= 0 && o.betas.second < 1, name,
             ": betas must be in [0, 1), got (", o.betas.first, ", ", o.betas.second, ")");
  DUEL_CHECK(o.weight_decay >= 0, name, ": weight_decay must be non-negative, got ", o.weight_decay);
}

void Adam::step() {
  sync_gradients_before_step();
  NoGradGuard ng;
  const double b1 = options.betas.first, b2 = options.betas.second, eps = options.eps, wd = options.weight_decay;
  const bool amsgrad = options.amsgrad, decoupled = decoupled_weight_decay_;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const double lr = *groups_[gi].lr;
    for (size_t pi = 0; pi < groups_[gi].params.size(); ++pi) {
      Tensor p = groups_[gi].params[pi];
      if (!p.grad().defined()) continue;
      ParamState& st = state(gi, pi);
      auto buffer = [&](const char* name) {
        auto it = st.buffers.find(name);
        return it == st.buffers.end() ? (st.buffers[name] = zeros_like_param(p)) : it->second;
      };
      Tensor m = buffer("exp_avg"), v = buffer("exp_avg_sq");
      Tensor vmax = amsgrad ? buffer("max_exp_avg_sq") : Tensor();
      st.step += 1;
      const double bc1 = 1 - std::pow(b1, (double)st.step), bc2 = 1 - std::pow(b2, (double)st.step);
      const double step_size = lr / bc1, bc2_sqrt = std::sqrt(bc2);
      if (options.fused && fusable(p) && all_contiguous({&m, &v, &vmax})) {
        Tensor g = dense_grad(p);
        AdamUpdate u;  // the kernel derives step_size and sqrt(bc2) exactly as below
        u.lr = lr, u.beta1 = b1, u.beta2 = b2, u.eps = eps, u.weight_decay = wd;
        u.decoupled_weight_decay = decoupled, u.amsgrad = amsgrad, u.step = st.step;
        dispatch_fused(p, [&](auto tag) {
          using T = decltype(tag);
          DUEL_KERNEL(p.device(), adam_update<T>, p.data<T>(), g.data<T>(), m.data<T>(), v.data<T>(), ptr<T>(vmax),
                      p.numel(), u);
        });
        for (Tensor* t : {&p, &m, &v, &vmax})
          if (t->defined()) t->bump_version();
      } else {
        Tensor g = p.grad().detach();
        if (wd != 0) {
          if (decoupled) {
            p.mul_(1 - lr * wd);
          } else {
            g = add(g, p, wd);
          }
        }
        m.mul_(b1).add_(g, 1 - b1);
        v.mul_(b2).add_(g * g, 1 - b2);
        Tensor vv = v;
        if (amsgrad) {
          vmax.copy_(maximum(vmax, v));
          vv = vmax;
        }
        Tensor denom = sqrt(vv) / bc2_sqrt + eps;
        p.add_(m / denom, -step_size);
      }
    }
  }
}

namespace {
AdamOptions adam_options(const AdamWOptions& o) {
  AdamOptions a;
  a.lr = o.lr;
  a.betas = o.betas;
  a.eps = o.eps;
  a.weight_decay = o.weight_decay;
  a.amsgrad = o.amsgrad;
  a.fused = o.fused;
  return a;
}
}  // namespace

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& o)
    : Adam(std::vector<ParamGroup>{{std::move(params)}}, adam_options(o), true, "AdamW") {}
AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& o)
    : Adam(std::move(groups), adam_options(o), true, "AdamW") {}

// ---------------------------------------------------------------- RMSprop

RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& o)
    : RMSprop(std::vector<ParamGroup>{{std::move(params)}}, o) {}

RMSprop::RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& o)
    : Optimizer(std::move(groups), o.lr, "RMSprop"), options(o) {
  DUEL_CHECK(o.alpha >= 0, "RMSprop: alpha must be non-negative, got ", o.alpha);
  DUEL_CHECK(o.eps >= 0, "RMSprop: eps must be non-negative, got ", o.eps);
  DUEL_CHECK(o.momentum >= 0, "RMSprop: momentum must be non-negative, got ", o.momentum);
  DUEL_CHECK(o.weight_decay >= 0, "RMSprop: weight_decay must be non-negative, got ", o.weight_decay);
}

void RMSprop::step() {
  sync_gradients_before_step();
  NoGradGuard ng;
  const double alpha = options.alpha, eps = options.eps, wd = options.weight_decay, mom = options.momentum;
  const bool centered = options.centered, inside = options.eps_inside_sqrt;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const double lr = *groups_[gi].lr;
    for (size_t pi = 0; pi < groups_[gi].params.size(); ++pi) {
      Tensor p = groups_[gi].params[pi];
      if (!p.grad().defined()) continue;
      ParamState& st = state(gi, pi);
      auto buffer = [&](const char* name) {
        auto it = st.buffers.find(name);
        return it == st.buffers.end() ? (st.buffers[name] = zeros_like_param(p)) : it->second;
      };
      Tensor sq = buffer("square_avg");
      Tensor ga = centered ? buffer("grad_avg") : Tensor();
      Tensor buf = mom > 0 ? buffer("momentum_buffer") : Tensor();
      st.step += 1;
      if (options.fused && fusable(p) && all_contiguous({&sq, &ga, &buf})) {
        Tensor g = dense_grad(p);
        RmspropUpdate u;
        u.lr = lr, u.alpha = alpha, u.eps = eps, u.weight_decay = wd, u.momentum = mom;
        u.centered = centered, u.eps_inside_sqrt = inside;
        dispatch_fused(p, [&](auto tag) {
          using T = decltype(tag);
          DUEL_KERNEL(p.device(), rmsprop_update<T>, p.data<T>(), g.data<T>(), sq.data<T>(), ptr<T>(ga), ptr<T>(buf),
                      p.numel(), u);
        });
        for (Tensor* t : {&p, &sq, &ga, &buf})
          if (t->defined()) t->bump_version();
      } else {
        Tensor g = p.grad().detach();
        if (wd != 0) g = add(g, p, wd);
        sq.mul_(alpha).add_(g * g, 1 - alpha);
        Tensor avg = sq;
        if (centered) {
          ga.mul_(alpha).add_(g, 1 - alpha);
          avg = sub(sq, ga * ga);
        }
        Tensor denom = inside ? sqrt(avg + eps) : sqrt(avg) + eps;
        if (mom > 0) {
          buf.mul_(mom).add_(g / denom);
          p.add_(buf, -lr);
        } else {
          p.add_(g / denom, -lr);
        }
      }
    }
  }
}

}  // namespace duel::optim
