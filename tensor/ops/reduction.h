// Reductions over any set of dims (an empty list means all dims).
// Forward and backward: tensor/ops/reduction.cpp; CPU kernels: kernels/cpu/reduction.cpp.
#pragma once
#include <utility>

#include "tensor/tensor.h"

namespace duel {

using Dims = std::vector<int64_t>;

Tensor sum(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
Tensor var(const Tensor& a, const Dims& dims = {}, bool unbiased = true, bool keepdim = false);
Tensor std(const Tensor& a, const Dims& dims = {}, bool unbiased = true, bool keepdim = false);
Tensor amax(const Tensor& a, const Dims& dims = {}, bool keepdim = false);  // ties share the gradient
Tensor amin(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
// Along one dim: values (differentiable) and int64 indices of the first max/min.
std::pair<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& a);  // over all elements
Tensor min(const Tensor& a);
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor logsumexp(const Tensor& a, const Dims& dims, bool keepdim = false);
Tensor norm(const Tensor& a, double p = 2.0, const Dims& dims = {}, bool keepdim = false);  // p = 1 or 2
// Sums `a` down to `shape` (the reverse of broadcasting); used by backward formulas.
Tensor sum_to(const Tensor& a, const Shape& shape);

}  // namespace duel
