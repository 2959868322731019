// lstm_cell: the elementwise part of an LSTM step as one op (tensor/ops/nn_ops.h), with the
// arguments of PyTorch's fused cell (input gates, hidden gates, c, and the two biases). Forward
// and the first-order backward are one fused kernel each (CPU: kernels/cpu/rnn.cpp; CUDA and
// the emulator: kernels/cuda/rnn.cu); under create_graph the backward is written in ops, so
// that higher derivatives flow through it. Tests: tests/test_rnn_ops.cpp (an independent scalar
// reference, gradcheck, gradgradcheck) and the backend parity table (tests/parity/test_parity.cpp).
//
// Compared with composing it from two bias adds, an add, chunk, sigmoid, tanh, mul and add
// (what nn/rnn.cpp did), one op saves a dozen intermediate tensors and graph nodes per step, the
// backward's four chunk gradients (each a zero-filled [N, 4H] buffer with one quarter written)
// and the two per-step reductions of the bias gradients.
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "kernels/cpu/rnn.h"
#include "kernels/dispatch.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/nn_ops.h"
#include "tensor/ops/reduction.h"
#include "tensor/ops/shape_ops.h"

namespace duel {
namespace {

void check_part(const Tensor& t, const Tensor& like, const Shape& shape, const char* what) {
  if (!t.defined()) return;
  DUEL_CHECK(t.sizes() == shape, "lstm_cell: expected ", what, " of shape ", shape_str(shape), ", got ",
             shape_str(t.sizes()));
  DUEL_CHECK(t.dtype() == like.dtype(), "lstm_cell: expected ", what, " of dtype ", dtype_name(like.dtype()),
             " (that of the input gates), got ", dtype_name(t.dtype()));
  DUEL_CHECK(t.device() == like.device(), "lstm_cell: expected ", what, " on ", like.device().str(),
             " (where the input gates are), got ", t.device().str());
}

template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// the optional arguments stay undefined
Tensor contiguous_or_undefined(const Tensor& t) { return t.defined() ? t.contiguous() : t; }

}  // namespace

Tensor lstm_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& c, const Tensor& input_bias,
                 const Tensor& hidden_bias) {
  DUEL_CHECK(input_gates.defined() && c.defined(), "lstm_cell: the input gates and c must be defined tensors");
  DUEL_CHECK(input_gates.dim() == 2 && c.dim() == 2 && input_gates.size(0) == c.size(0) &&
                 input_gates.size(1) == 4 * c.size(1),
             "lstm_cell: expected input gates [N, 4H] and c [N, H], got input gates ", shape_str(input_gates.sizes()),
             " and c ", shape_str(c.sizes()));
  DUEL_CHECK(is_floating(input_gates.dtype()), "lstm_cell: expected floating tensors, got ",
             dtype_name(input_gates.dtype()));
  const int64_t N = c.size(0), H = c.size(1);
  check_part(c, input_gates, {N, H}, "c");
  check_part(hidden_gates, input_gates, {N, 4 * H}, "the hidden gates");
  check_part(input_bias, input_gates, {4 * H}, "the input bias");
  check_part(hidden_bias, input_gates, {4 * H}, "the hidden bias");

  Tensor xg = input_gates.contiguous(), hg = contiguous_or_undefined(hidden_gates),
         bx = contiguous_or_undefined(input_bias), bh = contiguous_or_undefined(hidden_bias), cc = c.contiguous();
  Tensor out = empty({N, 2 * H}, TensorOptions(c.dtype(), c.device()));
  DUEL_DISPATCH_FLOATING(c.dtype(), "lstm_cell", [&] {
    DUEL_KERNEL(c.device(), lstm_cell_forward<scalar_t>, xg.data<scalar_t>(), data_or_null<scalar_t>(hg),
                data_or_null<scalar_t>(bx), data_or_null<scalar_t>(bh), cc.data<scalar_t>(), out.data<scalar_t>(),
                N, H);
  });
  auto save = [](const Tensor& t) { return t.defined() ? SavedTensor(t, "lstm_cell") : SavedTensor(); };
  SavedTensor sx = save(input_gates), sh = save(hidden_gates), sbx = save(input_bias), sbh = save(hidden_bias),
              sc = save(c), so = autograd::save_output(out, "lstm_cell");
  return autograd::record(
      "lstm_cell", out, {input_gates, hidden_gates, c, input_bias, hidden_bias},
      [sx, sh, sbx, sbh, sc, so, N, H](const Tensor& g, const NeedsGrad& needs) {
        auto get = [](const SavedTensor& s) { return s.defined() ? s.get() : Tensor(); };
        Tensor ga, gc;
        if (!GradMode::is_enabled()) {  // first-order backward: one fused kernel
          Tensor xg = sx.get().contiguous(), hg = contiguous_or_undefined(get(sh)),
                 bx = contiguous_or_undefined(get(sbx)), bh = contiguous_or_undefined(get(sbh));
          Tensor cp = sc.get().contiguous(), o = so.get(), gout = g.contiguous();
          ga = empty({N, 4 * H}, TensorOptions(cp.dtype(), cp.device()));
          gc = empty({N, H}, TensorOptions(cp.dtype(), cp.device()));
          DUEL_DISPATCH_FLOATING(cp.dtype(), "lstm_cell_backward", [&] {
            DUEL_KERNEL(cp.device(), lstm_cell_backward<scalar_t>, xg.data<scalar_t>(), data_or_null<scalar_t>(hg),
                        data_or_null<scalar_t>(bx), data_or_null<scalar_t>(bh), cp.data<scalar_t>(),
                        o.data<scalar_t>(), gout.data<scalar_t>(), ga.data<scalar_t>(), gc.data<scalar_t>(), N, H);
          });
        } else {
          // create_graph: the same formulas in ops, recomputed from the inputs (kernels/cpu/rnn.h)
          const Tensor cp = sc.get();
          Tensor pre = get(sx);
          for (const SavedTensor* s : {&sh, &sbx, &sbh})
            if (s->defined()) pre = pre + s->get();
          auto a = chunk(pre, 4, 1);
          Tensor i = sigmoid(a[0]), f = sigmoid(a[1]), gg = tanh(a[2]), o = sigmoid(a[3]);
          Tensor t = tanh(f * cp + i * gg);
          Tensor gh = g.narrow(1, 0, H), gc2 = g.narrow(1, H, H);
          Tensor dc2 = gc2 + gh * o * (1.0 - t * t);
          ga = cat({dc2 * gg * i * (1.0 - i), dc2 * cp * f * (1.0 - f), dc2 * i * (1.0 - gg * gg),
                    gh * t * o * (1.0 - o)},
                   1);
          gc = dc2 * f;
        }
        // the biases are broadcast over the rows: their gradient is the column sum of ga's
        Tensor gb = needs[3] || needs[4] ? sum(ga, {0}) : Tensor();
        return TensorList{needs[0] ? ga : Tensor(), needs[1] ? ga : Tensor(), needs[2] ? gc : Tensor(),
                          needs[3] ? gb : Tensor(), needs[4] ? gb : Tensor()};
      });
}

}  // namespace duel
