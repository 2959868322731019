// Matrix products. Forward/backward: tensor/ops/linalg.cpp; CPU kernel (Eigen GEMM): kernels/cpu/matmul.cpp.
#pragma once
#include "tensor/tensor.h"

namespace duel {

// 1-D x 1-D: dot; 2-D x 2-D: matrix product; N-D: batched with broadcast batch dims
// (a 1-D operand is promoted to a matrix and the added dim removed, as in NumPy).
Tensor matmul(const Tensor& a, const Tensor& b);
// y = x W^T + b with W [out, in] (bias may be undefined).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

}  // namespace duel
