#include "nn/lr_scheduler.h"

#include <algorithm>
#include <cmath>

namespace duel::optim {

LRScheduler::LRScheduler(Optimizer& opt) : optimizer_(opt) {
  for (size_t g = 0; g < opt.param_groups().size(); ++g) base_lrs_.push_back(opt.lr(g));
}

void LRScheduler::apply() {
  DUEL_CHECK(base_lrs_.size() == optimizer_.param_groups().size(), "LRScheduler: the optimizer has ",
             optimizer_.param_groups().size(), " parameter groups but the scheduler was built for ", base_lrs_.size());
  double f = factor(last_epoch_);
  for (size_t g = 0; g < base_lrs_.size(); ++g) optimizer_.set_lr(g, base_lrs_[g] * f);
}

void LRScheduler::step() {
  ++last_epoch_;
  apply();
}

std::vector<double> LRScheduler::get_last_lr() const {
  std::vector<double> out;
  for (size_t g = 0; g < optimizer_.param_groups().size(); ++g) out.push_back(optimizer_.lr(g));
  return out;
}

StateDict LRScheduler::state_dict() const {
  return {{"last_epoch", scalar_tensor((double)last_epoch_, TensorOptions(kInt64))}};
}

void LRScheduler::load_state_dict(const StateDict& state) {
  auto it = state.find("last_epoch");
  DUEL_CHECK(it != state.end() && it->second.defined() && it->second.numel() == 1,
             "LRScheduler::load_state_dict: expected a 0-d 'last_epoch' entry");
  for (auto& [k, v] : state) DUEL_CHECK(k == "last_epoch", "LRScheduler::load_state_dict: unexpected key '", k, "'");
  last_epoch_ = (int64_t)it->second.item();
  apply();
}

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma) : LRScheduler(opt), step_size(step_size), gamma(gamma) {
  DUEL_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
  apply();
}
double StepLR::factor(int64_t epoch) const { return std::pow(gamma, (double)(epoch / step_size)); }

LinearLR::LinearLR(Optimizer& opt, double start, double end, int64_t total)
    : LRScheduler(opt), start_factor(start), end_factor(end), total_iters(total) {
  DUEL_CHECK(start > 0 && start <= 1, "LinearLR: start_factor must be in (0, 1], got ", start);
  DUEL_CHECK(end >= 0 && end <= 1, "LinearLR: end_factor must be in [0, 1], got ", end);
  DUEL_CHECK(total > 0, "LinearLR: total_iters must be positive, got ", total);
  apply();
}
double LinearLR::factor(int64_t epoch) const {
  return start_factor + (end_factor - start_factor) * (double)std::min(epoch, total_iters) / (double)total_iters;
}

ExponentialLR::ExponentialLR(Optimizer& opt, double gamma) : LRScheduler(opt), gamma(gamma) { apply(); }
double ExponentialLR::factor(int64_t epoch) const { return std::pow(gamma, (double)epoch); }

LambdaLR::LambdaLR(Optimizer& opt, std::function<double(int64_t)> f) : LRScheduler(opt), fn(std::move(f)) {
  DUEL_CHECK(fn != nullptr, "LambdaLR: the lambda is empty");
  apply();
}

}  // namespace duel::optim
