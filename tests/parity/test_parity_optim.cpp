// Parity of the fused optimizer kernels (kernels/cuda/optim.cu on the emulator, and on
// `cuda` when a GPU is present) against the CPU kernels (kernels/cpu/optim.cpp), through
// the optimizers of nn/optim.cpp: the same parameters and gradient sequence are stepped on
// cpu and on the device for several steps, for every option of SGD, Adam/AdamW and
// RMSprop, in float32 and float64; parameters and every state buffer are compared after
// each step. The rule is one shared inline function, so the emulator must agree to the last
// bit (the comparison allows a 1-ulp-sized tolerance only for a GPU's FMA contraction).
// A second test checks that the fused device path agrees with the tensor-op path
// (fused = false), which is independent code, so a broken kernel cannot hide behind a
// broken reference.
#include <catch2/catch.hpp>

#include "tests/skip.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "duel.h"
#include "kernels/cuda/kernels.h"
#include "kernels/cuda/runtime.h"
#include "kernels/sim/runtime.h"
#include "nn/optim.h"
#include "tests/fixture.h"

namespace duel::test {
namespace {

using MakeOpt = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

struct OptCase {
  std::string name;
  MakeOpt make;
};

std::vector<OptCase> optimizer_cases(bool fused) {
  std::vector<OptCase> v;
  auto sgd = [&](std::string name, optim::SGDOptions o) {
    o.fused = fused;
    v.push_back({"SGD " + name, [o](std::vector<Tensor> ps) { return std::make_unique<optim::SGD>(ps, o); }});
  };
  sgd("plain", {.lr = 0.1});
  sgd("momentum", {.lr = 0.05, .momentum = 0.9});
  sgd("momentum+dampening+wd", {.lr = 0.05, .momentum = 0.8, .dampening = 0.3, .weight_decay = 0.01});
  sgd("nesterov+wd", {.lr = 0.03, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true});
  auto adam = [&](std::string name, optim::AdamOptions o) {
    o.fused = fused;
    v.push_back({"Adam " + name, [o](std::vector<Tensor> ps) { return std::make_unique<optim::Adam>(ps, o); }});
  };
  adam("default", {.lr = 1e-2});
  adam("betas(0.5,0.999)+wd", {.lr = 2e-3, .betas = {0.5, 0.999}, .eps = 1e-6, .weight_decay = 0.05});
  adam("amsgrad", {.lr = 1e-2, .betas = {0.8, 0.9}, .amsgrad = true});
  auto adamw = [&](std::string name, optim::AdamWOptions o) {
    o.fused = fused;
    v.push_back({"AdamW " + name, [o](std::vector<Tensor> ps) { return std::make_unique<optim::AdamW>(ps, o); }});
  };
  adamw("default", {.lr = 1e-2});
  adamw("amsgrad+wd", {.lr = 5e-3, .weight_decay = 0.1, .amsgrad = true});
  auto rms = [&](std::string name, optim::RMSpropOptions o) {
    o.fused = fused;
    v.push_back({"RMSprop " + name, [o](std::vector<Tensor> ps) { return std::make_unique<optim::RMSprop>(ps, o); }});
  };
  rms("default", {.lr = 1e-2});
  rms("alpha+eps+wd", {.lr = 5e-3, .alpha = 0.9, .eps = 1e-4, .weight_decay = 0.02});
  rms("centered", {.lr = 1e-2, .centered = true});
  rms("momentum", {.lr = 1e-2, .momentum = 0.9});
  rms("centered+momentum+wd", {.lr = 1e-2, .alpha = 0.95, .weight_decay = 1e-3, .momentum = 0.5, .centered = true});
  rms("DQN (eps inside sqrt)", {.lr = 2.5e-4, .alpha = 0.95, .eps = 0.01, .centered = true, .eps_inside_sqrt = true});
  rms("eps inside sqrt+momentum", {.lr = 1e-3, .eps = 1e-3, .momentum = 0.7, .eps_inside_sqrt = true});
  return v;
}

// Parameters of awkward sizes (partial blocks; one larger than a grid-stride step of one
// block) and their gradient at step `s`, deterministic.
std::vector<Shape> param_shapes() { return {{1}, {33}, {7, 37}, {300}}; }
Tensor grad_at(const Shape& shape, int step, size_t index) {
  return det_values(shape, -1.0, 1.0, 1000 + 17 * step + index);
}

struct Run {
  std::vector<Tensor> params;
  std::unique_ptr<optim::Optimizer> opt;
};

Run make_run(const OptCase& c, DType dt, Device dev) {
  Run r;
  size_t i = 0;
  for (const Shape& s : param_shapes()) {
    Tensor p = det_values(s, -2.0, 2.0, 7 + i++).to(dt).to(dev);
    p.requires_grad_();
    r.params.push_back(p);
  }
  r.opt = c.make(r.params);
  return r;
}

void step(Run& r, int s, DType dt, Device dev) {
  for (size_t i = 0; i < r.params.size(); ++i) {
    Tensor g = grad_at(r.params[i].sizes(), s, i).to(dt).to(dev);
    r.params[i].set_grad(g);
  }
  r.opt->step();
}

void compare_runs(const std::string& what, Run& got, Run& want, double rtol, double atol) {
  for (size_t i = 0; i < want.params.size(); ++i)
    check_close(got.params[i].detach().to(kCPU), want.params[i].detach(), rtol, atol,
                what + " param " + std::to_string(i));
  auto sg = got.opt->state_dict(), sw = want.opt->state_dict();
  REQUIRE(sg.size() == sw.size());
  for (auto& [key, t] : sw) {
    REQUIRE(sg.count(key));
    check_close(sg[key].to(kCPU), t.to(kCPU), rtol, atol, what + " " + key);
  }
}

int run_parity(Device dev, bool fused_device, double rtol32, double atol32, double rtol64, double atol64,
               std::vector<DType> dtypes = {kFloat32, kFloat64}) {
  int n = 0;
  const auto cpu_cases = optimizer_cases(true);
  const auto dev_cases = optimizer_cases(fused_device);
  for (size_t k = 0; k < cpu_cases.size(); ++k) {
    for (DType dt : dtypes) {
      const std::string what = cpu_cases[k].name + " " + dtype_name(dt) + " [" + dev.str() +
                               (fused_device ? " fused" : " tensor ops") + "]";
      Run want = make_run(cpu_cases[k], dt, kCPU), got = make_run(dev_cases[k], dt, dev);
      const double rtol = dt == kFloat32 ? rtol32 : rtol64, atol = dt == kFloat32 ? atol32 : atol64;
      for (int s = 0; s < 5; ++s) {
        step(want, s, dt, kCPU);
        step(got, s, dt, dev);
        compare_runs(what + " step " + std::to_string(s + 1), got, want, rtol, atol);
      }
      ++n;
    }
  }
  return n;
}

// Every parameter and state tensor of a run, by name (parameters as "param<i>").
std::map<std::string, Tensor> all_tensors(Run& r) {
  std::map<std::string, Tensor> m;
  for (auto& [key, t] : r.opt->state_dict()) m[key] = t.to(kCPU);
  for (size_t i = 0; i < r.params.size(); ++i) m["param" + std::to_string(i)] = r.params[i].detach().to(kCPU);
  return m;
}

// The largest error of `got` (float32) against `exact` (the float64 run), per tensor in units of
// one float32 ulp of that tensor's largest magnitude; where it is largest goes to *where.
double error_in_ulps(Run& got, Run& exact, std::string* where) {
  double worst = 0;
  auto g = all_tensors(got), e = all_tensors(exact);
  for (auto& [key, t] : e) {
    REQUIRE(g.count(key));
    const auto x = t.to_vector<double>(), y = g[key].to_vector<double>();
    double scale = 0;
    for (double v : x) scale = std::max(scale, std::abs(v));
    const double ulp = std::max(scale, 1e-30) * 1.1920928955078125e-07;
    for (size_t i = 0; i < x.size(); ++i) {
      const double err = std::abs(y[i] - x[i]) / ulp;
      if (err > worst) {
        worst = err;
        *where = key + "[" + std::to_string(i) + "]: " + std::to_string(y[i]) + " vs exact " + std::to_string(x[i]);
      }
    }
  }
  return worst;
}

sim::Options parity_sim_options() {
  sim::Options o = sim::options();
  o.schedule_seed = 0x0971;
  o.poison = true;
  return o;
}

}  // namespace

TEST_CASE("parity: fused optimizer kernels, sim vs cpu, 5 steps, every option", "[parity][optim]") {
  sim::ScopedOptions scoped(parity_sim_options());
  sim::reset_stats();
  const int n = run_parity(Device("sim"), true, 0, 0, 0, 0);  // the same rule, the same compiler: bitwise
  CHECK(n == 2 * static_cast<int>(optimizer_cases(true).size()));
  CHECK(sim::stats().kernels_launched > 0);
}

TEST_CASE("parity: fused optimizer step on sim agrees with the tensor-op path", "[parity][optim]") {
  // The cpu side is fused (kernels/cpu/optim.cpp); the sim side runs the unfused tensor ops
  // (elementwise kernels), so this compares two independent implementations. They round
  // differently (the tensor ops apply a double alpha, the compiler contracts different
  // multiply-adds into FMAs at different optimisation levels), so in float32 they are not
  // compared with each other but each with the float64 run of the same case: both must be
  // within 32 float32 ulps of each tensor's largest value. (Measured at -O3: at most 11.3 for
  // the fused kernel, RMSprop centered, whose sqrt(v - avg^2) cancels; 6.4 for the tensor ops.
  // A relative tolerance of 1e-5 with a 1e-6 floor, the test's former rule, was tighter than
  // either path's own float32 error on such elements, and failed at -O1.) In float64 the two
  // agree to 1e-12 relative.
  sim::ScopedOptions scoped(parity_sim_options());
  run_parity(Device("sim"), false, 0, 0, 1e-12, 1e-13, {kFloat64});
  const auto fused = optimizer_cases(true), unfused = optimizer_cases(false);
  for (size_t k = 0; k < fused.size(); ++k) {
    Run exact = make_run(fused[k], kFloat64, kCPU), f32 = make_run(fused[k], kFloat32, kCPU),
        ops32 = make_run(unfused[k], kFloat32, Device("sim"));
    for (int s = 0; s < 5; ++s) {
      step(exact, s, kFloat64, kCPU);
      step(f32, s, kFloat32, kCPU);
      step(ops32, s, kFloat32, Device("sim"));
      std::string where_f, where_o;
      const double err_f = error_in_ulps(f32, exact, &where_f), err_o = error_in_ulps(ops32, exact, &where_o);
      INFO(fused[k].name << " float32 step " << s + 1 << ": fused cpu " << err_f << " ulps (" << where_f
                         << "), tensor ops on sim " << err_o << " ulps (" << where_o << ")");
      CHECK(err_f <= 32);
      CHECK(err_o <= 32);
    }
  }
}

TEST_CASE("parity: the optimizer uses the device kernel on sim", "[parity][optim]") {
  // A fused Adam step is one launch (after the first step, which also zero-fills the two
  // moment buffers); the tensor-op fallback launches about ten elementwise kernels.
  Tensor p = ones({10}, TensorOptions(kFloat32, Device("sim")));
  p.requires_grad_();
  optim::Adam opt({p}, {.lr = 0.1});
  p.set_grad(full({10}, 0.5, TensorOptions(kFloat32, Device("sim"))));
  sim::reset_stats();
  opt.step();
  CHECK(sim::stats().kernels_launched == 3);  // 2 x zeros + the update
  sim::reset_stats();
  opt.step();
  CHECK(sim::stats().kernels_launched == 1);
  opt.options.fused = false;
  sim::reset_stats();
  opt.step();
  CHECK(sim::stats().kernels_launched > 5);
  // each step moves p by about lr (m / sqrt(v) = 1 for a constant gradient)
  for (double v : p.detach().to(kCPU).to_vector<double>()) CHECK(v == Approx(0.7).epsilon(1e-5));
}

TEST_CASE("parity: fused optimizer kernels, cuda vs cpu", "[parity][optim]") {
  if (!cuda::is_available()) {
    SKIP_TEST("parity: no CUDA device, cuda optimizer parity skipped (" << cuda::unavailable_reason() << ")");
  }
  run_parity(Device("cuda"), true, 1e-5, 1e-7, 1e-13, 1e-15);  // FMA contraction on the GPU
}

}  // namespace duel::test

