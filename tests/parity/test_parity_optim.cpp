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

int run_parity(Device dev, bool fused_device, double rtol32, double atol32, double rtol64, double atol64) {
  int n = 0;
  const auto cpu_cases = optimizer_cases(true);
  const auto dev_cases = optimizer_cases(fused_device);
  for (size_t k = 0; k < cpu_cases.size(); ++k) {
    for (DType dt : {kFloat32, kFloat64}) {
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
  // differently (the tensor ops apply a double alpha), and momentum buffers near zero are
  // differences of nearly equal numbers, hence an absolute tolerance at the parameters' scale.
  sim::ScopedOptions scoped(parity_sim_options());
  run_parity(Device("sim"), false, 1e-5, 1e-6, 1e-12, 1e-13);
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
