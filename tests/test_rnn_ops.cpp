// lstm_cell and lstm_sequence (tensor/ops/rnn.cpp, kernels/cpu/rnn.cpp). lstm_cell: forward against a scalar reference
// written here from the LSTM equations, the fused backward against finite differences
// (gradcheck) and against the op-by-op backward it replaces, second derivatives
// (gradgradcheck), float32 (the vectorised sigmoid / tanh) against float64, and errors. The
// whole nn::LSTM / nn::LSTMCell, which call it, is checked against PyTorch in
// tests/nn/test_nn_layers.cpp; the CUDA kernel runs in the emulator in tests/parity.
#include <catch2/catch.hpp>

#include <cmath>

#include "duel.h"
#include "tests/error_of.h"
#include "tests/fixture.h"

using namespace duel;
using namespace duel::test;

namespace {

double sigmoid_ref(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// [h' | c'] from the equations, one unit at a time; a = the pre-activations [N, 4H]
std::vector<double> lstm_reference(const std::vector<double>& a, const std::vector<double>& c, int64_t N, int64_t H) {
  std::vector<double> out(static_cast<size_t>(N * 2 * H));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < H; ++j) {
      const double* row = a.data() + n * 4 * H;
      const double i = sigmoid_ref(row[j]), f = sigmoid_ref(row[H + j]), g = std::tanh(row[2 * H + j]),
                   o = sigmoid_ref(row[3 * H + j]);
      const double c2 = f * c[n * H + j] + i * g;
      out[n * 2 * H + j] = o * std::tanh(c2);
      out[n * 2 * H + H + j] = c2;
    }
  return out;
}

// the composition nn/rnn.cpp used before the fused op
Tensor lstm_composite(const Tensor& xg, const Tensor& hg, const Tensor& c, const Tensor& bx, const Tensor& bh) {
  auto g = chunk(xg + bx + hg + bh, 4, 1);
  Tensor c2 = sigmoid(g[1]) * c + sigmoid(g[0]) * tanh(g[2]);
  return cat({sigmoid(g[3]) * tanh(c2), c2}, 1);
}

struct Inputs {
  Tensor xg, hg, c, bx, bh;
};
Inputs inputs(int64_t N, int64_t H, uint64_t salt) {
  return {det_values({N, 4 * H}, -3, 3, salt), det_values({N, 4 * H}, -1, 1, salt + 1), det_values({N, H}, -2, 2, salt + 2),
          det_values({4 * H}, -1, 1, salt + 3), det_values({4 * H}, -0.5, 0.5, salt + 4)};
}

}  // namespace

TEST_CASE("lstm_cell: forward matches the LSTM equations, with and without the optional terms", "[nn][rnn]") {
  for (int64_t H : {1, 5, 8, 13, 37}) {
    const int64_t N = 3;
    INFO("H " << H);
    Inputs in = inputs(N, H, 11);
    // the pre-activations summed here in double, row by row
    std::vector<double> xg = values_of(in.xg), hg = values_of(in.hg), bx = values_of(in.bx), bh = values_of(in.bh);
    std::vector<double> all = xg;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < 4 * H; ++k) all[n * 4 * H + k] += hg[n * 4 * H + k] + bx[k] + bh[k];
    const auto c = values_of(in.c);
    const auto expected = lstm_reference(all, c, N, H), expected_x = lstm_reference(xg, c, N, H);
    check_values(lstm_cell(in.xg, in.hg, in.c, in.bx, in.bh), expected, {N, 2 * H}, 1e-13, 1e-14, "float64");
    check_values(lstm_cell(in.xg, {}, in.c), expected_x, {N, 2 * H}, 1e-14, 1e-15, "float64, input gates only");
    // float32 takes the vectorised sigmoid and tanh for groups of 8
    auto f32 = [](const Tensor& t) { return t.to(kFloat32); };
    check_values(lstm_cell(f32(in.xg), f32(in.hg), f32(in.c), f32(in.bx), f32(in.bh)), expected, {N, 2 * H}, 1e-5,
                 1e-6, "float32");
  }
}

TEST_CASE("lstm_cell: saturated gates stay finite and exact", "[nn][rnn]") {
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor a = full({2, 4 * 9}, 60.0, TensorOptions(dt)), c = full({2, 9}, 0.5, TensorOptions(dt));
    a.narrow(0, 1, 1).fill_(-60.0);
    // all gates open: c' = c + tanh(60) = 1.5, h' = tanh(1.5); all closed: c' = 0, h' = 0
    std::vector<double> expected(36, 0.0);
    for (int j = 0; j < 9; ++j) {
      expected[j] = std::tanh(1.5);
      expected[9 + j] = 1.5;
    }
    check_values(lstm_cell(a, {}, c), expected, {2, 18}, 1e-6, 1e-7, dtype_name(dt));
  }
}

TEST_CASE("lstm_cell: gradcheck, the fused backward equals the composite one, gradgradcheck", "[nn][rnn]") {
  auto all = [](const TensorList& in) { return lstm_cell(in[0], in[1], in[2], in[3], in[4]); };
  auto x_only = [](const TensorList& in) { return lstm_cell(in[0], {}, in[1]); };
  for (int64_t H : {1, 6, 11}) {
    INFO("H " << H);
    Inputs in = inputs(4, H, 21);
    TensorList leaves;
    for (Tensor t : {in.xg, in.hg, in.c, in.bx, in.bh}) leaves.push_back(t.detach().requires_grad_());
    CHECK(gradcheck(all, leaves));
    CHECK(gradcheck(x_only, {leaves[0], leaves[2]}));
    CHECK(gradcheck(all, {noncontiguous_copy(in.xg).requires_grad_(), noncontiguous_copy(in.hg).requires_grad_(),
                          noncontiguous_copy(in.c).requires_grad_(), leaves[3], leaves[4]}));
    CHECK(gradgradcheck(all, leaves));

    // one backward through the fused kernel, one through the ops it replaces, same weights
    Tensor w = det_values({4, 2 * H}, -1, 1, 23);
    auto grads = [&](const std::function<Tensor(const TensorList&)>& op) {
      TensorList x;
      for (const Tensor& t : leaves) x.push_back(t.detach().requires_grad_());
      sum(op(x) * w).backward();
      TensorList g;
      for (const Tensor& t : x) g.push_back(t.grad());
      return g;
    };
    TensorList fused = grads(all);
    TensorList composite = grads([](const TensorList& x) { return lstm_composite(x[0], x[1], x[2], x[3], x[4]); });
    const char* names[] = {"d input gates", "d hidden gates", "d c", "d input bias", "d hidden bias"};
    for (size_t k = 0; k < fused.size(); ++k) check_close(fused[k], composite[k], 1e-13, 1e-14, names[k]);
  }
}

TEST_CASE("lstm_cell: float32 gradients agree with float64", "[nn][rnn]") {
  const int64_t N = 5, H = 19;
  Inputs in = inputs(N, H, 31);
  Tensor w = det_values({N, 2 * H}, -1, 1, 36);
  auto grads = [&](DType dt) {
    TensorList x;
    for (Tensor t : {in.xg, in.hg, in.c, in.bx, in.bh}) x.push_back(t.to(dt).detach().requires_grad_());
    sum(lstm_cell(x[0], x[1], x[2], x[3], x[4]) * w.to(dt)).backward();
    TensorList g;
    for (const Tensor& t : x) g.push_back(t.grad().to(kFloat64));
    return g;
  };
  TensorList g64 = grads(kFloat64), g32 = grads(kFloat32);
  for (size_t k = 0; k < g64.size(); ++k) check_close(g32[k], g64[k], 1e-5, 1e-5, "input " + std::to_string(k));
}

TEST_CASE("lstm_cell: errors name the op, the shapes and what was expected", "[nn][rnn][errors]") {
  Tensor a = zeros({3, 8}), c = zeros({3, 2});
  CHECK_THAT(error_of([&] { lstm_cell(zeros({3, 7}), {}, c); }),
             Catch::Contains("lstm_cell: expected input gates [N, 4H] and c [N, H], got input gates [3, 7] and c [3, 2]"));
  CHECK_THAT(error_of([&] { lstm_cell(a, {}, zeros({2, 2})); }), Catch::Contains("got input gates [3, 8] and c [2, 2]"));
  CHECK_THAT(error_of([&] { lstm_cell(zeros({8}), {}, c); }), Catch::Contains("expected input gates [N, 4H]"));
  CHECK_THAT(error_of([&] { lstm_cell(a, zeros({3, 4}), c); }),
             Catch::Contains("lstm_cell: expected the hidden gates of shape [3, 8], got [3, 4]"));
  CHECK_THAT(error_of([&] { lstm_cell(a, {}, c, zeros({7})); }),
             Catch::Contains("lstm_cell: expected the input bias of shape [8], got [7]"));
  CHECK_THAT(error_of([&] { lstm_cell(a, {}, c, {}, zeros({8}, kFloat64)); }),
             Catch::Contains("expected the hidden bias of dtype float32 (that of the input gates), got float64"));
  CHECK_THAT(error_of([&] { lstm_cell(a, {}, zeros({3, 2}, kFloat64)); }),
             Catch::Contains("expected c of dtype float32"));
  CHECK_THAT(error_of([&] { lstm_cell(zeros({3, 8}, kInt64), {}, zeros({3, 2}, kInt64)); }),
             Catch::Contains("lstm_cell: expected floating tensors, got int64"));
  CHECK_THAT(error_of([&] { lstm_cell(a, {}, c.to(Device("sim"))); }),
             Catch::Contains("lstm_cell: expected c on cpu (where the input gates are), got sim"));
}

// ---------------------------------------------------------------------------------------------
// lstm_sequence: a whole LSTM layer as one node. The reference is the loop nn::LSTM ran before,
// written here in the ops it used (matmul and lstm_cell per step); nn::LSTM, which now calls
// lstm_sequence, is also checked against PyTorch (tests/nn/test_nn_layers.cpp).

namespace {

Tensor lstm_loop(const Tensor& xg, const Tensor& h0, const Tensor& c0, const Tensor& w, const Tensor& bx,
                 const Tensor& bh) {
  const int64_t N = xg.size(1), H = w.size(1);
  Tensor h = h0.defined() ? h0 : zeros({N, H}, TensorOptions(xg.dtype()));
  Tensor c = c0.defined() ? c0 : zeros({N, H}, TensorOptions(xg.dtype()));
  std::vector<Tensor> out;
  for (int64_t t = 0; t < xg.size(0); ++t) {
    Tensor hc = lstm_cell(xg.select(0, t), matmul(h, w.t()), c, bx, bh);
    h = hc.narrow(1, 0, H);
    c = hc.narrow(1, H, H);
    out.push_back(hc);
  }
  return stack(out, 0);
}

struct SeqInputs {
  TensorList all;  // input gates [T, N, 4H], h0, c0 [N, H], W_hh [4H, H], the two biases [4H]
};
SeqInputs seq_inputs(int64_t T, int64_t N, int64_t H, uint64_t salt) {
  return {{det_values({T, N, 4 * H}, -2, 2, salt), det_values({N, H}, -1, 1, salt + 1),
           det_values({N, H}, -1.5, 1.5, salt + 2), det_values({4 * H, H}, -0.8, 0.8, salt + 3),
           det_values({4 * H}, -0.5, 0.5, salt + 4), det_values({4 * H}, -0.5, 0.5, salt + 5)}};
}

TensorList leaves_of(const TensorList& ts) {
  TensorList out;
  for (const Tensor& t : ts) out.push_back(t.defined() ? t.detach().requires_grad_() : Tensor());
  return out;
}

}  // namespace

TEST_CASE("lstm_sequence: forward and gradients equal the step-by-step loop", "[nn][rnn]") {
  for (auto [T, N, H] : {std::array<int64_t, 3>{1, 2, 3}, {5, 3, 4}, {7, 1, 9}}) {
    INFO("T " << T << " N " << N << " H " << H);
    SeqInputs in = seq_inputs(T, N, H, 40 + T);
    for (bool optional : {true, false}) {  // with and without h0, c0 and the biases
      INFO("optional inputs " << optional);
      TensorList x = in.all;
      if (!optional) x[1] = x[2] = x[4] = x[5] = Tensor();
      Tensor w = det_values({T, N, 2 * H}, -1, 1, 47);
      auto run = [&](bool fused) {
        TensorList l = leaves_of(x);
        Tensor y = fused ? lstm_sequence(l[0], l[1], l[2], l[3], l[4], l[5]) : lstm_loop(l[0], l[1], l[2], l[3], l[4], l[5]);
        sum(y * w).backward();
        TensorList r{y.detach()};
        for (const Tensor& t : l) r.push_back(t.defined() ? t.grad() : Tensor());
        return r;
      };
      TensorList fused = run(true), loop = run(false);
      const char* names[] = {"output", "d input gates", "d h0", "d c0", "d W_hh", "d input bias", "d hidden bias"};
      for (size_t k = 0; k < fused.size(); ++k) {
        if (!loop[k].defined()) continue;
        REQUIRE(fused[k].defined());
        check_close(fused[k], loop[k], 1e-12, 1e-13, names[k]);
      }
    }
  }
}

TEST_CASE("lstm_sequence: gradcheck and gradgradcheck (float64)", "[nn][rnn][gradcheck]") {
  auto f = [](const TensorList& a) { return lstm_sequence(a[0], a[1], a[2], a[3], a[4], a[5]); };
  SeqInputs in = seq_inputs(3, 2, 3, 61);
  TensorList l = leaves_of(in.all);
  CHECK(gradcheck(f, l));
  CHECK(gradgradcheck(f, l));
  // without the optional inputs, and from non-contiguous ones
  auto g = [](const TensorList& a) { return lstm_sequence(a[0], {}, {}, a[1]); };
  CHECK(gradcheck(g, {l[0], l[3]}));
  CHECK(gradgradcheck(g, {l[0], l[3]}));
  CHECK(gradcheck(f, {noncontiguous_copy(in.all[0]).requires_grad_(), l[1], noncontiguous_copy(in.all[2]).requires_grad_(),
                      noncontiguous_copy(in.all[3]).requires_grad_(), l[4], l[5]}));
}

TEST_CASE("lstm_sequence: float32 agrees with float64", "[nn][rnn]") {
  const int64_t T = 6, N = 4, H = 21;  // H not a multiple of the SIMD width
  SeqInputs in = seq_inputs(T, N, H, 71);
  Tensor w = det_values({T, N, 2 * H}, -1, 1, 77);
  auto run = [&](DType dt) {
    TensorList l;
    for (const Tensor& t : in.all) l.push_back(t.to(dt).detach().requires_grad_());
    Tensor y = lstm_sequence(l[0], l[1], l[2], l[3], l[4], l[5]);
    sum(y * w.to(dt)).backward();
    TensorList r{y.detach().to(kFloat64)};
    for (const Tensor& t : l) r.push_back(t.grad().to(kFloat64));
    return r;
  };
  TensorList r64 = run(kFloat64), r32 = run(kFloat32);
  for (size_t k = 0; k < r64.size(); ++k) check_close(r32[k], r64[k], 2e-5, 2e-5, "result " + std::to_string(k));
}

TEST_CASE("lstm_sequence: errors name the op, the shapes and what was expected", "[nn][rnn][errors]") {
  Tensor xg = zeros({4, 3, 8}), w = zeros({8, 2});
  CHECK_THAT(error_of([&] { lstm_sequence(xg, {}, {}, zeros({8, 3})); }),
             Catch::Contains("lstm_sequence: expected a hidden weight [4H, H], got [8, 3]"));
  CHECK_THAT(error_of([&] { lstm_sequence(zeros({3, 8}), {}, {}, w); }),
             Catch::Contains("lstm_sequence: expected input gates [T, N, 4H] = [T, N, 8] (T >= 1) for a hidden weight "
                             "[8, 2], got [3, 8]"));
  CHECK_THAT(error_of([&] { lstm_sequence(zeros({0, 3, 8}), {}, {}, w); }), Catch::Contains("got [0, 3, 8]"));
  CHECK_THAT(error_of([&] { lstm_sequence(xg, zeros({2, 2}), {}, w); }),
             Catch::Contains("lstm_sequence: expected h0 of shape [3, 2], got [2, 2]"));
  CHECK_THAT(error_of([&] { lstm_sequence(xg, {}, zeros({3, 2}, kFloat64), w); }),
             Catch::Contains("lstm_sequence: expected c0 of dtype float32 (that of the input gates), got float64"));
  CHECK_THAT(error_of([&] { lstm_sequence(xg, {}, {}, w, zeros({7})); }),
             Catch::Contains("lstm_sequence: expected the input bias of shape [8], got [7]"));
  CHECK_THAT(error_of([&] { lstm_sequence(xg, {}, {}, w.to(Device("sim"))); }),
             Catch::Contains("lstm_sequence: expected the hidden weight on cpu (where the input gates are), got sim"));
  CHECK_THAT(error_of([&] { lstm_sequence(zeros({4, 3, 8}, kInt64), {}, {}, zeros({8, 2}, kInt64)); }),
             Catch::Contains("lstm_sequence: expected floating tensors, got int64"));
}
