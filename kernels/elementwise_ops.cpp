// The elementwise op codes' names (kernels/elementwise_ops.h), shared by every backend.
#include "kernels/elementwise_ops.h"

namespace duel {

const char* unary_op_name(UnaryOp op) {
  static const char* names[] = {"neg",  "exp",  "log",     "log1p", "sqrt",       "rsqrt",      "abs",
                                "sign", "square", "reciprocal", "sin", "cos",      "tanh",       "sigmoid",
                                "relu", "leaky_relu", "elu", "softplus", "clamp", "pow",  "add_scalar", "mul_scalar",
                                "logical_not"};
  return names[static_cast<int>(op)];
}

const char* binary_op_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "ne", "lt",
                                "le",  "gt",  "ge",  "logical_and", "logical_or", "relu_backward",
                                "leaky_relu_backward", "tanh_backward", "sigmoid_backward",
                                "elu_backward"};
  return names[static_cast<int>(op)];
}

bool binary_op_is_comparison(BinaryOp op) { return op >= BinaryOp::Eq && op <= BinaryOp::LogicalOr; }

}  // namespace duel
