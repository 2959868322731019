// Learning-rate schedules (torch.optim.lr_scheduler). Each scheduler sets
//   lr = base_lr * factor(epoch)
// for every parameter group, where base_lr is the group's lr when the
// scheduler was constructed and epoch counts step() calls (0 at construction,
// where the factor is already applied, as PyTorch does). Closed forms: two
// schedulers on one optimizer do not chain (the last one to step wins).
//
//   optim::StepLR sched(opt, /*step_size=*/30, /*gamma=*/0.1);
//   for (epoch ...) { train(); sched.step(); }
#pragma once
#include <functional>
#include <vector>

#include "nn/optim.h"

namespace duel::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  void step();  // epoch += 1, then sets the lrs
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  std::vector<double> get_last_lr() const;  // current lr of each group
  virtual double factor(int64_t epoch) const = 0;
  // {"last_epoch": 0-d int64}; loading also re-applies the lrs for that epoch.
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state);

 protected:
  explicit LRScheduler(Optimizer& optimizer);
  void apply();  // sets every group's lr for last_epoch_ (derived constructors call it)
  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = 0;
};

// factor = gamma ^ floor(epoch / step_size)
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);
  double factor(int64_t epoch) const override;
  int64_t step_size;
  double gamma;
};

// Linear from start_factor to end_factor over total_iters steps, then constant:
// factor = start + (end - start) * min(epoch, total_iters) / total_iters.
// Linear decay to zero: LinearLR(opt, 1.0, 0.0, n).
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0, int64_t total_iters = 5);
  double factor(int64_t epoch) const override;
  double start_factor, end_factor;
  int64_t total_iters;
};

// factor = gamma ^ epoch
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);
  double factor(int64_t epoch) const override;
  double gamma;
};

// factor = fn(epoch)
class LambdaLR : public LRScheduler {
 public:
  LambdaLR(Optimizer& optimizer, std::function<double(int64_t)> fn);
  double factor(int64_t epoch) const override { return fn(epoch); }
  std::function<double(int64_t)> fn;
};

}  // namespace duel::optim
