// Optimizers, schedules and training utilities. References: PyTorch
// (tests/fixtures/nn_layers_optim.txt, from tests/fixtures/make_nn_layer_fixtures.py;
// the eps-inside-sqrt RMSProp cases come from a hand-written loop there) or
// values derived by hand in the test.
#include <catch2/catch.hpp>
#include <cmath>

#include "nn/nn.h"
#include "tests/fixture.h"

using namespace duel;
using Catch::Matchers::Contains;
using duel::test::FxCase;
using duel::test::FxTensor;

namespace {

const char* kFile = "nn_layers_optim.txt";
using MakeOpt = std::function<std::unique_ptr<optim::Optimizer>(const std::vector<Tensor>&, bool fused)>;

template <class O, class Opts>
MakeOpt flat(Opts o) {
  return [o](const std::vector<Tensor>& ps, bool fused) mutable {
    o.fused = fused;
    return std::make_unique<O>(ps, o);
  };
}

std::map<std::string, MakeOpt> optimizer_table() {
  std::map<std::string, MakeOpt> t;
  t["sgd"] = flat<optim::SGD>(optim::SGDOptions{.lr = 0.1});
  t["sgd_momentum"] = flat<optim::SGD>(optim::SGDOptions{.lr = 0.05, .momentum = 0.9});
  t["sgd_momentum_dampening"] = flat<optim::SGD>(optim::SGDOptions{.lr = 0.05, .momentum = 0.8, .dampening = 0.3});
  t["sgd_nesterov"] = flat<optim::SGD>(optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true});
  t["sgd_weight_decay"] = flat<optim::SGD>(optim::SGDOptions{.lr = 0.1, .momentum = 0.5, .weight_decay = 0.1});
  t["sgd_groups"] = [](const std::vector<Tensor>& ps, bool fused) {
    return std::make_unique<optim::SGD>(std::vector<optim::ParamGroup>{{{ps[0]}}, {{ps[1]}, 0.02}},
                                        optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .fused = fused});
  };
  t["sgd_f32"] = flat<optim::SGD>(optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
  t["adam"] = flat<optim::Adam>(optim::AdamOptions{.lr = 0.1});
  t["adam_betas_weight_decay"] =
      flat<optim::Adam>(optim::AdamOptions{.lr = 0.05, .betas = {0.5, 0.99}, .eps = 1e-6, .weight_decay = 0.1});
  t["adam_amsgrad"] = flat<optim::Adam>(optim::AdamOptions{.lr = 0.1, .betas = {0.8, 0.9}, .amsgrad = true});
  t["adamw"] = flat<optim::AdamW>(optim::AdamWOptions{.lr = 0.05, .weight_decay = 0.2});
  t["adamw_amsgrad"] = flat<optim::AdamW>(optim::AdamWOptions{.lr = 0.05, .weight_decay = 0.1, .amsgrad = true});
  t["adam_f32"] = flat<optim::Adam>(optim::AdamOptions{.lr = 0.01, .betas = {0.5, 0.999}});
  t["rmsprop"] = flat<optim::RMSprop>(optim::RMSpropOptions{.lr = 0.01});
  t["rmsprop_centered"] = flat<optim::RMSprop>(optim::RMSpropOptions{.lr = 0.01, .alpha = 0.9, .centered = true});
  t["rmsprop_momentum"] = flat<optim::RMSprop>(optim::RMSpropOptions{.lr = 0.01, .eps = 1e-4, .momentum = 0.9});
  t["rmsprop_centered_momentum_wd"] = flat<optim::RMSprop>(
      optim::RMSpropOptions{.lr = 0.02, .alpha = 0.95, .weight_decay = 0.1, .momentum = 0.5, .centered = true});
  t["rmsprop_f32"] = flat<optim::RMSprop>(optim::RMSpropOptions{.lr = 0.01, .centered = true});
  t["rmsprop_dqn"] = flat<optim::RMSProp>(
      optim::RMSPropOptions{.lr = 0.01, .alpha = 0.95, .eps = 0.01, .centered = true, .eps_inside_sqrt = true});
  t["rmsprop_eps_inside_momentum"] = flat<optim::RMSprop>(
      optim::RMSpropOptions{.lr = 0.005, .alpha = 0.9, .eps = 1e-3, .momentum = 0.9, .eps_inside_sqrt = true});
  return t;
}

struct Quadratic {
  Tensor p0, p1, a0, t0, a1, t1;
  Quadratic(const FxCase& c, DType dt) {
    p0 = c.input("p0").make(dt).requires_grad_();
    p1 = c.input("p1").make(dt).requires_grad_();
    a0 = c.input("a0").make(dt), t0 = c.input("t0").make(dt);
    a1 = c.input("a1").make(dt), t1 = c.input("t1").make(dt);
  }
  void backward() {
    Tensor d0 = p0 - t0, d1 = p1 - t1;
    (sum(a0 * d0 * d0) + sum(a1 * d1 * d1)).backward();
  }
};

void run_optimizer_case(const FxCase& c, const MakeOpt& make, bool fused) {
  INFO("case " << c.name << (fused ? " (fused loop)" : " (tensor ops)"));
  const bool f32 = c.has_flag("f32");
  const DType dt = f32 ? kFloat32 : kFloat64;
  const double rtol = f32 ? 1e-5 : 1e-11, atol = f32 ? 1e-6 : 1e-13;
  Quadratic q(c, dt);
  auto opt = make({q.p0, q.p1}, fused);
  int steps = 0;
  for (int k = 1;; ++k) {
    const FxTensor* e0 = nullptr;
    for (auto& o : c.outputs)
      if (o.name == "p0." + std::to_string(k)) e0 = &o;
    if (!e0) break;
    opt->zero_grad();
    q.backward();
    opt->step();
    ++steps;
    for (auto& o : c.outputs)
      if (o.name == "p0." + std::to_string(k) || o.name == "p1." + std::to_string(k))
        duel::test::check_values(o.name[1] == '0' ? q.p0 : q.p1, o.values, o.shape, rtol, atol, o.name);
  }
  CHECK(steps == 5);
  CHECK(opt->step_count(0, 0) == 5);
  // p0's state under PyTorch's names
  nn::StateDict sd = opt->state_dict();
  int states = 0;
  for (auto& o : c.outputs) {
    if (o.name.rfind("state.", 0) != 0) continue;
    ++states;
    std::string key = "state.0.0." + o.name.substr(6);
    INFO("state dict key " << key);
    REQUIRE(sd.count(key));
    duel::test::check_values(sd.at(key), o.values, o.shape, rtol, atol, key);
  }
  CHECK(sd.at("state.0.0.step").item() == 5);
  if (c.name != "sgd") CHECK(states > 0);
}

}  // namespace

TEST_CASE("optimizers match PyTorch step by step (fused loop and tensor ops)", "[nnlib]") {
  auto table = optimizer_table();
  size_t seen = 0;
  for (auto& c : duel::test::load_fixtures(kFile)) {
    if (c.outputs.empty() || c.outputs[0].name != "p0.1") continue;
    ++seen;
    auto it = table.find(c.name);
    if (it == table.end()) FAIL("fixture case '" << c.name << "' has no entry in the C++ table");
    SECTION(c.name) {
      run_optimizer_case(c, it->second, true);
      run_optimizer_case(c, it->second, false);
    }
  }
  CHECK(seen == table.size());
}

TEST_CASE("optimizers: state_dict round trip continues identically, load errors", "[nnlib]") {
  auto make_adam = [](const std::vector<Tensor>& ps) {
    return optim::Adam(ps, {.lr = 0.05, .betas = {0.5, 0.9}, .amsgrad = true});
  };
  Tensor p = from_vector(std::vector<double>{1, -2, 3}, {3}, TensorOptions(kFloat64)).requires_grad_();
  auto loss = [](const Tensor& x) { return sum(x * x * x * x); };
  optim::Adam a = make_adam({p});
  for (int i = 0; i < 2; ++i) {
    a.zero_grad();
    loss(p).backward();
    a.step();
  }
  nn::StateDict sd = a.state_dict();
  CHECK(sd.at("state.0.0.step").item() == 2);
  CHECK(sd.at("param_groups.0.lr").item() == 0.05);
  CHECK(sd.at("param_groups.0.num_params").item() == 1);
  CHECK(sd.count("state.0.0.exp_avg"));
  CHECK(sd.count("state.0.0.exp_avg_sq"));
  CHECK(sd.count("state.0.0.max_exp_avg_sq"));
  nn::StateDict saved;
  for (auto& [k, v] : sd) saved[k] = v.clone();

  Tensor q = p.detach().clone().requires_grad_();
  optim::Adam b = make_adam({q});
  b.set_lr(1.0);
  b.load_state_dict(saved);
  CHECK(b.lr() == 0.05);
  CHECK(b.step_count(0, 0) == 2);
  for (int i = 0; i < 3; ++i) {
    for (auto* o : {&a, &b}) o->zero_grad();
    loss(p).backward();
    loss(q).backward();
    a.step();
    b.step();
  }
  CHECK(q.to_vector<double>() == p.to_vector<double>());

  nn::StateDict bad_shape = saved;
  bad_shape["state.0.0.exp_avg"] = zeros({4}, TensorOptions(kFloat64));
  CHECK_THROWS_WITH(b.load_state_dict(bad_shape), Contains("state.0.0.exp_avg") && Contains("[4]") && Contains("[3]"));
  nn::StateDict bad_groups = saved;
  bad_groups["param_groups.0.num_params"] = scalar_tensor(2, TensorOptions(kInt64));
  CHECK_THROWS_WITH(b.load_state_dict(bad_groups), Contains("has 1 parameters but the state dict's has 2"));
  nn::StateDict bad_key = saved;
  bad_key["nonsense"] = zeros({1});
  CHECK_THROWS_WITH(b.load_state_dict(bad_key), Contains("unexpected key 'nonsense'"));
}

TEST_CASE("optimizers: parameters without gradients are skipped, zero_grad, argument checks", "[nnlib]") {
  Tensor a = ones({2}).requires_grad_(), b = ones({2}).requires_grad_();
  optim::SGD opt({a, b}, {.lr = 0.5, .momentum = 0.9});
  sum(a * 3.0).backward();
  opt.step();
  CHECK(a.to_vector<double>() == std::vector<double>{-0.5, -0.5});
  CHECK(b.to_vector<double>() == std::vector<double>{1.0, 1.0});
  CHECK(opt.step_count(0, 1) == 0);
  CHECK_FALSE(opt.state_dict().count("state.0.1.step"));
  opt.zero_grad(/*set_to_none=*/false);
  REQUIRE(a.grad().defined());
  CHECK(a.grad().to_vector<double>() == std::vector<double>{0.0, 0.0});
  opt.zero_grad();
  CHECK_FALSE(a.grad().defined());
  CHECK_THROWS_WITH(optim::SGD({a, a}), Contains("more than once"));
  CHECK_THROWS_WITH(optim::SGD({a * 2.0}), Contains("non-leaf"));
  CHECK_THROWS_WITH(optim::SGD({a}, {.lr = 0.1, .nesterov = true}), Contains("nesterov"));
  CHECK_THROWS(optim::Adam({a}, {.betas = {1.0, 0.9}}));
}

// ---------------------------------------------------------------- schedules

TEST_CASE("lr schedules match PyTorch", "[nnlib]") {
  Tensor p = zeros({1}).requires_grad_();
  auto check = [&](const std::string& name, optim::Optimizer& opt, optim::LRScheduler& s) {
    INFO("schedule " << name);
    std::vector<double> lrs{opt.lr()};
    for (int i = 0; i < 8; ++i) {
      s.step();
      lrs.push_back(opt.lr());
    }
    auto& c = duel::test::find_case(kFile, name);
    duel::test::check_values(from_vector(lrs, {}, TensorOptions(kFloat64)), c.outputs[0].values, c.outputs[0].shape,
                             1e-12, 1e-15, "lrs");
    CHECK(s.last_epoch() == 8);
    CHECK(s.get_last_lr()[0] == lrs.back());
  };
  {
    optim::SGD opt({p}, {.lr = 0.1});
    optim::StepLR s(opt, 3, 0.5);
    check("steplr", opt, s);
  }
  {
    optim::SGD opt({p}, {.lr = 0.1});
    optim::LinearLR s(opt, 0.25, 1.0, 4);
    check("linearlr_warmup", opt, s);
  }
  {
    optim::Adam opt({p}, {.lr = 2e-4});
    optim::LinearLR s(opt, 1.0, 0.0, 5);
    check("linearlr_decay", opt, s);
  }
  {
    optim::SGD opt({p}, {.lr = 0.1});
    optim::ExponentialLR s(opt, 0.9);
    check("exponentiallr", opt, s);
  }
}

TEST_CASE("lr schedules: every group scales its own base lr, LambdaLR, state_dict", "[nnlib]") {
  Tensor a = zeros({1}).requires_grad_(), b = zeros({1}).requires_grad_();
  optim::SGD opt(std::vector<optim::ParamGroup>{{{a}}, {{b}, 0.5}}, {.lr = 0.1});
  optim::LambdaLR s(opt, [](int64_t e) { return 1.0 / (1 + e); });
  CHECK(opt.lr(0) == 0.1);
  s.step();
  s.step();
  CHECK(opt.lr(0) == Approx(0.1 / 3));
  CHECK(opt.lr(1) == Approx(0.5 / 3));
  nn::StateDict sd = s.state_dict();
  optim::SGD opt2(std::vector<optim::ParamGroup>{{{a}}, {{b}, 0.5}}, {.lr = 0.1});
  optim::LambdaLR s2(opt2, [](int64_t e) { return 1.0 / (1 + e); });
  s2.load_state_dict(sd);
  CHECK(s2.last_epoch() == 2);
  CHECK(opt2.lr(1) == Approx(0.5 / 3));
}

// ---------------------------------------------------------------- clipping

TEST_CASE("clip_grad_norm_ matches PyTorch", "[nnlib]") {
  for (auto [name, max_norm, p] : std::vector<std::tuple<std::string, double, double>>{
           {"clip_l2", 1.0, 2.0}, {"clip_l1", 2.0, 1.0}, {"clip_inf", 0.5, nn::kInfNorm},
           {"clip_p3", 1.5, 3.0}, {"clip_noop", 100.0, 2.0}}) {
    INFO("case " << name);
    auto& c = duel::test::find_case(kFile, name);
    Tensor p0 = zeros({3, 2}, TensorOptions(kFloat64)).requires_grad_();
    Tensor p1 = zeros({4}, TensorOptions(kFloat64)).requires_grad_();
    Tensor unused = zeros({2}, TensorOptions(kFloat64)).requires_grad_();  // no grad: ignored
    p0.set_grad(c.input("g0").make());
    p1.set_grad(c.input("g1").make());
    double total = nn::clip_grad_norm_({p0, unused, p1}, max_norm, p);
    CHECK(total == Approx(c.outputs[0].values[0]).epsilon(1e-12));
    duel::test::check_values(p0.grad(), c.outputs[1].values, c.outputs[1].shape, 1e-12, 1e-14, "g0");
    duel::test::check_values(p1.grad(), c.outputs[2].values, c.outputs[2].shape, 1e-12, 1e-14, "g1");
  }
  CHECK(nn::clip_grad_norm_({zeros({2}).requires_grad_()}, 1.0) == 0.0);
}

TEST_CASE("clip_grad_value_ and clamp_parameters_ (WGAN weight clipping)", "[nnlib]") {
  Tensor w = tensor({-0.5, 0.003, 0.2}).requires_grad_();
  w.set_grad(tensor({-3.0, 0.5, 2.0}));
  nn::clip_grad_value_({w}, 1.0);
  CHECK(w.grad().to_vector<double>() == std::vector<double>{-1.0, 0.5, 1.0});
  nn::Linear critic(3, 2);
  nn::clamp_parameters_(critic.parameters(), -0.01, 0.01);
  for (auto& p : critic.parameters())
    for (double v : p.to_vector<double>()) CHECK(std::abs(v) <= 0.01f);
  CHECK(critic.weight.requires_grad());
  nn::clamp_parameters_({w}, -0.01, 0.01);
  auto wv = w.to_vector<float>();
  CHECK(wv == std::vector<float>{-0.01f, 0.003f, 0.01f});
}

// ---------------------------------------------------------------- EMA and target networks

TEST_CASE("ExponentialMovingAverage: shadow = decay * shadow + (1 - decay) * param, buffers copied", "[nnlib]") {
  nn::Sequential net{std::make_shared<nn::Linear>(2, 2), std::make_shared<nn::BatchNorm1d>(2)};
  net.to(kFloat64);
  auto lin = net.at<nn::Linear>(0);
  auto bn = net.at<nn::BatchNorm1d>(1);
  {
    NoGradGuard ng;
    lin->weight.fill_(1.0);
    lin->bias.fill_(0.0);
  }
  nn::ExponentialMovingAverage ema(net, 0.9);
  {
    NoGradGuard ng;
    lin->weight.fill_(2.0);  // the "trained" weights
    lin->bias.fill_(-1.0);
    bn->running_mean.fill_(5.0);
  }
  ema.update(net);
  CHECK(ema.shadow().at("0.weight").to_vector<double>() == std::vector<double>(4, 0.9 * 1.0 + 0.1 * 2.0));
  ema.update(net);
  double expect = 0.9 * (0.9 + 0.2) + 0.1 * 2.0;
  CHECK(ema.shadow().at("0.weight").to_vector<double>()[0] == Approx(expect).epsilon(1e-14));
  CHECK(ema.shadow().at("0.bias").to_vector<double>()[0] == Approx(0.9 * -0.1 - 0.1).epsilon(1e-14));
  CHECK(ema.shadow().at("1.running_mean").to_vector<double>() == std::vector<double>{5.0, 5.0});
  CHECK(ema.num_updates == 2);
  // the live weights are untouched; copy_to writes the average into another instance
  CHECK(lin->weight.to_vector<double>()[0] == 2.0);
  nn::Sequential avg{std::make_shared<nn::Linear>(2, 2), std::make_shared<nn::BatchNorm1d>(2)};
  avg.to(kFloat64);
  ema.copy_to(avg);
  CHECK(avg.at<nn::Linear>(0)->weight.to_vector<double>()[3] == Approx(expect).epsilon(1e-14));
}

TEST_CASE("soft_update (Polyak) and hard_update of a target network", "[nnlib]") {
  nn::Linear online(3, 2), target(3, 2);
  Tensor w_on = online.weight.clone(), w_tg = target.weight.clone();
  nn::soft_update(target, online, 0.25);
  auto got = target.weight.to_vector<double>();
  auto on = w_on.to_vector<double>(), tg = w_tg.to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(0.25 * on[i] + 0.75 * tg[i]).epsilon(1e-6));
  CHECK(online.weight.to_vector<double>() == on);  // the source is untouched
  nn::hard_update(target, online);
  CHECK(target.weight.to_vector<double>() == on);
  CHECK(target.bias.to_vector<double>() == online.bias.to_vector<double>());
  CHECK_FALSE(target.weight.storage() == online.weight.storage());  // a copy, not an alias
  nn::Linear other(2, 3);
  CHECK_THROWS_WITH(nn::soft_update(other, online, 0.1), Contains("has shape") && Contains("in the target"));
}
