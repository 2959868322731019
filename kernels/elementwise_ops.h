// The elementwise op codes shared by every backend (cpu, sim, cuda): a kernel
// receives the code and switches once per call, never per element.
#pragma once

namespace duel {

enum class UnaryOp {
  Neg, Exp, Log, Log1p, Sqrt, Rsqrt, Abs, Sign, Square, Reciprocal, Sin, Cos, Tanh, Sigmoid,
  Relu,
  LeakyRelu,  // p.a = negative slope
  Elu,        // p.a = alpha: x > 0 ? x : alpha * (exp(x) - 1)
  Softplus,   // p.a = beta, p.b = threshold
  Clamp,      // p.a = lo, p.b = hi
  PowScalar,  // p.a = exponent
  AddScalar,  // p.a
  MulScalar,  // p.a
  LogicalNot,
};
struct UnaryParams {
  double a = 0, b = 0;
};

enum class BinaryOp {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum,
  Eq, Ne, Lt, Le, Gt, Ge, LogicalAnd, LogicalOr,  // produce bool
  // Fused first-order backward helpers, used only when no graph is recorded.
  ReluBackward,       // (g, x) -> x > 0 ? g : 0
  LeakyReluBackward,  // (g, x) -> x > 0 ? g : alpha * g
  TanhBackward,       // (g, y) -> g * (1 - y^2)
  SigmoidBackward,    // (g, y) -> g * y * (1 - y)
  EluBackward,        // (g, y) -> y > 0 ? g : g * (y + alpha), y = elu(x)
};

const char* unary_op_name(UnaryOp op);
const char* binary_op_name(BinaryOp op);
bool binary_op_is_comparison(BinaryOp op);

}  // namespace duel
