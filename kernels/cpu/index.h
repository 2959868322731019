// CPU indexing kernels. All tensors contiguous; index tensors int64.
// Out-of-range indices throw (checked before any write).
#pragma once
#include "tensor/tensor.h"

namespace duel::cpu {

// out[p] = in[p with p[dim] = index[p]]; out has index's shape.
void gather(const Tensor& in, int64_t dim, const Tensor& index, Tensor& out);
// out[p with p[dim] = index[p]] += src[p] for every p of index (out already holds self).
void scatter_add(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);
// out = in.select along dim by a 1-D index.
void index_select(const Tensor& in, int64_t dim, const Tensor& index, Tensor& out);
// out.narrow(dim, index[i], 1) += src.narrow(dim, i, 1)
void index_add(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);

}  // namespace duel::cpu
