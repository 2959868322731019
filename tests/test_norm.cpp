// batch_norm (training and eval, running statistics), layer_norm and
// instance_norm against PyTorch (tests/fixtures/nn_norm.txt); gradcheck /
// gradgradcheck; the fused batch_norm backward against the composite one; why
// the composite backward recomputes mean/invstd from x; errors.
#include <catch2/catch.hpp>

#include <cmath>

#include "duel.h"
#include "tests/fixture.h"

using namespace duel;
using namespace duel::test;

namespace {

std::vector<int64_t> iv(const Tensor& t) { return t.to_vector<int64_t>(); }

// Sets the batch_norm backward mode for a scope and always restores the default (fused).
struct ForceComposite {
  explicit ForceComposite(bool on) { detail::set_force_composite_batch_norm(on); }
  ~ForceComposite() { detail::set_force_composite_batch_norm(false); }
};

// momentum 0.1, eps 1e-5 on both sides (make_nn_fixtures.py)
FxFn bn_train_affine = [](const TensorList& in) { return TensorList{batch_norm(in[0], in[1], in[2], {}, {}, true)}; };
FxFn bn_train_plain = [](const TensorList& in) { return TensorList{batch_norm(in[0], {}, {}, {}, {}, true)}; };
FxFn bn_train_running = [](const TensorList& in) {
  Tensor rm = in[3].clone().detach(), rv = in[4].clone().detach();  // updated in place: a fresh copy per call
  Tensor y = batch_norm(in[0], in[1], in[2], rm, rv, true, 0.1, 1e-5);
  return TensorList{y, rm, rv};
};
FxFn bn_train_running_plain = [](const TensorList& in) {
  Tensor rm = in[1].clone().detach(), rv = in[2].clone().detach();
  Tensor y = batch_norm(in[0], {}, {}, rm, rv, true, 0.1, 1e-5);
  return TensorList{y, rm, rv};
};
FxFn bn_eval = [](const TensorList& in) { return TensorList{batch_norm(in[0], in[1], in[2], in[3], in[4], false)}; };
FxFn bn_eval_plain = [](const TensorList& in) { return TensorList{batch_norm(in[0], {}, {}, in[1], in[2], false)}; };
FxFn ln_call = [](const TensorList& in) {
  bool affine = in.size() == 4;
  Shape ns = iv(in.back());
  return TensorList{layer_norm(in[0], ns, affine ? in[1] : Tensor(), affine ? in[2] : Tensor())};
};
FxFn in_call = [](const TensorList& in) {
  bool affine = in.size() == 3;
  return TensorList{instance_norm(in[0], affine ? in[1] : Tensor(), affine ? in[2] : Tensor())};
};

// Gradients of sum(batch_norm(x, w, b) * v) (training mode) with respect to x, w, b.
TensorList bn_grads(const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& v) {
  Tensor x = x0.detach().clone().requires_grad_();
  Tensor w = w0.defined() ? w0.detach().clone().requires_grad_() : Tensor();
  Tensor b = b0.defined() ? b0.detach().clone().requires_grad_() : Tensor();
  (batch_norm(x, w, b, {}, {}, true) * v).sum().backward();
  return {x.grad(), w.defined() ? w.grad() : Tensor(), b.defined() ? b.grad() : Tensor()};
}

}  // namespace

TEST_CASE("norm: forward, backward and running statistics match PyTorch, gradcheck and gradgradcheck",
          "[nn][norm]") {
  FxTable table = {
      {"batch_norm_train_affine", bn_train_affine},
      {"batch_norm_train_noaffine", bn_train_plain},
      {"batch_norm_train_2d", bn_train_affine},
      {"batch_norm_train_running", bn_train_running},
      {"batch_norm_train_running_noaffine", bn_train_running_plain},
      {"batch_norm_train_bigmean", bn_train_plain},
      {"batch_norm_eval", bn_eval},
      {"batch_norm_eval_noaffine", bn_eval_plain},
      {"layer_norm_last", ln_call},
      {"layer_norm_last2", ln_call},
      {"layer_norm_noaffine", ln_call},
      {"instance_norm_affine", in_call},
      {"instance_norm_noaffine", in_call},
      {"instance_norm_1d", in_call},
  };
  run_fixture_family("nn_norm.txt", table,
                     {"batch_norm_train_affine", "batch_norm_train_noaffine", "batch_norm_train_2d", "batch_norm_eval",
                      "layer_norm_last", "layer_norm_last2", "layer_norm_noaffine", "instance_norm_affine",
                      "instance_norm_noaffine", "instance_norm_1d"});
}

TEST_CASE("norm: fused batch_norm backward agrees with the composite backward", "[nn][norm]") {
  struct Shp {
    Shape x;
    bool affine;
  };
  // S = 1 and S < 32 take the kernel's per-sample path, S >= 32 the per-plane path
  for (const Shp& s : {Shp{{4, 3, 2, 3}, true}, Shp{{4, 3, 2, 3}, false}, Shp{{6, 4}, true}, Shp{{3, 2, 40}, true},
                       Shp{{2, 3, 5, 7}, false}}) {
    INFO("x " << shape_str(s.x) << (s.affine ? " affine" : " no affine"));
    Tensor x = det_values(s.x, -2, 3, 41);
    Tensor v = det_values(s.x, -1, 1, 42);
    Tensor w = s.affine ? det_values({s.x[1]}, 0.5, 1.5, 43) : Tensor();
    Tensor b = s.affine ? det_values({s.x[1]}, -1, 1, 44) : Tensor();
    TensorList fused, composite;
    {
      ForceComposite f(false);
      fused = bn_grads(x, w, b, v);
    }
    {
      ForceComposite f(true);
      composite = bn_grads(x, w, b, v);
    }
    for (size_t k = 0; k < 3; ++k) {
      if (!s.affine && k > 0) continue;
      REQUIRE(fused[k].defined());
      REQUIRE(composite[k].defined());
      check_close(fused[k], composite[k], 1e-10, 1e-10, "gradient " + std::to_string(k));
    }
  }
}

TEST_CASE("norm: the composite batch_norm backward gives the right second derivative, frozen statistics do not",
          "[nn][norm]") {
  // f(x) = <batch_norm(x), v>,  gx(x) = df/dx.  We compare H(x) u = d<gx(x), u>/dx three ways:
  //   * autograd through the composite backward (create_graph),
  //   * central finite differences of the first derivative (computed by the fused kernel),
  //   * the same first-derivative formula differentiated with mean and invstd frozen as constants.
  const Shape shp{4, 2, 3};
  const Dims dims{0, 2};
  const double eps = 1e-5;
  Tensor x0 = det_values(shp, -1.5, 1.5, 51);
  Tensor v = det_values(shp, -1, 1, 52);
  Tensor u = det_values(shp, -1, 1, 53);

  auto first_derivative = [&](const Tensor& xv) {  // fused, no graph
    Tensor x = xv.detach().clone().requires_grad_();
    return autograd::grad({batch_norm(x, {}, {}, {}, {}, true)}, {x}, {v})[0];
  };

  Tensor x = x0.clone().detach().requires_grad_();
  Tensor gx = autograd::grad({batch_norm(x, {}, {}, {}, {}, true)}, {x}, {v}, /*create_graph=*/true)[0];
  Tensor hu = autograd::grad({(gx * u).sum()}, {x})[0];

  // the "frozen statistics" backward: right value, wrong derivative
  Tensor mu_c, invstd_c;
  {
    NoGradGuard ng;
    mu_c = mean(x0, dims, true);
    Tensor xc = x0 - mu_c;
    invstd_c = rsqrt(mean(xc * xc, dims, true) + eps);
  }
  Tensor xn = x0.clone().detach().requires_grad_();
  Tensor xhat = (xn - mu_c) * invstd_c;
  Tensor gx_frozen = invstd_c * (v - mean(v, dims, true) - xhat * mean(v * xhat, dims, true));
  check_close(gx_frozen, first_derivative(x0), 1e-10, 1e-12, "frozen first derivative");
  check_close(gx, first_derivative(x0), 1e-10, 1e-12, "composite first derivative");
  Tensor hu_frozen = autograd::grad({(gx_frozen * u).sum()}, {xn})[0];

  // finite differences of <gx(x), u>
  std::vector<double> xs = x0.to_vector<double>(), uv = u.to_vector<double>(), numeric(xs.size());
  const double h = 1e-5;
  for (size_t i = 0; i < xs.size(); ++i) {
    auto at = [&](double d) {
      std::vector<double> p = xs;
      p[i] += d;
      std::vector<double> g = first_derivative(from_vector(p, shp, kFloat64)).to_vector<double>();
      double s = 0;
      for (size_t j = 0; j < g.size(); ++j) s += g[j] * uv[j];
      return s;
    };
    numeric[i] = (at(h) - at(-h)) / (2 * h);
  }
  check_values(hu, numeric, shp, 1e-5, 1e-6, "composite second derivative vs finite differences");

  std::vector<double> frozen = hu_frozen.to_vector<double>();
  double worst = 0, scale = 0;
  for (size_t i = 0; i < numeric.size(); ++i) {
    worst = std::max(worst, std::abs(frozen[i] - numeric[i]));
    scale = std::max(scale, std::abs(numeric[i]));
  }
  INFO("max |frozen - numeric| = " << worst << ", max |numeric| = " << scale);
  CHECK(worst > 0.1 * scale);  // the frozen version is grossly wrong, not a rounding difference

  // and the engine's own gradgradcheck agrees (with and without affine parameters)
  Tensor xg = det_values({3, 2, 2, 2}, -1, 1, 54).requires_grad_();
  Tensor wg = det_values({2}, 0.5, 1.5, 55).requires_grad_();
  Tensor bg = det_values({2}, -1, 1, 56).requires_grad_();
  CHECK(gradgradcheck([](const TensorList& in) { return batch_norm(in[0], in[1], in[2], {}, {}, true); },
                      {xg, wg, bg}));
  CHECK(gradgradcheck([](const TensorList& in) { return batch_norm(in[0], {}, {}, {}, {}, true); }, {xg}));
}

TEST_CASE("norm: batch_norm running statistics follow the closed form", "[nn][norm]") {
  // x [N=3, C=2, S=4], momentum 0.3: running = (1 - m) running + m stat, var unbiased (N*S - 1)
  const int64_t N = 3, C = 2, S = 4;
  Tensor x = det_values({N, C, S}, -2, 2, 61);
  std::vector<double> xv = x.to_vector<double>();
  std::vector<double> rm0 = {0.5, -0.25}, rv0 = {2.0, 0.75};
  for (DType dt : {kFloat64, kFloat32}) {
    INFO(dtype_name(dt));
    Tensor rm = from_vector(rm0, {C}, kFloat64).to(dt), rv = from_vector(rv0, {C}, kFloat64).to(dt);
    Tensor y = batch_norm(x.to(dt), {}, {}, rm, rv, true, 0.3, 1e-5);
    std::vector<double> em(C), ev(C), ey(xv.size());
    for (int64_t c = 0; c < C; ++c) {
      double s = 0, ss = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < S; ++k) s += xv[(n * C + c) * S + k];
      double m = s / (N * S);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < S; ++k) ss += std::pow(xv[(n * C + c) * S + k] - m, 2);
      em[c] = 0.7 * rm0[c] + 0.3 * m;
      ev[c] = 0.7 * rv0[c] + 0.3 * ss / (N * S - 1);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < S; ++k) {
          int64_t i = (n * C + c) * S + k;
          ey[i] = (xv[i] - m) / std::sqrt(ss / (N * S) + 1e-5);
        }
    }
    double tol = dt == kFloat64 ? 1e-10 : 1e-5;
    check_values(rm, em, {C}, tol, tol, "running_mean");
    check_values(rv, ev, {C}, tol, tol, "running_var");
    check_values(y, ey, {N, C, S}, tol, tol, "output");
    // eval mode then uses the running statistics
    Tensor ye = batch_norm(x.to(dt), {}, {}, rm, rv, false);
    std::vector<double> eye(xv.size());
    for (size_t i = 0; i < xv.size(); ++i) {
      int64_t c = (i / S) % C;
      eye[i] = (xv[i] - em[c]) / std::sqrt(ev[c] + 1e-5);
    }
    check_values(ye, eye, {N, C, S}, tol, tol, "eval output");
  }
}

TEST_CASE("norm: layer_norm / instance_norm on non-contiguous inputs", "[nn][norm]") {
  Tensor x = det_values({4, 3, 2}, -2, 2, 71).permute({2, 1, 0}).detach().requires_grad_();  // [2, 3, 4]
  Tensor w = det_values({4}, 0.5, 1.5, 72).requires_grad_();
  Tensor b = det_values({4}, -1, 1, 73).requires_grad_();
  REQUIRE_FALSE(x.is_contiguous());
  CHECK(gradgradcheck([](const TensorList& in) { return layer_norm(in[0], {4}, in[1], in[2]); }, {x, w, b}));
  Tensor wi = det_values({3}, 0.5, 1.5, 74).requires_grad_();
  CHECK(gradgradcheck([](const TensorList& in) { return instance_norm(in[0], in[1]); }, {x, wi}));
  CHECK(gradgradcheck([](const TensorList& in) { return batch_norm(in[0], in[1], {}, {}, {}, true); }, {x, wi}));
}

TEST_CASE("norm: error messages", "[nn][norm]") {
  Tensor x = zeros({2, 3, 4}, kFloat64);
  REQUIRE_THROWS_WITH(batch_norm(x, zeros({4}, kFloat64), {}, {}, {}, true),
                      Catch::Contains("[4]") && Catch::Contains("3 channels") && Catch::Contains("[2, 3, 4]"));
  REQUIRE_THROWS_WITH(batch_norm(x, {}, {}, zeros({3, 1}, kFloat64), ones({3}, kFloat64), true),
                      Catch::Contains("[3, 1]"));
  REQUIRE_THROWS_WITH(batch_norm(x, {}, {}, {}, {}, false), Catch::Contains("running_mean and running_var"));
  REQUIRE_THROWS_WITH(batch_norm(zeros({1, 3}, kFloat64), {}, {}, {}, {}, true),
                      Catch::Contains("more than 1 value per channel"));
  REQUIRE_THROWS_WITH(layer_norm(x, {3}), Catch::Contains("[3]") && Catch::Contains("[2, 3, 4]"));
  REQUIRE_THROWS_WITH(layer_norm(x, {4}, zeros({3}, kFloat64)), Catch::Contains("should have shape [4]"));
  REQUIRE_THROWS_WITH(instance_norm(zeros({2, 3}, kFloat64)), Catch::Contains("[2, 3]"));
}
