// The autograd engine (autograd/*.h): accumulation, retain_graph, grad(),
// higher-order gradients, graph shapes, grad modes, gradcheck itself, and the
// error messages of misuse.
#include <catch2/catch.hpp>
#include <functional>

#include <cmath>

#include "tests/fixture.h"

using namespace duel;
using namespace duel::test;

namespace {
Tensor vec(std::initializer_list<double> v) { return tensor(v, kFloat64); }
}  // namespace

TEST_CASE("autograd: gradients accumulate into .grad across backward calls", "[autograd]") {
  Tensor x = vec({1.0, -2.0, 3.0}).requires_grad_();
  (x * x).sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, -4, 6});
  x.sum().backward();  // the incoming gradient is an expanded (stride-0) view: .grad must own its memory
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, -3, 7});
  CHECK(x.grad().is_contiguous());
  CHECK_FALSE(x.grad().requires_grad());
  Tensor g = x.grad();
  x.sum().backward();  // accumulates in place into the same gradient tensor
  CHECK(g.to_vector<double>() == std::vector<double>{4, -2, 8});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  (x * 3.0).sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 3, 3});
  CHECK(g.to_vector<double>() == std::vector<double>{4, -2, 8});  // the old gradient is untouched
  x.set_grad(ones({3}, kFloat64));
  x.sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 2, 2});
  // a leaf used twice in one graph gets both contributions; non-leaves keep no .grad
  Tensor y = vec({2.0}).requires_grad_();
  Tensor h = y * y;
  (h * y).sum().backward();
  CHECK(y.grad().item() == 12.0);  // d(y^3) = 3 y^2
  CHECK_FALSE(h.grad().defined());
}

TEST_CASE("autograd: accumulation after a create_graph backward does not corrupt .grad", "[autograd]") {
  // d(sum x)/dx is an expanded (stride-0) view of a constant: .grad must not alias it
  Tensor x = vec({1.0, 2.0, 3.0}).requires_grad_();
  x.sum().backward({}, false, /*create_graph=*/true);
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 1, 1});
  x.sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 2, 2});
  x.sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 3, 3});
  // an identity-like op passes the caller's gradient through: accumulating must not write into it
  Tensor y = vec({1.0, 2.0}).requires_grad_();
  Tensor v = vec({10.0, 20.0});
  y.clone().backward(v, false, true);
  y.clone().backward(v);
  CHECK(y.grad().to_vector<double>() == std::vector<double>{20, 40});
  CHECK(v.to_vector<double>() == std::vector<double>{10, 20});
  // a user-set expanded gradient is accumulated out of place
  Tensor z = vec({1.0, 2.0, 3.0}).requires_grad_();
  z.set_grad(scalar_tensor(1.0, kFloat64).expand({3}));
  z.sum().backward();
  CHECK(z.grad().to_vector<double>() == std::vector<double>{2, 2, 2});
}

TEST_CASE("autograd: a .grad kept without a copy is never shared with another tensor", "[autograd]") {
  // add's backward hands the same gradient tensor to both inputs: at most one leaf may keep it
  Tensor x = vec({1.0, 2.0}).requires_grad_();
  Tensor y = vec({3.0, 4.0}).requires_grad_();
  ((x + y) * 2.0).sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 2});
  CHECK(y.grad().to_vector<double>() == std::vector<double>{2, 2});
  (x * 1.0).sum().backward();  // accumulates into x.grad in place
  (y * 5.0).sum().backward();  // and into y.grad
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 3});
  CHECK(y.grad().to_vector<double>() == std::vector<double>{7, 7});
  // later backwards accumulate into the kept .grad in place, as they do into a copied one
  Tensor z = vec({1.0, 2.0}).requires_grad_();
  Tensor w = z * 3.0;
  w.sum().backward();
  Tensor kept = z.grad();
  (z * 1.0).sum().backward();
  CHECK(kept.to_vector<double>() == std::vector<double>{4, 4});  // .grad is accumulated in place
  CHECK(z.grad().is_same(kept));
}

TEST_CASE("autograd: summing a node's incoming gradients never writes into a tensor seen elsewhere", "[autograd]") {
  // y is used three times, so its node gets three gradients to sum. The engine adds in place into
  // a buffer only it holds; the caller's gradient, a gradient one backward hands to two inputs,
  // and a tensor a backward function also keeps must come out unchanged.
  Tensor x = vec({1.0, 2.0}).requires_grad_();
  Tensor y = x * 1.0;
  Tensor root = vec({1.0, 10.0}), root_copy = root.clone();
  Tensor kept;  // what the custom op's backward returns, and keeps
  Tensor z = autograd::record("keeps_its_gradient", y.detach() * 1.0, {y}, [&kept](const Tensor& g, const NeedsGrad&) {
    kept = g * 100.0;
    return TensorList{kept};
  });
  Tensor out = y + y + z;  // add's backward hands `root` itself to both uses of y
  out.backward(root);
  CHECK(x.grad().to_vector<double>() == std::vector<double>{102, 1020});
  CHECK(root.to_vector<double>() == root_copy.to_vector<double>());
  CHECK(kept.to_vector<double>() == std::vector<double>{100, 1000});
  // the same sums with create_graph (always out of place), for comparison
  Tensor x2 = vec({1.0, 2.0}).requires_grad_();
  Tensor y2 = x2 * 1.0;
  TensorList g2 = autograd::grad({y2 + y2 + y2 * 100.0}, {x2}, {root}, true);
  CHECK(g2[0].to_vector<double>() == std::vector<double>{102, 1020});
}

TEST_CASE("autograd: retain_graph allows a second backward, without it the error names the op", "[autograd]") {
  Tensor x = vec({0.5, 1.5}).requires_grad_();
  Tensor y = exp(x);
  y.backward(ones({2}, kFloat64), /*retain_graph=*/true);
  y.backward(ones({2}, kFloat64));
  CHECK(x.grad().to_vector<double>()[0] == Approx(2 * std::exp(0.5)));
  REQUIRE_THROWS_WITH(y.backward(ones({2}, kFloat64)),
                      Catch::Contains("'exp'") && Catch::Contains("second time") && Catch::Contains("retain_graph"));
  Tensor z = (x * x).sum();
  z.backward();
  REQUIRE_THROWS_WITH(z.backward(), Catch::Contains("'sum'") && Catch::Contains("retain_graph"));
}

TEST_CASE("autograd: backward of a non-scalar needs a gradient of its shape", "[autograd][errors]") {
  Tensor x = zeros({2, 3}, kFloat64).requires_grad_();
  Tensor y = x * 2.0;
  REQUIRE_THROWS_WITH(y.backward(), Catch::Contains("one-element") && Catch::Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(y.backward(ones({3, 2}, kFloat64)), Catch::Contains("[3, 2]") && Catch::Contains("[2, 3]"));
  y.backward(full({2, 3}, 0.5, kFloat64));
  CHECK(x.grad().to_vector<double>() == std::vector<double>(6, 1.0));
  // a one-element non-scalar output is fine
  (x.sum({0, 1}, true)).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>(6, 2.0));
  REQUIRE_THROWS_WITH(zeros({1}).backward(), Catch::Contains("does not require grad"));
}

TEST_CASE("autograd: modifying a saved tensor in place is detected at backward", "[autograd][errors]") {
  Tensor x = vec({1.0, 2.0, 3.0}).requires_grad_();
  Tensor a = vec({4.0, 5.0, 6.0});  // does not require grad, so in-place is allowed
  Tensor y = (x * a).sum();
  a.add_(1.0);
  REQUIRE_THROWS_WITH(y.backward(), Catch::Contains("mul") && Catch::Contains("[3]") &&
                                        Catch::Contains("in-place") && Catch::Contains("version 0") &&
                                        Catch::Contains("now 1"));
  // a leaf modified under NoGradGuard after being saved (sin saves its input)
  Tensor w = vec({1.0, 2.0}).requires_grad_();
  Tensor e = sin(w).sum();
  {
    NoGradGuard ng;
    w.mul_(2.0);
  }
  REQUIRE_THROWS_WITH(e.backward(), Catch::Contains("sin") && Catch::Contains("[2]") && Catch::Contains("version"));
  // exp saves its output, not its input (as in PyTorch): modifying the input does not matter
  Tensor w2 = vec({1.0, 2.0}).requires_grad_();
  Tensor e2 = exp(w2).sum();
  {
    NoGradGuard ng;
    w2.mul_(2.0);
  }
  e2.backward();
  CHECK(w2.grad().to_vector<double>()[1] == Approx(std::exp(2.0)));
  // masks and indices saved by where / gather / index_select are checked too
  Tensor m = vec({1.0, -1.0}) > 0.0;
  Tensor wy = where(m, x.slice(0, 0, 2), 0.0 * x.slice(0, 0, 2)).sum();
  m.copy_(logical_not(m));
  REQUIRE_THROWS_WITH(wy.backward(), Catch::Contains("where") && Catch::Contains("version"));
  Tensor idx = from_vector(std::vector<int64_t>{0, 2}, {2}, TensorOptions(kInt64));
  Tensor gy = index_select(x, 0, idx).sum();
  idx.fill_(1.0);
  REQUIRE_THROWS_WITH(gy.backward(), Catch::Contains("index_select") && Catch::Contains("version"));
  Tensor gidx = from_vector(std::vector<int64_t>{0, 2}, {2}, TensorOptions(kInt64));
  Tensor gg = gather(x, 0, gidx).sum();
  gidx.fill_(1.0);
  REQUIRE_THROWS_WITH(gg.backward(), Catch::Contains("gather") && Catch::Contains("version"));
  // modifying after backward is fine
  Tensor q = vec({1.0}).requires_grad_();
  Tensor b = vec({2.0});
  (q * b).sum().backward();
  b.add_(1.0);
  CHECK(q.grad().item() == 2.0);
}

TEST_CASE("autograd: NoGradGuard, GradModeGuard and detach", "[autograd]") {
  Tensor x = vec({1.0, 2.0}).requires_grad_();
  CHECK(GradMode::is_enabled());
  {
    NoGradGuard ng;
    CHECK_FALSE(GradMode::is_enabled());
    Tensor y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
    {
      GradModeGuard on(true);
      CHECK((x * 2.0).requires_grad());
      {
        NoGradGuard inner;
        CHECK_FALSE(GradMode::is_enabled());
      }
      CHECK(GradMode::is_enabled());
    }
    CHECK_FALSE(GradMode::is_enabled());
  }
  CHECK(GradMode::is_enabled());
  Tensor y = x * 2.0;
  CHECK(y.requires_grad());
  REQUIRE(y.grad_fn() != nullptr);
  CHECK(y.grad_fn()->name == "mul");
  CHECK_FALSE(y.is_leaf());

  Tensor d = x.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  CHECK(d.storage() == x.storage());
  (d * x).sum().backward();  // no gradient through the detached factor
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 2});
  REQUIRE_THROWS_WITH(y.requires_grad_(), Catch::Contains("leaf") && Catch::Contains("mul") && Catch::Contains("detach"));
  x.set_requires_grad(false);
  CHECK_FALSE((x * 2.0).requires_grad());
}

TEST_CASE("autograd: grad() with allow_unused, non-leaf inputs, and no side effects", "[autograd]") {
  Tensor x = vec({1.0, 2.0}).requires_grad_();
  Tensor u = vec({3.0}).requires_grad_();
  Tensor y = (x * x).sum();
  REQUIRE_THROWS_WITH(autograd::grad({y}, {x, u}),
                      Catch::Contains("input 1") && Catch::Contains("not used") && Catch::Contains("allow_unused"));
  Tensor y2 = (x * x).sum();
  TensorList g = autograd::grad({y2}, {x, u}, {}, false, /*allow_unused=*/true);
  CHECK(g[0].to_vector<double>() == std::vector<double>{2, 4});
  CHECK_FALSE(g[1].defined());
  CHECK_FALSE(x.grad().defined());  // grad() does not accumulate
  REQUIRE_THROWS_WITH(autograd::grad({y2}, {vec({1.0})}), Catch::Contains("does not require grad"));

  // gradient with respect to an intermediate (non-leaf) tensor
  Tensor h = x * 3.0;
  Tensor z = (h * h).sum();
  Tensor gh = autograd::grad({z}, {h})[0];
  CHECK(gh.to_vector<double>() == std::vector<double>{6, 12});  // 2 h
  // several outputs with their own gradients
  Tensor a = x * 2.0, b = x * x;
  Tensor gx = autograd::grad({a, b}, {x}, {vec({1.0, 1.0}), vec({0.5, 2.0})})[0];
  CHECK(gx.to_vector<double>() == std::vector<double>{3, 10});  // 2 + 0.5*2*1, 2 + 2*2*2
  REQUIRE_THROWS_WITH(autograd::grad({a}, {x}, {vec({1.0, 1.0}), vec({1.0})}), Catch::Contains("grad_outputs"));
}

TEST_CASE("autograd: higher-order derivatives with create_graph", "[autograd]") {
  Tensor x = scalar_tensor(1.5, kFloat64).requires_grad_();
  for (auto cube : std::vector<std::function<Tensor(const Tensor&)>>{
           [](const Tensor& t) { return t * t * t; }, [](const Tensor& t) { return pow(t, 3.0); }}) {
    Tensor y = cube(x);
    Tensor d1 = autograd::grad({y}, {x}, {}, true)[0];
    CHECK(d1.item() == Approx(3 * 1.5 * 1.5));
    REQUIRE(d1.requires_grad());
    Tensor d2 = autograd::grad({d1}, {x}, {}, true)[0];
    CHECK(d2.item() == Approx(6 * 1.5));
    Tensor d3 = autograd::grad({d2}, {x}, {}, true)[0];
    CHECK(d3.item() == Approx(6.0));
    if (d3.requires_grad()) {
      Tensor d4 = autograd::grad({d3}, {x}, {}, false, true)[0];
      CHECK((!d4.defined() || d4.item() == 0.0));
    }
  }
  // d/dx (d/dx exp(sin x)) = exp(sin x)(cos^2 x - sin x)
  Tensor t = vec({0.3, -1.2}).requires_grad_();
  Tensor dy = autograd::grad({exp(sin(t)).sum()}, {t}, {}, true)[0];
  Tensor d2 = autograd::grad({dy.sum()}, {t})[0];
  auto tv = std::vector<double>{0.3, -1.2};
  for (int i = 0; i < 2; ++i)
    CHECK(d2.to_vector<double>()[i] ==
          Approx(std::exp(std::sin(tv[i])) * (std::cos(tv[i]) * std::cos(tv[i]) - std::sin(tv[i]))));
  // backward(create_graph) leaves a differentiable .grad
  Tensor z = scalar_tensor(2.0, kFloat64).requires_grad_();
  (z * z * z).backward({}, false, /*create_graph=*/true);
  REQUIRE(z.grad().requires_grad());
  Tensor gz = z.grad();
  z.zero_grad();
  gz.backward();
  CHECK(z.grad().item() == Approx(12.0));  // d(3 z^2) = 6 z
}

TEST_CASE("autograd: a gradient penalty (grad of grad norm) matches finite differences", "[autograd]") {
  // WGAN-GP style: penalty(W) = (||d sum(tanh(x W^T)) / dx|| - 1)^2
  Tensor x = det_values({4, 3}, -1, 1, 71).requires_grad_();
  Tensor W = det_values({2, 3}, -1, 1, 72).requires_grad_();
  auto penalty = [&x](const TensorList& in) {
    Tensor d = tanh(linear(x, in[0])).sum();
    Tensor g = autograd::grad({d}, {x}, {}, /*create_graph=*/true)[0];
    return pow(norm(g, 2.0, {1}) - 1.0, 2.0).mean();
  };
  CHECK(gradcheck(penalty, {W}));
  penalty({W}).backward();
  REQUIRE(W.grad().defined());
  CHECK(W.grad().sizes() == Shape{2, 3});
}

TEST_CASE("autograd: diamond graph and broadcasting", "[autograd]") {
  Tensor x = vec({0.5, -1.0}).requires_grad_();
  Tensor y = x * 2.0;
  Tensor z = (exp(y) + y * y).sum();  // two paths from y
  z.backward();
  for (int i = 0; i < 2; ++i) {
    double xv = i == 0 ? 0.5 : -1.0;
    CHECK(x.grad().to_vector<double>()[i] == Approx(2 * std::exp(2 * xv) + 8 * xv));
  }
  // a broadcast input gets the gradient summed back to its shape
  Tensor b = vec({1.0, 2.0, 3.0}).requires_grad_();
  Tensor m = ones({2, 3}, kFloat64).requires_grad_();
  ((m + b) * tensor({{1, 2, 3}, {4, 5, 6}}, kFloat64)).sum().backward();
  CHECK(b.grad().to_vector<double>() == std::vector<double>{5, 7, 9});
  CHECK(m.grad().to_vector<double>() == std::vector<double>{1, 2, 3, 4, 5, 6});
  // several roots at once, one depending on the other
  Tensor p = vec({3.0}).requires_grad_();
  Tensor r1 = p * 2.0;
  Tensor r2 = r1 * r1;
  autograd::backward({r1.sum(), r2.sum()});
  CHECK(p.grad().item() == 2.0 + 8.0 * 3.0);  // d(2p) + d(4p^2)
}

TEST_CASE("autograd: device mismatch errors and gradients across devices (sim)", "[autograd][errors]") {
  Tensor s = ones({2, 3}, TensorOptions(kFloat32, Device("sim")));  // the emulator is always built
  Tensor c = ones({2, 3});
  REQUIRE_THROWS_WITH(s + c, Catch::Contains("add") && Catch::Contains("sim") && Catch::Contains("cpu") &&
                                 Catch::Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(matmul(s, c.t()), Catch::Contains("matmul") && Catch::Contains("sim") &&
                                            Catch::Contains("cpu") && Catch::Contains("[3, 2]"));
  REQUIRE_THROWS_WITH(where(c > 0.0, s, c), Catch::Contains("where") && Catch::Contains("sim"));
  REQUIRE_THROWS_WITH(cat({s, c}), Catch::Contains("cat") && Catch::Contains("sim") && Catch::Contains("cpu"));
  // to(device) is differentiable: the gradient comes back to the leaf's device
  Tensor y = tensor({1.0, 2.0}).requires_grad_();
  Tensor ys = y.to(Device("sim"));
  CHECK(ys.device().str() == "sim");
  (ys * ys).sum().backward();
  CHECK(y.grad().device() == kCPU);
  CHECK(y.grad().to_vector<double>() == std::vector<double>{2, 4});
  // copy_ crosses devices
  Tensor dst = zeros({2, 3});
  dst.copy_(s * 2.0);
  CHECK(dst.to_vector<double>() == std::vector<double>(6, 2.0));
}

TEST_CASE("autograd: gradients keep the dtype of each input", "[autograd]") {
  Tensor a = tensor({1.0, 2.0}, kFloat32).requires_grad_();
  Tensor b = tensor({3.0, 4.0}, kFloat64).requires_grad_();
  Tensor y = (a * b).sum();
  CHECK(y.dtype() == kFloat64);
  y.backward();
  CHECK(a.grad().dtype() == kFloat32);
  CHECK(b.grad().dtype() == kFloat64);
  CHECK(a.grad().to_vector<double>() == std::vector<double>{3, 4});
}

TEST_CASE("autograd: gradcheck and gradgradcheck detect wrong derivatives", "[autograd]") {
  // ops computing x^2 (unrecorded) with a hand-written backward(g, x)
  auto square_with = [](const char* name, std::function<Tensor(const Tensor&, const Tensor&)> backward) {
    return [name, backward](const Tensor& x) {
      Tensor out;
      {
        NoGradGuard ng;
        out = x * x;
      }
      SavedTensor sx(x, name);
      return autograd::record(name, out, {x}, [sx, backward](const Tensor& g, const NeedsGrad&) {
        return TensorList{backward(g, sx.get())};
      });
    };
  };
  // a wrong first derivative (3x instead of 2x)
  auto wrong_square = square_with("wrong_square", [](const Tensor& g, const Tensor& x) { return g * x * 3.0; });
  Tensor x = det_values({3}, 0.5, 1.5, 81).requires_grad_();
  GradcheckOptions quiet;
  quiet.raise = false;
  CHECK_FALSE(gradcheck([&](const TensorList& in) { return wrong_square(in[0]); }, {x}, quiet));
  REQUIRE_THROWS_WITH(gradcheck([&](const TensorList& in) { return wrong_square(in[0]); }, {x}),
                      Catch::Contains("Jacobian mismatch"));
  // right first derivative, but the backward is not differentiable (detached): only gradgradcheck sees it
  auto detached_square =
      square_with("detached_square", [](const Tensor& g, const Tensor& x) { return g * x.detach() * 2.0; });
  CHECK(gradcheck([&](const TensorList& in) { return detached_square(in[0]); }, {x}));
  CHECK_FALSE(gradgradcheck([&](const TensorList& in) { return detached_square(in[0]); }, {x}, quiet));
  // right first derivative without a graph (what gradcheck checks), but a wrong one under
  // create_graph (3x, differentiable and self-consistent): gradgradcheck compares the two, as
  // the ops with a fused first-order backward (elu, leaky_relu, tanh, ...) need
  auto two_backwards = square_with("two_backwards", [](const Tensor& g, const Tensor& x) {
    return g * x * (GradMode::is_enabled() ? 3.0 : 2.0);
  });
  CHECK(gradcheck([&](const TensorList& in) { return two_backwards(in[0]); }, {x}));
  CHECK_FALSE(gradgradcheck([&](const TensorList& in) { return two_backwards(in[0]); }, {x}, quiet));
  REQUIRE_THROWS_WITH(gradgradcheck([&](const TensorList& in) { return two_backwards(in[0]); }, {x}),
                      Catch::Contains("differs with and without create_graph"));
  REQUIRE_THROWS_WITH(gradcheck([](const TensorList& in) { return in[0] * 2.0; }, {tensor({1.0}).requires_grad_()}),
                      Catch::Contains("float64"));
}

TEST_CASE("autograd: error messages name shapes, dtypes and devices", "[autograd][errors]") {
  REQUIRE_THROWS_WITH(zeros({2, 3}) + zeros({4}),
                      Catch::Contains("add") && Catch::Contains("[2, 3]") && Catch::Contains("[4]"));
  REQUIRE_THROWS_WITH(matmul(zeros({2, 3}), zeros({2, 3})),
                      Catch::Contains("matmul") && Catch::Contains("[2, 3]") && Catch::Contains("3 columns vs 2 rows"));
  REQUIRE_THROWS_WITH(zeros({2}, TensorOptions(kFloat32, Device("cuda"))),
                      Catch::Contains("no CUDA device available") && Catch::Contains("cuda:0"));
  REQUIRE_THROWS_WITH(zeros({2}).to(Device("cuda:1")), Catch::Contains("no CUDA device available"));
  REQUIRE_THROWS_WITH(Device("gpu:0"), Catch::Contains("unknown device") && Catch::Contains("gpu:0"));
  REQUIRE_THROWS_WITH(ones({2}, kInt64).requires_grad_(), Catch::Contains("floating") && Catch::Contains("int64"));
  REQUIRE_THROWS_WITH(matmul(zeros({2, 3}, kInt64), zeros({3, 2})), Catch::Contains("int64") && Catch::Contains("float32"));
  // a backward returning a gradient of the wrong shape is caught by the engine
  Tensor x = vec({1.0, 2.0}).requires_grad_();
  Tensor bad = autograd::record("bad_op", x.detach() * 1.0, {x},
                                [](const Tensor&, const NeedsGrad&) { return TensorList{zeros({3}, kFloat64)}; });
  REQUIRE_THROWS_WITH(bad.sum().backward(), Catch::Contains("bad_op") && Catch::Contains("[3]") && Catch::Contains("[2]"));
}
