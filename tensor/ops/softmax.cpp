// softmax / log_softmax: fused forward kernels. The backward uses the fused
// softmax_backward kernel when no graph is recorded (a plain backward()), and
// the formulas in ops under create_graph (recomputing the output from the input,
// so the second derivative flows through it).
// CPU kernels: kernels/cpu/softmax.cpp.
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "kernels/cpu/softmax.h"
#include "kernels/dispatch.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/nn_ops.h"
#include "tensor/ops/reduction.h"

namespace duel {
namespace {

Tensor softmax_impl(const Tensor& x, int64_t dim_in, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  DUEL_CHECK(is_floating(x.dtype()), name, ": expected a floating input, got ", dtype_name(x.dtype()));
  int64_t dim = wrap_dim(dim_in, x.dim(), name);
  Tensor xc = x.contiguous();
  Tensor y = empty(x.sizes(), TensorOptions(x.dtype(), x.device()));
  int64_t outer = 1, inner = 1, D = x.dim() ? x.size(dim) : 1;
  for (int64_t d = 0; d < dim; ++d) outer *= x.size(d);
  for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
  DUEL_DISPATCH_FLOATING(x.dtype(), name, [&] {
    DUEL_KERNEL(x.device(), softmax_forward<scalar_t>, xc.data<scalar_t>(), y.data<scalar_t>(), outer, D, inner, log);
  });
  SavedTensor sx(x, name), sy = autograd::save_output(y, name);
  return autograd::record(name, y, {x}, [sx, sy, dim, log, outer, D, inner](const Tensor& g, const NeedsGrad&) {
    if (!GradMode::is_enabled()) {  // first-order backward: one fused kernel
      Tensor out = sy.get(), gc = g.contiguous();
      Tensor gx = empty(out.sizes(), TensorOptions(out.dtype(), out.device()));
      DUEL_DISPATCH_FLOATING(out.dtype(), log ? "log_softmax_backward" : "softmax_backward", [&] {
        DUEL_KERNEL(out.device(), softmax_backward<scalar_t>, gc.data<scalar_t>(), out.data<scalar_t>(),
                    gx.data<scalar_t>(), outer, D, inner, log);
      });
      return TensorList{gx};
    }
    Tensor out = softmax_impl(sx.get(), dim, log);
    if (log) return TensorList{g - exp(out) * sum(g, {dim}, true)};
    return TensorList{out * (g - sum(g * out, {dim}, true))};
  });
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, true); }

}  // namespace duel
