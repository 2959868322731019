// CPU reduction kernels.
#pragma once
#include "kernels/types.h"  // ReduceOp
#include "tensor/tensor.h"

namespace duel::cpu {

// out has the input's shape with every reduced dim set to 1 (keepdim layout), contiguous.
// Sums of float32 accumulate in double.
void reduce(ReduceOp op, const Tensor& in, Tensor& out, const std::vector<int64_t>& dims);
// Along one dim: values (input dtype) and int64 indices of the first extreme, both in keepdim layout.
void arg_reduce(bool is_max, const Tensor& in, Tensor& values, Tensor& indices, int64_t dim);

}  // namespace duel::cpu
