// CPU batched matrix product through Eigen's GEMM.
#pragma once
#include "tensor/tensor.h"

namespace duel::cpu {
// a [B, M, K], b [B, K, N] (any strides, batch stride may be 0), out [B, M, N] contiguous (overwritten).
void matmul(const Tensor& a, const Tensor& b, Tensor& out);
}  // namespace duel::cpu
