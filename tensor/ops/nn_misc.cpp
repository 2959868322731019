// dropout and embedding, composed of other ops.
#include "tensor/ops/elementwise.h"
#include "tensor/ops/nn_ops.h"
#include "tensor/ops/shape_ops.h"
#include "tensor/random.h"

namespace duel {

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  DUEL_CHECK(p >= 0 && p <= 1, "dropout: p must be in [0, 1], got ", p);
  if (!training || p == 0) return x;
  if (p == 1) return x * 0.0;
  Tensor keep = bernoulli(x.sizes(), 1.0 - p, TensorOptions(x.dtype(), x.device()), gen);
  return x * (keep * (1.0 / (1.0 - p)));
}

Tensor embedding(const Tensor& indices, const Tensor& weight) {
  DUEL_CHECK(indices.dtype() == kInt64, "embedding: expected int64 indices, got ", dtype_name(indices.dtype()));
  DUEL_CHECK(weight.dim() == 2, "embedding: expected a 2-D weight [num_embeddings, dim], got shape ",
             shape_str(weight.sizes()));
  Shape out = indices.sizes();
  out.push_back(weight.size(1));
  return index_select(weight, 0, indices.reshape({-1})).reshape(out);
}

}  // namespace duel
