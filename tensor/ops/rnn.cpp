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
//
// lstm_sequence: a whole LSTM layer as one op (below lstm_cell). Forward and the first backward
// are loops over the time steps here, calling the backend's matmul and lstm_cell kernels
// through DUEL_KERNEL, so the CPU, CUDA and emulator backends share them. Tests:
// tests/test_rnn_ops.cpp (against the step-by-step composite, gradcheck, gradgradcheck) and
// tests/parity (the emulator).
#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/rnn.h"
#include "kernels/dispatch.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/linalg.h"
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

namespace {

// lstm_sequence's step-by-step composite, in recorded ops: what its create_graph backward
// differentiates, and the reference its tests compare with.
Tensor lstm_steps(const Tensor& xg, const Tensor& h0, const Tensor& c0, const Tensor& w, const Tensor& bx,
                  const Tensor& bh) {
  const int64_t H = w.size(1);
  Tensor h = h0, c = c0;
  std::vector<Tensor> steps;
  for (int64_t t = 0; t < xg.size(0); ++t) {
    Tensor hc = lstm_cell(xg.select(0, t), matmul(h, w.t()), c, bx, bh);
    h = hc.narrow(1, 0, H);
    c = hc.narrow(1, H, H);
    steps.push_back(hc);
  }
  return stack(steps, 0);
}

// out = a b for matrices, through the backend's matmul kernel, into `out` (a contiguous [M, N],
// e.g. one step's slice of a sequence buffer); no graph.
void product_into(const Tensor& a, const Tensor& b, const Tensor& out) {
  Tensor o = out.unsqueeze(0);
  DUEL_KERNEL(a.device(), matmul, a.unsqueeze(0), b.unsqueeze(0), o);
}

}  // namespace

Tensor lstm_sequence(const Tensor& input_gates, const Tensor& h0, const Tensor& c0, const Tensor& hidden_weight,
                     const Tensor& input_bias, const Tensor& hidden_bias) {
  DUEL_CHECK(input_gates.defined() && hidden_weight.defined(),
             "lstm_sequence: the input gates and the hidden weight must be defined tensors");
  DUEL_CHECK(hidden_weight.dim() == 2 && hidden_weight.size(0) == 4 * hidden_weight.size(1) && hidden_weight.size(1) > 0,
             "lstm_sequence: expected a hidden weight [4H, H], got ", shape_str(hidden_weight.sizes()));
  const int64_t H = hidden_weight.size(1);
  DUEL_CHECK(input_gates.dim() == 3 && input_gates.size(0) > 0 && input_gates.size(2) == 4 * H,
             "lstm_sequence: expected input gates [T, N, 4H] = [T, N, ", 4 * H, "] (T >= 1) for a hidden weight ",
             shape_str(hidden_weight.sizes()), ", got ", shape_str(input_gates.sizes()));
  DUEL_CHECK(is_floating(input_gates.dtype()), "lstm_sequence: expected floating tensors, got ",
             dtype_name(input_gates.dtype()));
  const int64_t T = input_gates.size(0), N = input_gates.size(1);
  auto check = [&](const Tensor& t, const Shape& shape, const char* what) {
    if (!t.defined()) return;
    DUEL_CHECK(t.sizes() == shape, "lstm_sequence: expected ", what, " of shape ", shape_str(shape), ", got ",
               shape_str(t.sizes()));
    DUEL_CHECK(t.dtype() == input_gates.dtype(), "lstm_sequence: expected ", what, " of dtype ",
               dtype_name(input_gates.dtype()), " (that of the input gates), got ", dtype_name(t.dtype()));
    DUEL_CHECK(t.device() == input_gates.device(), "lstm_sequence: expected ", what, " on ",
               input_gates.device().str(), " (where the input gates are), got ", t.device().str());
  };
  check(hidden_weight, {4 * H, H}, "the hidden weight");
  check(h0, {N, H}, "h0");
  check(c0, {N, H}, "c0");
  check(input_bias, {4 * H}, "the input bias");
  check(hidden_bias, {4 * H}, "the hidden bias");

  const TensorOptions opts(input_gates.dtype(), input_gates.device());
  Tensor xg = input_gates.contiguous(), bx = contiguous_or_undefined(input_bias),
         bh = contiguous_or_undefined(hidden_bias);
  Tensor zero = h0.defined() && c0.defined() ? Tensor() : zeros({N, H}, opts);
  Tensor h_init = h0.defined() ? h0 : zero, c_init = c0.defined() ? c0.contiguous() : zero;
  Tensor out = empty({T, N, 2 * H}, opts);  // out[t] = [h_t | c_t]
  Tensor hg = empty({T, N, 4 * H}, opts);   // h_{t-1} W_hh^T, kept for the backward
  Tensor c_prev = empty({N, H}, opts);      // c_{t-1}, contiguous for the cell kernel
  {
    NoGradGuard no_grad;
    const Tensor wt = hidden_weight.t();
    for (int64_t t = 0; t < T; ++t) {
      const Tensor prev = t > 0 ? out.select(0, t - 1) : Tensor();
      product_into(t > 0 ? prev.narrow(1, 0, H) : h_init, wt, hg.select(0, t));
      if (t > 0) c_prev.copy_(prev.narrow(1, H, H));
      const Tensor& c = t > 0 ? c_prev : c_init;
      DUEL_DISPATCH_FLOATING(xg.dtype(), "lstm_sequence", [&] {
        DUEL_KERNEL(xg.device(), lstm_cell_forward<scalar_t>, xg.select(0, t).data<scalar_t>(),
                    hg.select(0, t).data<scalar_t>(), data_or_null<scalar_t>(bx), data_or_null<scalar_t>(bh),
                    c.data<scalar_t>(), out.select(0, t).data<scalar_t>(), N, H);
      });
    }
  }

  auto save = [](const Tensor& t) { return t.defined() ? SavedTensor(t, "lstm_sequence") : SavedTensor(); };
  SavedTensor sx = save(input_gates), sh0 = save(h0), sc0 = save(c0), sw = save(hidden_weight),
              sbx = save(input_bias), sbh = save(hidden_bias), shg = save(hg),
              so = autograd::save_output(out, "lstm_sequence");
  return autograd::record(
      "lstm_sequence", out, {input_gates, h0, c0, hidden_weight, input_bias, hidden_bias},
      [=](const Tensor& g, const NeedsGrad& needs) {
        auto get = [](const SavedTensor& s) { return s.defined() ? s.get() : Tensor(); };
        const TensorList inputs{get(sx), get(sh0), get(sc0), get(sw), get(sbx), get(sbh)};
        const TensorOptions o(g.dtype(), g.device());
        Tensor zero = inputs[1].defined() && inputs[2].defined() ? Tensor() : zeros({N, H}, o);
        const Tensor h_init = inputs[1].defined() ? inputs[1] : zero;
        const Tensor c_init = inputs[2].defined() ? inputs[2].contiguous() : zero;
        if (GradMode::is_enabled()) {
          // create_graph: differentiate the step-by-step composite, rebuilt on the same inputs
          TensorList wrt;
          std::vector<size_t> which;
          for (size_t i = 0; i < inputs.size(); ++i)
            if (needs[i] && inputs[i].defined()) wrt.push_back(inputs[i]), which.push_back(i);
          const Tensor y = lstm_steps(inputs[0], h_init, c_init, inputs[3], inputs[4], inputs[5]);
          const TensorList gs = autograd::grad({y}, wrt, {g}, /*create_graph=*/true, /*allow_unused=*/true);
          TensorList result(inputs.size());
          for (size_t k = 0; k < which.size(); ++k) result[which[k]] = gs[k];
          return result;
        }
        // first order: the steps in reverse, each one fused cell backward and one product
        const Tensor xg = inputs[0].contiguous(), w = inputs[3], y = so.get(), hgates = shg.get();
        const Tensor bx = contiguous_or_undefined(inputs[4]), bh = contiguous_or_undefined(inputs[5]);
        Tensor ga = empty({T, N, 4 * H}, o);  // d pre-activations = d input gates, every step
        Tensor dh = empty({N, H}, o), dc = empty({N, H}, o), c_prev = empty({N, H}, o);
        Tensor carry;  // [dh | dc] from step t + 1 into step t
        for (int64_t t = T - 1; t >= 0; --t) {
          const Tensor gt = g.select(0, t);
          const Tensor gout = carry.defined() ? gt + carry : gt.contiguous();
          if (t > 0) c_prev.copy_(y.select(0, t - 1).narrow(1, H, H));
          const Tensor& c = t > 0 ? c_prev : c_init;
          DUEL_DISPATCH_FLOATING(xg.dtype(), "lstm_sequence_backward", [&] {
            DUEL_KERNEL(xg.device(), lstm_cell_backward<scalar_t>, xg.select(0, t).data<scalar_t>(),
                        hgates.select(0, t).data<scalar_t>(), data_or_null<scalar_t>(bx),
                        data_or_null<scalar_t>(bh), c.data<scalar_t>(), y.select(0, t).data<scalar_t>(),
                        gout.data<scalar_t>(), ga.select(0, t).data<scalar_t>(), dc.data<scalar_t>(), N, H);
          });
          if (t == 0 && !needs[1]) break;
          product_into(ga.select(0, t), w, dh);  // d h_{t-1} = d a_t W_hh
          if (t > 0) carry = cat({dh, dc}, 1);
        }
        TensorList result(inputs.size());
        const Tensor ga2 = ga.reshape({T * N, 4 * H});
        if (needs[0]) result[0] = ga;
        if (needs[1]) result[1] = dh;
        if (needs[2]) result[2] = dc;
        if (needs[3]) {  // d W_hh = sum_t d a_t^T h_{t-1}: one product over all T * N rows
          const Tensor h_prev =
              T == 1 ? h_init.unsqueeze(0) : cat({h_init.unsqueeze(0), y.narrow(0, 0, T - 1).narrow(2, 0, H)}, 0);
          result[3] = matmul(ga2.t(), h_prev.reshape({T * N, H}));
        }
        if (needs[4] || needs[5]) {
          const Tensor gb = sum(ga2, {0});
          if (needs[4]) result[4] = gb;
          if (needs[5]) result[5] = gb;
        }
        return result;
      });
}

}  // namespace duel
