// matmul: one primitive (batched [B,M,K] x [B,K,N]) whose backward is two more
// matmuls; every other form (vectors, broadcast batches, linear layers) is
// reshaped onto it, so the views record the rest of the gradient.
#include "tensor/ops/linalg.h"

#include <algorithm>

#include "autograd/node.h"
#include "kernels/cpu/matmul.h"
#include "kernels/dispatch.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/reduction.h"

namespace duel {
namespace {

// [B, R, C] laid out as the transpose of a contiguous [B, C, R]
bool is_transposed_contiguous(const Tensor& t) {
  return t.size(1) > 1 && t.size(2) > 1 && t.stride(1) == 1 && t.stride(2) == t.size(1) &&
         (t.size(0) == 1 || t.stride(0) == t.size(1) * t.size(2));
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  Tensor out = empty({a.size(0), a.size(1), b.size(2)}, TensorOptions(a.dtype(), a.device()));
  DUEL_KERNEL(a.device(), matmul, a, b, out);
  SavedTensor sa(a, "matmul"), sb(b, "matmul");
  // An operand that is the transpose of a contiguous matrix (a linear layer's weight.t()) gets its
  // gradient in the same layout, computed as the transposed product: the transpose's backward then
  // hands the weight a contiguous gradient, which .grad keeps without a copy.
  const bool a_t = is_transposed_contiguous(a), b_t = is_transposed_contiguous(b);
  return autograd::record("matmul", out, {a, b}, [sa, sb, a_t, b_t](const Tensor& g, const NeedsGrad& needs) {
    Tensor ga, gb;
    if (needs[0])
      ga = a_t ? bmm(sb.get(), g.transpose(1, 2)).transpose(1, 2) : bmm(g, sb.get().transpose(1, 2));
    if (needs[1])
      gb = b_t ? bmm(g.transpose(1, 2), sa.get()).transpose(1, 2) : bmm(sa.get().transpose(1, 2), g);
    return TensorList{ga, gb};
  });
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  DUEL_CHECK(a.defined() && b.defined(), "matmul: undefined tensor argument");
  DUEL_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both arguments need at least 1 dim, got shapes ",
             shape_str(a.sizes()), " and ", shape_str(b.sizes()));
  DUEL_CHECK(a.device() == b.device(), "matmul: expected both tensors on the same device, got ", a.device().str(),
             " (shape ", shape_str(a.sizes()), ") and ", b.device().str(), " (shape ", shape_str(b.sizes()), ")");
  DUEL_CHECK(a.dtype() == b.dtype() && is_floating(a.dtype()), "matmul: expected two float32 or two float64 tensors, got ",
             dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  const int64_t K = a.size(-1);
  const int64_t Kb = b.dim() == 1 ? b.size(0) : b.size(-2);
  DUEL_CHECK(K == Kb, "matmul: shapes ", shape_str(a.sizes()), " and ", shape_str(b.sizes()),
             " cannot be multiplied (", K, " columns vs ", Kb, " rows)");
  if (a.dim() == 1 && b.dim() == 1) return sum(a * b);
  if (a.dim() == 1) return matmul(a.unsqueeze(0), b).squeeze(-2);
  if (b.dim() == 1) return matmul(a, b.unsqueeze(-1)).squeeze(-1);
  const int64_t M = a.size(-2), N = b.size(-1);
  if (b.dim() == 2) {
    // fold a's batch dims into M: one GEMM
    Shape out_shape(a.sizes().begin(), a.sizes().end() - 1);
    out_shape.push_back(N);
    // explicit sizes (not -1): a -1 cannot be inferred when K == 0
    const int64_t a_rows = shape_numel(Shape(a.sizes().begin(), a.sizes().end() - 1));
    return bmm(a.reshape({1, a_rows, K}), b.unsqueeze(0)).reshape(out_shape);
  }
  Shape ba(a.sizes().begin(), a.sizes().end() - 2), bb(b.sizes().begin(), b.sizes().end() - 2);
  for (size_t i = 1; i <= std::min(ba.size(), bb.size()); ++i) {
    int64_t da = ba[ba.size() - i], db = bb[bb.size() - i];
    DUEL_CHECK(da == db || da == 1 || db == 1, "matmul: the batch dims of shapes ", shape_str(a.sizes()), " and ",
               shape_str(b.sizes()), " cannot be broadcast together (", shape_str(ba), " vs ", shape_str(bb), ")");
  }
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  Shape ea = batch, eb = batch, out_shape = batch;
  ea.insert(ea.end(), {M, K});
  eb.insert(eb.end(), {K, N});
  out_shape.insert(out_shape.end(), {M, N});
  const int64_t nb = shape_numel(batch);  // explicit (not -1): M, K or N may be 0
  Tensor a3 = a.expand(ea).reshape({nb, M, K});
  Tensor b3 = b.expand(eb).reshape({nb, K, N});
  return bmm(a3, b3).reshape(out_shape);
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  DUEL_CHECK(weight.dim() == 2, "linear: expected a 2-D weight [out_features, in_features], got shape ",
             shape_str(weight.sizes()));
  DUEL_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: input of shape ", shape_str(x.sizes()),
             " does not match weight of shape ", shape_str(weight.sizes()), " (expected last input dim ",
             weight.size(1), ")");
  Tensor y = matmul(x, weight.t());
  if (bias.defined()) {
    DUEL_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "linear: bias of shape ", shape_str(bias.sizes()),
               " does not match out_features ", weight.size(0));
    y = y + bias;
  }
  return y;
}

}  // namespace duel
