// LSTM / GRU. nn::LSTM runs each layer as one lstm_sequence op over the whole sequence (its
// input projections in one GEMM before it); nn::GRU and the cells run step by step, and GRU
// passes each layer's per-step outputs directly to the next layer (no stacking and re-slicing,
// so the backward pass does not scatter every step into a full-sequence buffer).
#include "nn/rnn.h"

#include <cmath>
#include <sstream>

#include "nn/init.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/linalg.h"
#include "tensor/ops/nn_ops.h"
#include "tensor/ops/shape_ops.h"

namespace duel::nn {
namespace {

LSTMState lstm_step(const Tensor& x, const Tensor& h, const Tensor& c, const Tensor& wih, const Tensor& whh,
                    const Tensor& bih, const Tensor& bhh) {
  // the two products, then the bias adds, the gates' nonlinearities and the state update in one
  // fused op (tensor/ops/rnn.cpp)
  Tensor hc = lstm_cell(matmul(x, wih.t()), matmul(h, whh.t()), c, bih, bhh);
  const int64_t H = c.size(1);
  return {hc.narrow(1, 0, H), hc.narrow(1, H, H)};
}

Tensor gru_step(const Tensor& x, const Tensor& h, const Tensor& wih, const Tensor& whh, const Tensor& bih,
                const Tensor& bhh) {
  auto gi = chunk(linear(x, wih, bih), 3, 1);
  auto gh = chunk(linear(h, whh, bhh), 3, 1);
  Tensor r = sigmoid(gi[0] + gh[0]);
  Tensor z = sigmoid(gi[1] + gh[1]);
  Tensor n = tanh(gi[2] + r * gh[2]);
  return n + z * (h - n);  // (1 - z) * n + z * h
}

void init_uniform(const std::vector<Tensor>& ts, int64_t hidden, Generator* gen) {
  double k = 1.0 / std::sqrt((double)hidden);
  for (auto& t : ts)
    if (t.defined()) init::uniform_(t, -k, k, gen);
}

// A cell's input as a batch: [I] -> [1, I].
Tensor cell_input(const Tensor& x, int64_t input_size, const char* name) {
  DUEL_CHECK((x.dim() == 1 || x.dim() == 2) && x.size(-1) == input_size, name, ": expected an input [N, ", input_size,
             "] or [", input_size, "], got shape ", shape_str(x.sizes()));
  return x.dim() == 1 ? x.unsqueeze(0) : x;
}

Tensor cell_state(const Tensor& s, const Tensor& x, int64_t hidden, bool unbatched, const char* name,
                  const char* what) {
  if (!s.defined()) return zeros({x.size(0), hidden}, TensorOptions(x.dtype(), x.device()));
  Tensor b = unbatched && s.dim() == 1 ? s.unsqueeze(0) : s;
  DUEL_CHECK(b.dim() == 2 && b.size(0) == x.size(0) && b.size(1) == hidden, name, ": expected ", what,
             " of shape [", x.size(0), ", ", hidden, "], got ", shape_str(s.sizes()));
  return b;
}

std::string tf(bool b) { return b ? "True" : "False"; }

}  // namespace

// ---------------------------------------------------------------- cells

LSTMCell::LSTMCell(int64_t in, int64_t hidden, bool bias, Generator* gen) : input_size(in), hidden_size(hidden) {
  DUEL_CHECK(in > 0 && hidden > 0, "LSTMCell: input_size and hidden_size must be positive, got ", in, " and ", hidden);
  weight_ih = register_parameter("weight_ih", empty({4 * hidden, in}));
  weight_hh = register_parameter("weight_hh", empty({4 * hidden, hidden}));
  if (bias) {
    bias_ih = register_parameter("bias_ih", empty({4 * hidden}));
    bias_hh = register_parameter("bias_hh", empty({4 * hidden}));
  }
  init_uniform({weight_ih, weight_hh, bias_ih, bias_hh}, hidden, gen);
}

Tensor LSTMCell::forward(const Tensor& x) { return forward(x, {}).first; }

LSTMState LSTMCell::forward(const Tensor& x_in, const LSTMState& state) {
  bool unbatched = x_in.dim() == 1;
  Tensor x = cell_input(x_in, input_size, "LSTMCell");
  Tensor h = cell_state(state.first, x, hidden_size, unbatched, "LSTMCell", "h");
  Tensor c = cell_state(state.second, x, hidden_size, unbatched, "LSTMCell", "c");
  auto [h2, c2] = lstm_step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh);
  if (unbatched) return {h2.squeeze(0), c2.squeeze(0)};
  return {h2, c2};
}

std::pair<Tensor, LSTMState> LSTMCell::forward_sequence(const Tensor& xs, const LSTMState& state) {
  DUEL_CHECK(xs.dim() == 3 && xs.size(0) > 0 && xs.size(2) == input_size,
             "LSTMCell::forward_sequence: expected a sequence [T, N, ", input_size, "] with T >= 1, got shape ",
             shape_str(xs.sizes()));
  const int64_t T = xs.size(0), H = hidden_size;
  Tensor hc = lstm_layer(xs, state.first, state.second, weight_ih, weight_hh, bias_ih, bias_hh);
  Tensor hs = hc.narrow(2, 0, H);
  return {hs, {hs.select(0, T - 1), hc.select(0, T - 1).narrow(1, H, H)}};
}

Tensor lstm_layer(const Tensor& xs, const Tensor& h0, const Tensor& c0, const Tensor& weight_ih,
                  const Tensor& weight_hh, const Tensor& bias_ih, const Tensor& bias_hh) {
  DUEL_CHECK(xs.dim() == 3 && weight_ih.dim() == 2 && xs.size(2) == weight_ih.size(1),
             "lstm_layer: expected a sequence [T, N, I] and an input weight [4H, I], got ", shape_str(xs.sizes()),
             " and ", shape_str(weight_ih.sizes()));
  return lstm_sequence(matmul(xs, weight_ih.t()), h0, c0, weight_hh, bias_ih, bias_hh);
}

std::string LSTMCell::extra_repr() const {
  return std::to_string(input_size) + ", " + std::to_string(hidden_size) + (bias_ih.defined() ? "" : ", bias=False");
}

GRUCell::GRUCell(int64_t in, int64_t hidden, bool bias, Generator* gen) : input_size(in), hidden_size(hidden) {
  DUEL_CHECK(in > 0 && hidden > 0, "GRUCell: input_size and hidden_size must be positive, got ", in, " and ", hidden);
  weight_ih = register_parameter("weight_ih", empty({3 * hidden, in}));
  weight_hh = register_parameter("weight_hh", empty({3 * hidden, hidden}));
  if (bias) {
    bias_ih = register_parameter("bias_ih", empty({3 * hidden}));
    bias_hh = register_parameter("bias_hh", empty({3 * hidden}));
  }
  init_uniform({weight_ih, weight_hh, bias_ih, bias_hh}, hidden, gen);
}

Tensor GRUCell::forward(const Tensor& x) { return forward(x, Tensor()); }

Tensor GRUCell::forward(const Tensor& x_in, const Tensor& h_in) {
  bool unbatched = x_in.dim() == 1;
  Tensor x = cell_input(x_in, input_size, "GRUCell");
  Tensor h = cell_state(h_in, x, hidden_size, unbatched, "GRUCell", "h");
  Tensor h2 = gru_step(x, h, weight_ih, weight_hh, bias_ih, bias_hh);
  return unbatched ? h2.squeeze(0) : h2;
}

std::string GRUCell::extra_repr() const {
  return std::to_string(input_size) + ", " + std::to_string(hidden_size) + (bias_ih.defined() ? "" : ", bias=False");
}

// ---------------------------------------------------------------- multi-layer

RNNBase::RNNBase(int64_t in, int64_t hidden, const RNNOptions& opt, int64_t gates, const char* name)
    : input_size(in), hidden_size(hidden), options(opt) {
  DUEL_CHECK(in > 0 && hidden > 0, name, ": input_size and hidden_size must be positive, got ", in, " and ", hidden);
  DUEL_CHECK(opt.num_layers >= 1, name, ": num_layers must be >= 1, got ", opt.num_layers);
  DUEL_CHECK(opt.dropout >= 0 && opt.dropout <= 1, name, ": dropout must be in [0, 1], got ", opt.dropout);
  std::vector<Tensor> all;
  for (int64_t l = 0; l < opt.num_layers; ++l) {
    std::string s = "_l" + std::to_string(l);
    int64_t layer_in = l == 0 ? in : hidden;
    weight_ih.push_back(register_parameter("weight_ih" + s, empty({gates * hidden, layer_in})));
    weight_hh.push_back(register_parameter("weight_hh" + s, empty({gates * hidden, hidden})));
    if (opt.bias) {
      bias_ih.push_back(register_parameter("bias_ih" + s, empty({gates * hidden})));
      bias_hh.push_back(register_parameter("bias_hh" + s, empty({gates * hidden})));
    } else {
      bias_ih.emplace_back();
      bias_hh.emplace_back();
    }
    all.insert(all.end(), {weight_ih.back(), weight_hh.back(), bias_ih.back(), bias_hh.back()});
  }
  init_uniform(all, hidden, opt.gen);
}

std::string RNNBase::extra_repr() const {
  std::ostringstream os;
  os << input_size << ", " << hidden_size;
  if (options.num_layers != 1) os << ", num_layers=" << options.num_layers;
  if (!options.bias) os << ", bias=False";
  if (options.batch_first) os << ", batch_first=True";
  if (options.dropout != 0) os << ", dropout=" << options.dropout;
  return os.str();
}

std::vector<Tensor> RNNBase::unbind_time(const Tensor& x, bool& unbatched, const char* name) const {
  const Tensor seq = time_major(x, unbatched, name);
  std::vector<Tensor> steps;
  for (int64_t t = 0; t < seq.size(0); ++t) steps.push_back(seq.select(0, t));
  return steps;
}

Tensor RNNBase::time_major(const Tensor& x, bool& unbatched, const char* name) const {
  DUEL_CHECK((x.dim() == 2 || x.dim() == 3) && x.size(-1) == input_size, name, ": expected an input ",
             options.batch_first ? "[N, T, " : "[T, N, ", input_size, "] (or unbatched [T, ", input_size,
             "]), got shape ", shape_str(x.sizes()));
  unbatched = x.dim() == 2;
  Tensor seq = unbatched ? x.unsqueeze(1) : (options.batch_first ? x.transpose(0, 1) : x);
  DUEL_CHECK(seq.size(0) > 0, name, ": the input has no time steps (shape ", shape_str(x.sizes()), ")");
  return seq;
}

Tensor RNNBase::stack_time(const std::vector<Tensor>& steps, bool unbatched) const {
  if (unbatched) return stack(steps, 0).squeeze(1);
  return stack(steps, options.batch_first ? 1 : 0);
}

Tensor RNNBase::initial_state(const Tensor& s, int64_t layer, int64_t batch, bool unbatched, const Tensor& like,
                              const char* what) const {
  if (!s.defined()) return zeros({batch, hidden_size}, TensorOptions(like.dtype(), like.device()));
  const int64_t L = options.num_layers;
  if (unbatched) {
    DUEL_CHECK(s.dim() == 2 && s.size(0) == L && s.size(1) == hidden_size, type_name(), ": expected ", what,
               " of shape [", L, ", ", hidden_size, "] for an unbatched input, got ", shape_str(s.sizes()));
    return s.select(0, layer).unsqueeze(0);
  }
  DUEL_CHECK(s.dim() == 3 && s.size(0) == L && s.size(1) == batch && s.size(2) == hidden_size, type_name(),
             ": expected ", what, " of shape [", L, ", ", batch, ", ", hidden_size, "], got ", shape_str(s.sizes()));
  return s.select(0, layer);
}

bool RNNBase::dropout_after(int64_t layer) const {
  return options.dropout > 0 && training_ && layer < options.num_layers - 1;
}

void RNNBase::dropout_between(std::vector<Tensor>& steps, int64_t layer) const {
  if (!dropout_after(layer)) return;
  for (auto& s : steps) s = dropout(s, options.dropout, true);
}

LSTM::LSTM(int64_t in, int64_t hidden, const RNNOptions& opt) : RNNBase(in, hidden, opt, 4, "LSTM") {}

Tensor LSTM::forward(const Tensor& x) { return forward_with_state(x).first; }

std::pair<Tensor, LSTMState> LSTM::forward_with_state(const Tensor& x, const LSTMState& state) {
  // The whole sequence per layer: the input projections of all T steps in one GEMM, then the
  // recurrence as one lstm_sequence node (tensor/ops/rnn.cpp), whose backward forms W_hh's
  // gradient in one GEMM too.
  bool unbatched = false;
  Tensor seq = time_major(x, unbatched, "LSTM");  // [T, N, input]
  const int64_t T = seq.size(0), batch = seq.size(1), H = hidden_size;
  std::vector<Tensor> hn, cn;
  for (int64_t l = 0; l < options.num_layers; ++l) {
    Tensor h = initial_state(state.first, l, batch, unbatched, x, "h0");
    Tensor c = initial_state(state.second, l, batch, unbatched, x, "c0");
    Tensor out = lstm_layer(seq, h, c, weight_ih[l], weight_hh[l], bias_ih[l], bias_hh[l]);  // [T, N, 2H]
    seq = out.narrow(2, 0, H);
    hn.push_back(seq.select(0, T - 1));
    cn.push_back(out.select(0, T - 1).narrow(1, H, H));
    if (dropout_after(l)) seq = dropout(seq, options.dropout, true);
  }
  Tensor h_n = stack(hn, 0), c_n = stack(cn, 0);
  if (unbatched) h_n = h_n.squeeze(1), c_n = c_n.squeeze(1);
  if (unbatched) return {seq.squeeze(1), {h_n, c_n}};
  return {options.batch_first ? seq.transpose(0, 1) : seq, {h_n, c_n}};
}

GRU::GRU(int64_t in, int64_t hidden, const RNNOptions& opt) : RNNBase(in, hidden, opt, 3, "GRU") {}

Tensor GRU::forward(const Tensor& x) { return forward_with_state(x).first; }

std::pair<Tensor, Tensor> GRU::forward_with_state(const Tensor& x, const Tensor& h0) {
  bool unbatched = false;
  std::vector<Tensor> steps = unbind_time(x, unbatched, "GRU");
  const int64_t batch = steps[0].size(0);
  std::vector<Tensor> hn;
  for (int64_t l = 0; l < options.num_layers; ++l) {
    Tensor h = initial_state(h0, l, batch, unbatched, x, "h0");
    for (auto& s : steps) {
      h = gru_step(s, h, weight_ih[l], weight_hh[l], bias_ih[l], bias_hh[l]);
      s = h;
    }
    hn.push_back(h);
    dropout_between(steps, l);
  }
  Tensor h_n = stack(hn, 0);
  if (unbatched) h_n = h_n.squeeze(1);
  return {stack_time(steps, unbatched), h_n};
}

}  // namespace duel::nn
