// Elementwise ops: forward (a kernel call) and backward (a formula in
// differentiable ops, so it can itself be differentiated).
//
// Ops whose derivative is cheap to fuse (relu, leaky_relu, tanh, sigmoid) use
// a fused backward kernel when no graph is being recorded, and the composite
// formula under create_graph. Formulas that need the op's own output
// recompute it from the input under create_graph (saving the output itself
// would make a reference cycle and would not carry its history).
#include "tensor/ops/elementwise.h"

#include <cmath>

#include "autograd/node.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/dispatch.h"
#include "tensor/ops/reduction.h"

namespace duel {
namespace {

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  DUEL_CHECK(a.device() == b.device(), op, ": expected all tensors on the same device, got ", a.device().str(),
             " (shape ", shape_str(a.sizes()), ") and ", b.device().str(), " (shape ", shape_str(b.sizes()), ")");
}

// dtype conversion without recording (inputs of a node are recorded as they were given)
Tensor cast_raw(const Tensor& t, DType dt) {
  if (t.dtype() == dt) return t;
  Tensor out = empty(t.sizes(), TensorOptions(dt, t.device()));
  DUEL_KERNEL(t.device(), copy, t, out);
  return out;
}

Tensor scalar_like(double v, const Tensor& t) {
  DType dt = t.dtype() == kBool ? kFloat32 : t.dtype();
  if (!is_floating(dt) && v != std::floor(v)) dt = kFloat32;
  return scalar_tensor(v, TensorOptions(dt, t.device()));
}

Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, double alpha = 1.0) {
  const char* name = binary_op_name(op);
  DUEL_CHECK(a.defined() && b.defined(), name, ": undefined tensor argument");
  check_same_device(name, a, b);
  DType dt = promote_types(a.dtype(), b.dtype());
  Shape shape = broadcast_shapes(a.sizes(), b.sizes(), name);
  bool cmp = binary_op_is_comparison(op);
  if (!cmp && dt == kBool) dt = kInt64;  // arithmetic on masks counts in int64
  if (op == BinaryOp::Div && !is_floating(dt)) dt = kFloat32;  // true division, as in PyTorch
  Tensor out = empty(shape, TensorOptions(cmp ? kBool : dt, a.device()));
  DUEL_KERNEL(a.device(), binary, op, cast_raw(a, dt), cast_raw(b, dt), out, alpha);
  return out;
}

Tensor unary_forward(UnaryOp op, const Tensor& a, UnaryParams p = {}) {
  DUEL_CHECK(a.defined(), unary_op_name(op), ": undefined tensor argument");
  Tensor out = empty(a.sizes(), TensorOptions(op == UnaryOp::LogicalNot ? kBool : a.dtype(), a.device()));
  DUEL_KERNEL(a.device(), unary, op, a, out, p);
  return out;
}

Tensor floating_unary_forward(UnaryOp op, const Tensor& a, UnaryParams p = {}) {
  DUEL_CHECK(a.defined(), unary_op_name(op), ": undefined tensor argument");
  DUEL_CHECK(is_floating(a.dtype()), unary_op_name(op), ": expected a float32/float64 tensor, got ",
             dtype_name(a.dtype()), " of shape ", shape_str(a.sizes()));
  return unary_forward(op, a, p);
}

// A 0/1 tensor of `like`'s dtype from a bool mask (constant: no history).
Tensor mask_as(const Tensor& mask, const Tensor& like) { return cast_raw(mask, like.dtype()); }

}  // namespace

// ---------------------------------------------------------------- arithmetic

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  Tensor out = binary_forward(BinaryOp::Add, a, b, alpha);
  return autograd::record("add", out, {a, b}, [alpha](const Tensor& g, const NeedsGrad&) {
    return TensorList{g, alpha == 1.0 ? g : g * alpha};
  });
}

Tensor sub(const Tensor& a, const Tensor& b, double alpha) {
  Tensor out = binary_forward(BinaryOp::Sub, a, b, alpha);
  return autograd::record("sub", out, {a, b}, [alpha](const Tensor& g, const NeedsGrad&) {
    return TensorList{g, alpha == 1.0 ? neg(g) : g * (-alpha)};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Mul, a, b);
  SavedTensor sa(a, "mul"), sb(b, "mul");
  return autograd::record("mul", out, {a, b}, [sa, sb](const Tensor& g, const NeedsGrad& needs) {
    return TensorList{needs[0] ? g * sb.get() : Tensor(), needs[1] ? g * sa.get() : Tensor()};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Div, a, b);
  SavedTensor sa(a, "div"), sb(b, "div");
  return autograd::record("div", out, {a, b}, [sa, sb](const Tensor& g, const NeedsGrad& needs) {
    const Tensor& bb = sb.get();
    Tensor ga = needs[0] ? g / bb : Tensor();
    Tensor gb = needs[1] ? neg(g * sa.get() / (bb * bb)) : Tensor();
    return TensorList{ga, gb};
  });
}

Tensor neg(const Tensor& a) {
  Tensor out = unary_forward(UnaryOp::Neg, a);
  return autograd::record("neg", out, {a}, [](const Tensor& g, const NeedsGrad&) { return TensorList{neg(g)}; });
}

Tensor pow(const Tensor& a, const Tensor& e) {
  Tensor out = binary_forward(BinaryOp::Pow, a, e);
  SavedTensor sa(a, "pow"), se(e, "pow");
  return autograd::record("pow", out, {a, e}, [sa, se](const Tensor& g, const NeedsGrad& needs) {
    const Tensor& x = sa.get();
    const Tensor& p = se.get();
    Tensor ga = needs[0] ? g * p * pow(x, p - 1.0) : Tensor();
    Tensor gp = needs[1] ? g * pow(x, p) * log(x) : Tensor();
    return TensorList{ga, gp};
  });
}

Tensor pow(const Tensor& a, double p) {
  if (p == 1.0) return a * 1.0;
  Tensor out = p == 2.0 ? unary_forward(UnaryOp::Square, a)
                        : floating_unary_forward(UnaryOp::PowScalar, a, UnaryParams{p, 0});
  SavedTensor sa(a, "pow");
  return autograd::record("pow", out, {a}, [sa, p](const Tensor& g, const NeedsGrad&) {
    if (p == 0.0) return TensorList{zeros_like(g)};
    if (p == 2.0) return TensorList{g * sa.get() * 2.0};
    return TensorList{g * (pow(sa.get(), p - 1.0) * p)};
  });
}

Tensor pow(double base, const Tensor& e) {
  Tensor b = scalar_like(base, e);
  return pow(b, e);
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Maximum, a, b);
  SavedTensor sa(a, "maximum"), sb(b, "maximum");
  return autograd::record("maximum", out, {a, b}, [sa, sb](const Tensor& g, const NeedsGrad&) {
    const Tensor &x = sa.get(), &y = sb.get();
    Tensor wa = mask_as(gt(x, y), g) + mask_as(eq(x, y), g) * 0.5;  // ties split evenly
    return TensorList{g * wa, g * (1.0 - wa)};
  });
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Minimum, a, b);
  SavedTensor sa(a, "minimum"), sb(b, "minimum");
  return autograd::record("minimum", out, {a, b}, [sa, sb](const Tensor& g, const NeedsGrad&) {
    const Tensor &x = sa.get(), &y = sb.get();
    Tensor wa = mask_as(lt(x, y), g) + mask_as(eq(x, y), g) * 0.5;
    return TensorList{g * wa, g * (1.0 - wa)};
  });
}

// ---------------------------------------------------------------- unary math

Tensor exp(const Tensor& a) {
  Tensor out = floating_unary_forward(UnaryOp::Exp, a);
  SavedTensor sa(a, "exp"), sy = autograd::save_output(out, "exp");
  return autograd::record("exp", out, {a}, [sa, sy](const Tensor& g, const NeedsGrad&) {
    return TensorList{g * (GradMode::is_enabled() ? exp(sa.get()) : sy.get())};
  });
}

Tensor log(const Tensor& a) {
  Tensor out = floating_unary_forward(UnaryOp::Log, a);
  SavedTensor sa(a, "log");
  return autograd::record("log", out, {a}, [sa](const Tensor& g, const NeedsGrad&) { return TensorList{g / sa.get()}; });
}

Tensor log1p(const Tensor& a) {
  Tensor out = floating_unary_forward(UnaryOp::Log1p, a);
  SavedTensor sa(a, "log1p");
  return autograd::record("log1p", out, {a},
                          [sa](const Tensor& g, const NeedsGrad&) { return TensorList{g / (sa.get() + 1.0)}; });
}

Tensor sqrt(const Tensor& a) {
  Tensor out = floating_unary_forward(UnaryOp::Sqrt, a);
  SavedTensor sa(a, "sqrt"), sy = autograd::save_output(out, "sqrt");
  return autograd::record("sqrt", out, {a}, [sa, sy](const Tensor& g, const NeedsGrad&) {
    Tensor y = GradMode::is_enabled() ? sqrt(sa.get()) : sy.get();
    return TensorList{g / (y * 2.0)};
  });
}

Tensor rsqrt(const Tensor& a) {
  Tensor out = floating_unary_forward(UnaryOp::Rsqrt, a);
  SavedTensor sa(a, "rsqrt"), sy = autograd::save_output(out, "rsqrt");
  return autograd::record("rsqrt", out, {a}, [sa, sy](const Tensor& g, const NeedsGrad&) {
    Tensor y = GradMode::is_enabled() ? rsqrt(sa.get()) : sy.get();
    return TensorList{g * pow(y, 3.0) * -0.5};
  });
}

Tensor abs(const Tensor& a) {
  Tensor out = unary_forward(UnaryOp::Abs, a);
  SavedTensor sa(a, "abs");
  return autograd::record("abs", out, {a}, [sa](const Tensor& g, const NeedsGrad&) {
    return TensorList{g * sign(sa.get())};
  });
}

Tensor sign(const Tensor& a) { return unary_forward(UnaryOp::Sign, a); }

Tensor square(const Tensor& a) { return pow(a, 2.0); }

Tensor reciprocal(const Tensor& a) {
  Tensor out = floating_unary_forward(UnaryOp::Reciprocal, a);
  SavedTensor sa(a, "reciprocal");
  return autograd::record("reciprocal", out, {a}, [sa](const Tensor& g, const NeedsGrad&) {
    const Tensor& x = sa.get();
    return TensorList{neg(g) / (x * x)};
  });
}

Tensor sin(const Tensor& a) {
  Tensor out = floating_unary_forward(UnaryOp::Sin, a);
  SavedTensor sa(a, "sin");
  return autograd::record("sin", out, {a}, [sa](const Tensor& g, const NeedsGrad&) { return TensorList{g * cos(sa.get())}; });
}

Tensor cos(const Tensor& a) {
  Tensor out = floating_unary_forward(UnaryOp::Cos, a);
  SavedTensor sa(a, "cos");
  return autograd::record("cos", out, {a},
                          [sa](const Tensor& g, const NeedsGrad&) { return TensorList{neg(g * sin(sa.get()))}; });
}

Tensor clamp(const Tensor& a, double lo, double hi) {
  DUEL_CHECK(lo <= hi, "clamp: lo (", lo, ") must be <= hi (", hi, ")");
  Tensor out = unary_forward(UnaryOp::Clamp, a, UnaryParams{lo, hi});
  SavedTensor sa(a, "clamp");
  return autograd::record("clamp", out, {a}, [sa, lo, hi](const Tensor& g, const NeedsGrad&) {
    const Tensor& x = sa.get();
    return TensorList{g * mask_as(logical_and(x >= lo, x <= hi), g)};
  });
}
Tensor clamp_min(const Tensor& a, double lo) { return clamp(a, lo, INFINITY); }
Tensor clamp_max(const Tensor& a, double hi) { return clamp(a, -INFINITY, hi); }

// ---------------------------------------------------------------- activations

Tensor relu(const Tensor& a) {
  Tensor out = unary_forward(UnaryOp::Relu, a);
  SavedTensor sa(a, "relu");
  return autograd::record("relu", out, {a}, [sa](const Tensor& g, const NeedsGrad&) {
    const Tensor& x = sa.get();
    if (GradMode::is_enabled()) return TensorList{g * mask_as(x > 0.0, g)};
    Tensor gx = empty_like(g);
    DUEL_KERNEL(g.device(), binary, BinaryOp::ReluBackward, g, x, gx, 1.0);
    return TensorList{gx};
  });
}

Tensor leaky_relu(const Tensor& a, double slope) {
  Tensor out = floating_unary_forward(UnaryOp::LeakyRelu, a, UnaryParams{slope, 0});
  SavedTensor sa(a, "leaky_relu");
  return autograd::record("leaky_relu", out, {a}, [sa, slope](const Tensor& g, const NeedsGrad&) {
    const Tensor& x = sa.get();
    if (GradMode::is_enabled()) return TensorList{g * (mask_as(x > 0.0, g) * (1.0 - slope) + slope)};
    Tensor gx = empty(x.sizes(), TensorOptions(g.dtype(), g.device()));
    DUEL_KERNEL(g.device(), binary, BinaryOp::LeakyReluBackward, g, x, gx, slope);
    return TensorList{gx};
  });
}

Tensor prelu(const Tensor& a, const Tensor& weight) {
  DUEL_CHECK(weight.dim() == 1, "prelu: expected a 1-D weight, got shape ", shape_str(weight.sizes()));
  Tensor w = weight;
  if (weight.numel() > 1) {
    DUEL_CHECK(a.dim() >= 2 && a.size(1) == weight.numel(), "prelu: weight has ", weight.numel(),
               " parameters but the input of shape ", shape_str(a.sizes()), " has ",
               a.dim() >= 2 ? a.size(1) : 1, " channels (dim 1)");
    Shape ws(a.dim(), 1);
    ws[1] = weight.numel();
    w = weight.reshape(ws);
  }
  return where(a > 0.0, a, w * a);
}

Tensor elu(const Tensor& a, double alpha) {
  // One kernel each way: the forward x > 0 ? x : alpha * (exp(x) - 1), and the first-order
  // backward in terms of the output, y > 0 ? g : g * (y + alpha) (ELU's derivative, as PyTorch's
  // elu_backward). Under create_graph the backward is the same expression written in recorded
  // ops on a recomputed y (differentiable again: ELU'' = y + alpha below 0).
  Tensor out = floating_unary_forward(UnaryOp::Elu, a, UnaryParams{alpha, 0});
  SavedTensor sa(a, "elu"), sy = autograd::save_output(out, "elu");
  return autograd::record("elu", out, {a}, [sa, sy, alpha](const Tensor& g, const NeedsGrad&) {
    if (GradMode::is_enabled()) {
      const Tensor& x = sa.get();
      return TensorList{where(x > 0.0, g, g * (elu(x, alpha) + alpha))};
    }
    Tensor gx = empty_like(g);
    DUEL_KERNEL(g.device(), binary, BinaryOp::EluBackward, g, sy.get(), gx, alpha);
    return TensorList{gx};
  });
}

Tensor tanh(const Tensor& a) {
  Tensor out = floating_unary_forward(UnaryOp::Tanh, a);
  SavedTensor sa(a, "tanh"), sy = autograd::save_output(out, "tanh");
  return autograd::record("tanh", out, {a}, [sa, sy](const Tensor& g, const NeedsGrad&) {
    if (GradMode::is_enabled()) {
      Tensor y = tanh(sa.get());
      return TensorList{g * (1.0 - y * y)};
    }
    Tensor gx = empty_like(g);
    DUEL_KERNEL(g.device(), binary, BinaryOp::TanhBackward, g, sy.get(), gx, 1.0);
    return TensorList{gx};
  });
}

Tensor sigmoid(const Tensor& a) {
  Tensor out = floating_unary_forward(UnaryOp::Sigmoid, a);
  SavedTensor sa(a, "sigmoid"), sy = autograd::save_output(out, "sigmoid");
  return autograd::record("sigmoid", out, {a}, [sa, sy](const Tensor& g, const NeedsGrad&) {
    if (GradMode::is_enabled()) {
      Tensor y = sigmoid(sa.get());
      return TensorList{g * y * (1.0 - y)};
    }
    Tensor gx = empty_like(g);
    DUEL_KERNEL(g.device(), binary, BinaryOp::SigmoidBackward, g, sy.get(), gx, 1.0);
    return TensorList{gx};
  });
}

Tensor softplus(const Tensor& a, double beta, double threshold) {
  Tensor out = floating_unary_forward(UnaryOp::Softplus, a, UnaryParams{beta, threshold});
  SavedTensor sa(a, "softplus");
  return autograd::record("softplus", out, {a}, [sa, beta, threshold](const Tensor& g, const NeedsGrad&) {
    const Tensor& x = sa.get();
    Tensor bx = x * beta;
    return TensorList{where(bx > threshold, g, g * sigmoid(bx))};
  });
}

Tensor logsigmoid(const Tensor& a) { return neg(softplus(neg(a))); }

// ---------------------------------------------------------------- comparisons, selection

Tensor eq(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Ge, a, b); }
Tensor logical_and(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::LogicalAnd, a, b); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::LogicalOr, a, b); }
Tensor logical_not(const Tensor& a) { return unary_forward(UnaryOp::LogicalNot, a); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  DUEL_CHECK(cond.dtype() == kBool, "where: condition must be a bool mask, got ", dtype_name(cond.dtype()));
  check_same_device("where", cond, a);
  check_same_device("where", a, b);
  DType dt = promote_types(a.dtype(), b.dtype());
  Shape shape = broadcast_shapes(broadcast_shapes(cond.sizes(), a.sizes(), "where"), b.sizes(), "where");
  Tensor out = empty(shape, TensorOptions(dt, a.device()));
  DUEL_KERNEL(a.device(), where, cond, cast_raw(a, dt), cast_raw(b, dt), out);
  SavedTensor sc(cond.detach(), "where");  // version-checked: modifying the mask before backward throws
  return autograd::record("where", out, {a, b}, [sc](const Tensor& g, const NeedsGrad& needs) {
    const Tensor& c = sc.get();
    Tensor zero = scalar_tensor(0.0, TensorOptions(g.dtype(), g.device()));
    return TensorList{needs[0] ? where(c, g, zero) : Tensor(), needs[1] ? where(c, zero, g) : Tensor()};
  });
}

Tensor masked_fill(const Tensor& a, const Tensor& mask, double value) {
  return where(mask, scalar_tensor(value, TensorOptions(a.dtype(), a.device())), a);
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.sizes() != b.sizes()) return false;
  auto x = a.to_vector<double>(), y = b.to_vector<double>();
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) || std::isnan(y[i])) return false;
    if (std::abs(x[i] - y[i]) > atol + rtol * std::abs(y[i])) return false;
  }
  return true;
}

Tensor cast(const Tensor& a, DType dtype) {
  if (a.dtype() == dtype) return a;
  Tensor out = cast_raw(a, dtype);
  if (!is_floating(dtype)) return out;
  DType from = a.dtype();
  return autograd::record("cast", out, {a},
                          [from](const Tensor& g, const NeedsGrad&) { return TensorList{g.to(from)}; });
}

// ---------------------------------------------------------------- operators

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator<(const Tensor& a, double b) { return lt(a, scalar_like(b, a)); }
Tensor operator<=(const Tensor& a, double b) { return le(a, scalar_like(b, a)); }
Tensor operator>(const Tensor& a, double b) { return gt(a, scalar_like(b, a)); }
Tensor operator>=(const Tensor& a, double b) { return ge(a, scalar_like(b, a)); }

}  // namespace duel
