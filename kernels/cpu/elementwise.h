// CPU elementwise kernels. Operands may be non-contiguous and broadcast (stride 0);
// `out` is written in place and must have the broadcast shape.
#pragma once
#include "kernels/elementwise_ops.h"
#include "tensor/tensor.h"

namespace duel::cpu {

void unary(UnaryOp op, const Tensor& in, Tensor& out, UnaryParams p = {});
// a and b have the same dtype; out has that dtype (or bool for comparisons). Add/Sub compute a + alpha*b.
void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out, double alpha = 1.0);
// out = cond ? a : b  (cond bool; a, b, out same dtype)
void where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out);
// dst = src (broadcast to dst's shape), converting dtype.
void copy(const Tensor& src, Tensor& dst);
void fill(Tensor& dst, double value);

}  // namespace duel::cpu
