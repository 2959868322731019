// Shape and indexing ops that copy (views are members of Tensor).
// Forward/backward: tensor/ops/shape_ops.cpp and tensor/ops/index.cpp;
// CPU kernels: kernels/cpu/copy.cpp and kernels/cpu/index.cpp.
#pragma once
#include "tensor/tensor.h"

namespace duel {

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& a, int64_t split_size, int64_t dim = 0);  // views
std::vector<Tensor> split_sizes(const Tensor& a, const std::vector<int64_t>& sizes, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& a, int64_t chunks, int64_t dim = 0);
enum class PadMode { Zero, Reflect };
// pads = {last_lo, last_hi, second_last_lo, second_last_hi, ...} as in torch.nn.functional.pad.
Tensor pad(const Tensor& a, const std::vector<int64_t>& pads, PadMode mode = PadMode::Zero, double value = 0.0);
Tensor flip(const Tensor& a, const std::vector<int64_t>& dims);
Tensor repeat(const Tensor& a, const std::vector<int64_t>& repeats);
Tensor gather(const Tensor& a, int64_t dim, const Tensor& index);
Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src);
Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index);
Tensor index_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& source);
Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype = kFloat32);
// Copies `src` into a strided region of a fresh copy of `self` (differentiable), used by slice backward.
Tensor slice_scatter(const Tensor& self, const Tensor& src, int64_t dim, int64_t start, int64_t end, int64_t step = 1);

}  // namespace duel
