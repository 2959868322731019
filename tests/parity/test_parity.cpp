// Backend parity: ONE table of op cases (in the spirit of ggml's test-backend-ops) run
// on `cpu` (the reference) and on `sim` (the CUDA kernel sources of kernels/cuda/ run by
// the SIMT emulator), and on `cuda` when a GPU is present.
//
// Each case builds its inputs deterministically on the CPU (Philox-seeded values, int64
// indices, bool masks), moves them to the device (optionally as non-contiguous leaves:
// transposed storage written through copy_), runs the op, then the backward pass of
// loss = sum_k sum(out_k * w_k) with fixed weights w_k. Outputs and the gradients of
// every floating input are compared with the CPU run under the same tolerances for
// every device (float64: rtol 1e-9; float32: rtol 2e-4). Shapes are small but chosen to
// leave partial blocks and warps (1, 31, 33, 257, 1000 elements, odd images), and the
// op functions add non-contiguous views (permute / slice / transpose) and broadcasting.
//
// A second, smaller table checks the double-backward (gradient penalty) path: with
// g = d loss / d inputs computed with create_graph=true, penalty = sum(g * g) is
// backpropagated and the second-order gradients are compared.
//
// The emulator runs with a shuffled schedule (threads of a block in seeded random order
// between barriers, blocks in random order) and NaN poisoning of fresh device memory and
// dynamic shared memory, so a missing __syncthreads() or an output element a kernel
// forgets to write shows up as a mismatch.
//
// Debugging one kernel on the CPU: see docs/kernels.md
//   DUEL_SIM_WORKERS=1 gdb --args build/duel_tests "[parity]"
#include <catch2/catch.hpp>

#include "tests/skip.h"

#include <chrono>
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "duel.h"
#include "kernels/cuda/kernels.h"
#include "kernels/cuda/runtime.h"
#include "kernels/sim/runtime.h"
#include "tests/fixture.h"

namespace duel::test {
namespace {

// ------------------------------------------------------------------------ case table ----
struct In {
  Shape shape;
  double lo = -1.0, hi = 1.0;
  DType dtype = kFloat64;
  bool grad = true;        // a leaf that requires grad (floating only)
  bool noncontig = false;  // leaf with non-contiguous strides on the device
  int64_t index_range = 0; // > 0: int64 values in [0, index_range)
  bool mask = false;       // bool values
  double step = 0.0;       // > 0: values rounded to multiples of step (creates ties)
};

In F(Shape s, double lo = -1.0, double hi = 1.0) {
  In i;
  i.shape = std::move(s);
  i.lo = lo;
  i.hi = hi;
  return i;
}
In NC(Shape s, double lo = -1.0, double hi = 1.0) {
  In i = F(std::move(s), lo, hi);
  i.noncontig = true;
  return i;
}
In Const(Shape s, double lo = -1.0, double hi = 1.0) {  // floating, no grad
  In i = F(std::move(s), lo, hi);
  i.grad = false;
  return i;
}
In Ties(Shape s, double step = 0.25) {
  In i = F(std::move(s));
  i.step = step;
  return i;
}
In Idx(Shape s, int64_t range) {
  In i;
  i.shape = std::move(s);
  i.dtype = kInt64;
  i.grad = false;
  i.index_range = range;
  return i;
}
In Mask(Shape s) {
  In i;
  i.shape = std::move(s);
  i.dtype = kBool;
  i.grad = false;
  i.mask = true;
  return i;
}
In Int(Shape s, int64_t range = 100) {  // int64 data (not an index)
  In i = Idx(std::move(s), range);
  return i;
}

using Fn = std::function<TensorList(const TensorList&)>;

struct Case {
  std::string name;
  std::vector<In> ins;
  Fn fn;
  double rtol = 0, atol = 0;  // 0: by dtype
};

std::vector<Case>& table() {
  static std::vector<Case> t;
  return t;
}

// Adds a case in float64 and (with the "/f32" suffix) in float32.
void both(const std::string& name, std::vector<In> ins, Fn fn, double rtol32 = 0, double atol32 = 0) {
  table().push_back({name, ins, fn});
  for (auto& i : ins)
    if (i.dtype == kFloat64) i.dtype = kFloat32;
  table().push_back({name + "/f32", ins, fn, rtol32, atol32});
}
void f64(const std::string& name, std::vector<In> ins, Fn fn, double rtol = 0, double atol = 0) {
  table().push_back({name, std::move(ins), std::move(fn), rtol, atol});
}

Tensor T2(const Tensor& x) { return x.transpose(0, 1); }

void build_table() {
  if (!table().empty()) return;
  // ---- (a) elementwise: unary ops on partial-block sizes and a transposed view ----
  struct U {
    const char* name;
    double lo, hi;
    std::function<Tensor(const Tensor&)> f;
  };
  const std::vector<U> unary_ops = {
      {"neg", -1, 1, [](const Tensor& x) { return -x; }},
      {"exp", -2, 2, [](const Tensor& x) { return exp(x); }},
      {"log", 0.1, 3, [](const Tensor& x) { return log(x); }},
      {"log1p", -0.5, 2, [](const Tensor& x) { return log1p(x); }},
      {"sqrt", 0.1, 3, [](const Tensor& x) { return sqrt(x); }},
      {"rsqrt", 0.1, 3, [](const Tensor& x) { return rsqrt(x); }},
      {"abs", -1, 1, [](const Tensor& x) { return abs(x); }},
      {"sign", -1, 1, [](const Tensor& x) { return sign(x) * x; }},
      {"square", -1, 1, [](const Tensor& x) { return square(x); }},
      {"reciprocal", 0.5, 2, [](const Tensor& x) { return reciprocal(x); }},
      {"sin", -3, 3, [](const Tensor& x) { return sin(x); }},
      {"cos", -3, 3, [](const Tensor& x) { return cos(x); }},
      {"tanh", -3, 3, [](const Tensor& x) { return tanh(x); }},
      {"sigmoid", -6, 6, [](const Tensor& x) { return sigmoid(x); }},
      {"relu", -1, 1, [](const Tensor& x) { return relu(x); }},
      {"leaky_relu", -1, 1, [](const Tensor& x) { return leaky_relu(x, 0.1); }},
      {"softplus", -30, 30, [](const Tensor& x) { return softplus(x, 1.5, 20.0); }},
      {"clamp", -2, 2, [](const Tensor& x) { return clamp(x, -0.5, 0.7); }},
      {"pow_scalar", 0.1, 2, [](const Tensor& x) { return pow(x, 2.5); }},
      {"add_scalar", -1, 1, [](const Tensor& x) { return x + 3.0; }},
      {"mul_scalar", -1, 1, [](const Tensor& x) { return x * -1.5; }},
      {"elu", -2, 2, [](const Tensor& x) { return elu(x, 0.7); }},
  };
  for (const auto& u : unary_ops) {
    auto f = u.f;
    both(std::string("unary/") + u.name + "[1]", {F({1}, u.lo, u.hi)}, [f](const TensorList& a) { return TensorList{f(a[0])}; });
    both(std::string("unary/") + u.name + "[257]", {F({257}, u.lo, u.hi)},
         [f](const TensorList& a) { return TensorList{f(a[0])}; });
    f64(std::string("unary/") + u.name + "[31x33]^T", {F({31, 33}, u.lo, u.hi)},
        [f](const TensorList& a) { return TensorList{f(T2(a[0]))}; });
  }
  f64("unary/logical_not", {Mask({33})}, [](const TensorList& a) { return TensorList{logical_not(a[0])}; });
  f64("unary/int64_ops", {Int({31, 3})}, [](const TensorList& a) {
    return TensorList{-a[0], abs(a[0] - 50.0), clamp(a[0], 10, 60), a[0] * 3.0, sign(a[0] - 50.0), relu(a[0] - 50.0)};
  });

  // ---- binary ops with broadcasting and non-contiguous operands ----
  struct B {
    const char* name;
    double lo, hi;
    std::function<Tensor(const Tensor&, const Tensor&)> f;
  };
  const std::vector<B> binary_ops = {
      {"add", -1, 1, [](const Tensor& a, const Tensor& b) { return a + b; }},
      {"add_alpha", -1, 1, [](const Tensor& a, const Tensor& b) { return add(a, b, -0.75); }},
      {"sub", -1, 1, [](const Tensor& a, const Tensor& b) { return a - b; }},
      {"mul", -1, 1, [](const Tensor& a, const Tensor& b) { return a * b; }},
      {"div", 0.5, 2, [](const Tensor& a, const Tensor& b) { return a / b; }},
      {"pow", 0.5, 2, [](const Tensor& a, const Tensor& b) { return pow(a, b); }},
      {"maximum", -1, 1, [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
      {"minimum", -1, 1, [](const Tensor& a, const Tensor& b) { return minimum(a, b); }},
  };
  for (const auto& b : binary_ops) {
    auto f = b.f;
    both(std::string("binary/") + b.name + "[33]", {F({33}, b.lo, b.hi), F({33}, b.lo, b.hi)},
         [f](const TensorList& a) { return TensorList{f(a[0], a[1])}; });
    both(std::string("binary/") + b.name + "[31x33]+[33]", {F({31, 33}, b.lo, b.hi), F({33}, b.lo, b.hi)},
         [f](const TensorList& a) { return TensorList{f(a[0], a[1])}; });
    f64(std::string("binary/") + b.name + "[4,1,5]x[1,3,5]", {F({4, 1, 5}, b.lo, b.hi), F({1, 3, 5}, b.lo, b.hi)},
        [f](const TensorList& a) { return TensorList{f(a[0], a[1])}; });
    f64(std::string("binary/") + b.name + "^T x [1]", {NC({7, 9}, b.lo, b.hi), F({1}, b.lo, b.hi)},
        [f](const TensorList& a) { return TensorList{f(T2(a[0]), a[1])}; });
    f64(std::string("binary/") + b.name + "[1000] sliced", {F({2000}, b.lo, b.hi), F({1000}, b.lo, b.hi)},
        [f](const TensorList& a) { return TensorList{f(a[0].slice(0, 1, 2000, 2), a[1])}; });
  }
  f64("binary/comparisons", {Ties({31, 5}), Ties({5})}, [](const TensorList& a) {
    return TensorList{eq(a[0], a[1]), ne(a[0], a[1]), lt(a[0], a[1]), le(a[0], a[1]), gt(a[0], a[1]), ge(a[0], a[1])};
  });
  f64("binary/logical", {Mask({31, 5}), Mask({5})}, [](const TensorList& a) {
    return TensorList{logical_and(a[0], a[1]), logical_or(a[0], a[1])};
  });
  f64("binary/int64", {Int({9, 4}), Int({4}, 7)}, [](const TensorList& a) {
    return TensorList{a[0] + a[1], a[0] * a[1], maximum(a[0], a[1]), a[0] < a[1]};
  });
  both("where[31x33]", {Mask({31, 1}), F({31, 33}), F({33})},
       [](const TensorList& a) { return TensorList{where(a[0], a[1], a[2])}; });
  f64("masked_fill^T", {Mask({5, 7}), NC({7, 5})},
      [](const TensorList& a) { return TensorList{masked_fill(T2(a[1]), a[0], -2.5)}; });
  f64("cast", {F({33, 2}, -5, 5)}, [](const TensorList& a) {
    return TensorList{a[0].to(kFloat32), T2(a[0]).to(kInt64), (a[0] > 0.0).to(kFloat64), a[0].to(kFloat32).to(kFloat64),
                      T2(a[0]).contiguous()};
  });
  f64("fill/full_like", {F({31, 3})}, [](const TensorList& a) {
    return TensorList{a[0] * full_like(a[0], 2.5), zeros_like(a[0]), ones({4, 2}, TensorOptions(kInt64, a[0].device())),
                      full({3}, 1.0, TensorOptions(kBool, a[0].device()))};
  });
  f64("inplace ops on views", {Const({8, 33})}, [](const TensorList& a) {
    NoGradGuard ng;
    Tensor y = a[0].clone();
    y.slice(1, 0, 33, 3).mul_(2.0).add_(1.0);
    Tensor v = T2(y).slice(0, 1, 20, 2);
    v.clamp_(-0.5, 0.5);
    v.add_(a[0].narrow(1, 3, 8).narrow(0, 2, 1), 0.5);  // [10, 8] += [1, 8]
    y.select(0, 3).fill_(7.0);
    y.narrow(0, 5, 2).copy_(a[0].narrow(1, 0, 33).narrow(0, 0, 1));
    y.slice(0, 0, 8, 4).zero_();
    return TensorList{y};
  });
  both("cat/stack/pad/flip", {F({3, 5}), NC({5, 3}), F({2, 5})}, [](const TensorList& a) {
    return TensorList{cat({a[0], T2(a[1]), a[2]}, 0), stack({a[0], T2(a[1])}, 1), pad(a[0], {1, 2, 0, 1}),
                      flip(T2(a[1]), {0, 1}), repeat(a[2], {2, 1})};
  });

  // ---- (b) reductions ----
  both("sum/all[1000]", {F({1000})}, [](const TensorList& a) { return TensorList{sum(a[0])}; });
  both("sum/all[40000] split", {F({40000})}, [](const TensorList& a) { return TensorList{sum(a[0])}; }, 2e-4, 1e-4);
  both("sum/dims", {F({5, 33, 7})}, [](const TensorList& a) {
    return TensorList{sum(a[0], {0}), sum(a[0], {1}, true), sum(a[0], {0, 2}), sum(a[0], {2}), sum(a[0], {-1, 0}, true)};
  });
  both("sum/permuted", {NC({33, 257})}, [](const TensorList& a) {
    return TensorList{sum(T2(a[0]), {1}), sum(T2(a[0]), {0}), sum(a[0].slice(1, 0, 257, 3), {1})};
  });
  both("mean/var/std", {F({6, 31, 4})}, [](const TensorList& a) {
    return TensorList{mean(a[0], {1}), var(a[0], {0, 2}), std(a[0], {1}, false, true), mean(a[0])};
  });
  both("amax/amin ties", {Ties({7, 33, 3})}, [](const TensorList& a) {
    return TensorList{amax(a[0], {1}), amin(a[0], {0, 2}), amax(a[0]), amin(a[0], {2}, true)};
  });
  both("max/min along dim", {Ties({9, 300})}, [](const TensorList& a) {
    auto mx = max(a[0], 1), mn = min(a[0], 0, true), mx0 = max(T2(a[0]), 1);
    return TensorList{mx.first, mx.second, mn.first, mn.second, mx0.first, mx0.second,
                      argmax(a[0].slice(1, 0, 33), 1), argmin(a[0], 0)};
  });
  both("logsumexp/norm", {F({5, 257})}, [](const TensorList& a) {
    return TensorList{logsumexp(a[0], {1}), norm(a[0], 2.0, {1}), norm(a[0], 1.0, {0}), norm(a[0])};
  });
  f64("sum/int64 bool", {Int({33, 5}), Mask({33, 5})}, [](const TensorList& a) {
    return TensorList{sum(a[0], {0}), sum(a[1], {1}), sum(a[0]), amax(a[0], {1}), amin(a[1], {0})};
  });

  // ---- (c) index ops and matmul ----
  both("gather", {F({6, 9}), Idx({6, 4}, 9)}, [](const TensorList& a) { return TensorList{gather(a[0], 1, a[1])}; });
  both("gather dim0 ^T", {NC({7, 5}), Idx({3, 7}, 5)},
       [](const TensorList& a) { return TensorList{gather(T2(a[0]), 0, a[1])}; });
  both("scatter_add", {F({5, 8}), Idx({5, 12}, 8), F({5, 12})},
       [](const TensorList& a) { return TensorList{scatter_add(a[0], 1, a[1], a[2])}; });
  f64("scatter_add int64", {Int({4, 3}), Idx({9, 3}, 4), Int({9, 3})},
      [](const TensorList& a) { return TensorList{scatter_add(a[0], 0, a[1], a[2])}; });
  both("index_select", {F({7, 33}), Idx({12}, 7)}, [](const TensorList& a) {
    return TensorList{index_select(a[0], 0, a[1]), index_select(T2(a[0]), 1, a[1])};
  });
  both("index_add", {F({4, 7, 3}), Idx({9}, 7), F({4, 9, 3})},
       [](const TensorList& a) { return TensorList{index_add(a[0], 1, a[1], a[2])}; });
  both("embedding/one_hot", {Idx({3, 5}, 10), F({10, 33})}, [](const TensorList& a) {
    return TensorList{embedding(a[0], a[1]), one_hot(a[0], 10, a[1].dtype()) * 2.0};
  });
  both("cross_entropy", {F({33, 10}, -3, 3), Idx({33}, 10)},
       [](const TensorList& a) { return TensorList{cross_entropy(a[0], a[1]), cross_entropy(a[0], a[1], Reduction::Sum, 0.1)}; });
  both("matmul[33x31]x[31x17]", {F({33, 31}), F({31, 17})},
       [](const TensorList& a) { return TensorList{matmul(a[0], a[1])}; });
  both("matmul K=257", {F({9, 257}), F({257, 70})}, [](const TensorList& a) { return TensorList{matmul(a[0], a[1])}; },
       5e-4, 5e-5);
  both("matmul transposed", {NC({31, 33}), F({17, 31})}, [](const TensorList& a) {
    return TensorList{matmul(T2(a[0]), T2(a[1])), matmul(a[1], a[0])};
  });
  both("matmul batched/broadcast", {F({3, 5, 7}), F({7, 9}), F({2, 1, 9, 4})}, [](const TensorList& a) {
    return TensorList{matmul(a[0], a[1]), matmul(matmul(a[0], a[1]), a[2]), matmul(a[0].permute({0, 2, 1}), a[0])};
  });
  both("matmul vector", {F({31}), F({31, 65}), F({65})}, [](const TensorList& a) {
    return TensorList{matmul(a[0], a[1]), matmul(a[1], a[2]), matmul(a[0], a[0])};
  });
  both("linear", {F({4, 33}), F({65, 33}), F({65})},
       [](const TensorList& a) { return TensorList{linear(a[0], a[1], a[2])}; });
  both("upsample_bilinear2d", {F({2, 3, 5, 4})},
       [](const TensorList& a) { return TensorList{upsample_bilinear2d(a[0], 7, 9), upsample_nearest2d(a[0], 2)}; });

  // ---- the fused LSTM cell (H = 33: a partial warp and block; gates as a transposed view) ----
  both("lstm_cell", {F({5, 4 * 33}, -3, 3), F({5, 4 * 33}), F({5, 33}, -2, 2), F({4 * 33}), F({4 * 33})},
       [](const TensorList& a) { return TensorList{lstm_cell(a[0], a[1], a[2], a[3], a[4])}; });
  both("lstm_cell ^T, no hidden gates or biases", {NC({4 * 7, 3}, -3, 3), F({3, 7})}, [](const TensorList& a) {
    return TensorList{lstm_cell(T2(a[0]), {}, a[1]) * 2.0};
  });
  // a whole layer: the emulated matmul and cell kernels called step by step, forward and reverse
  both("lstm_sequence", {F({6, 5, 4 * 33}, -2, 2), F({5, 33}), F({5, 33}), F({4 * 33, 33}, -0.3, 0.3), F({4 * 33}),
                         F({4 * 33})},
       [](const TensorList& a) { return TensorList{lstm_sequence(a[0], a[1], a[2], a[3], a[4], a[5])}; });

  // ---- (d) softmax, batch norm ----
  both("softmax rows", {F({9, 1000}, -5, 5)}, [](const TensorList& a) {
    return TensorList{softmax(a[0], 1), log_softmax(a[0], -1)};
  });
  both("softmax rows D=33 ^T", {NC({33, 31}, -5, 5)}, [](const TensorList& a) {
    return TensorList{softmax(T2(a[0]), 1), log_softmax(T2(a[0]), 1)};
  });
  both("softmax inner", {F({2, 7, 5, 3}, -5, 5)}, [](const TensorList& a) {
    return TensorList{softmax(a[0], 1), log_softmax(a[0], 2)};
  });
  both("batch_norm train 4d", {F({4, 3, 5, 7}, -2, 3), F({3}, 0.5, 1.5), F({3})}, [](const TensorList& a) {
    Tensor rm = zeros({3}, TensorOptions(a[0].dtype(), a[0].device()));
    Tensor rv = ones({3}, TensorOptions(a[0].dtype(), a[0].device()));
    Tensor y = batch_norm(a[0], a[1], a[2], rm, rv, true, 0.1, 1e-5);
    return TensorList{y, rm, rv};
  });
  both("batch_norm train 2d no affine", {F({33, 5}, 10, 12)},
       [](const TensorList& a) { return TensorList{batch_norm(a[0], {}, {}, {}, {}, true)}; }, 1e-3, 1e-4);
  both("batch_norm eval", {F({4, 3, 2, 2}), F({3}), F({3})}, [](const TensorList& a) {
    Tensor rm = full({3}, 0.1, TensorOptions(a[0].dtype(), a[0].device()));
    Tensor rv = full({3}, 2.0, TensorOptions(a[0].dtype(), a[0].device()));
    return TensorList{batch_norm(a[0], a[1], a[2], rm, rv, false)};
  });
  both("layer_norm/instance_norm", {F({3, 4, 33}), F({33}), F({33})}, [](const TensorList& a) {
    return TensorList{layer_norm(a[0], {33}, a[1], a[2]), instance_norm(a[0])};
  });

  // ---- (e) pooling ----
  both("max_pool2d k3 s2 p1", {F({2, 3, 9, 9})}, [](const TensorList& a) {
    Pool2dOptions o;
    o.kernel = {3, 3};
    o.stride = {2, 2};
    o.padding = {1, 1};
    auto r = max_pool2d_with_indices(a[0], o);
    return TensorList{r.first, r.second};
  });
  both("max_pool2d ties k2 ^T", {Ties({2, 3, 7, 8})}, [](const TensorList& a) {
    Pool2dOptions o;
    return TensorList{max_pool2d(a[0].transpose(2, 3), o)};
  });
  both("avg_pool2d k3 s2 p1", {F({2, 3, 9, 8})}, [](const TensorList& a) {
    Pool2dOptions o;
    o.kernel = {3, 3};
    o.stride = {2, 2};
    o.padding = {1, 1};
    Pool2dOptions e = o;
    e.count_include_pad = false;
    return TensorList{avg_pool2d(a[0], o), avg_pool2d(a[0], e)};
  });
  both("avg_pool2d k2x3 s1", {F({1, 2, 5, 33})}, [](const TensorList& a) {
    Pool2dOptions o;
    o.kernel = {2, 3};
    o.stride = {1, 1};
    return TensorList{avg_pool2d(a[0], o)};
  });

  // ---- (f) convolutions ----
  both("conv2d 3x3 p1", {F({2, 4, 9, 9}), F({6, 4, 3, 3}), F({6})}, [](const TensorList& a) {
    return TensorList{conv2d(a[0], a[1], a[2], Conv2dOptions().set_padding(1))};
  });
  both("conv2d s2 d2 g2", {F({2, 4, 11, 10}), F({6, 2, 3, 3})}, [](const TensorList& a) {
    Conv2dOptions o;
    o.stride = {2, 1};
    o.padding = {2, 1};
    o.dilation = {2, 1};
    o.groups = 2;
    return TensorList{conv2d(a[0], a[1], {}, o)};
  });
  both("conv2d 1x1 ^T input", {NC({3, 5, 4, 6}), F({7, 5, 1, 1})}, [](const TensorList& a) {
    return TensorList{conv2d(a[0], a[1])};
  });
  both("conv2d 70 channels", {F({1, 70, 5, 5}), F({65, 70, 3, 3})}, [](const TensorList& a) {
    return TensorList{conv2d(a[0], a[1], {}, Conv2dOptions().set_padding(1))};
  }, 5e-4, 5e-5);
  both("conv_transpose2d s2 op1", {F({2, 4, 5, 5}), F({4, 3, 3, 3}), F({3})}, [](const TensorList& a) {
    Conv2dOptions o;
    o.stride = {2, 2};
    o.padding = {1, 1};
    o.output_padding = {1, 1};
    return TensorList{conv_transpose2d(a[0], a[1], a[2], o)};
  });
  both("conv_transpose2d g2 d2", {F({1, 4, 4, 3}), F({4, 2, 2, 3})}, [](const TensorList& a) {
    Conv2dOptions o;
    o.groups = 2;
    o.dilation = {2, 1};
    o.stride = {1, 2};
    return TensorList{conv_transpose2d(a[0], a[1], {}, o)};
  });
  both("conv1d", {F({2, 3, 33}), F({4, 3, 5})}, [](const TensorList& a) {
    Conv1dOptions o;
    o.stride = 2;
    o.padding = 2;
    return TensorList{conv1d(a[0], a[1], {}, o)};
  });
  both("dropout (same Philox stream)", {F({33, 7})}, [](const TensorList& a) { return TensorList{dropout(a[0], 0.3, true)}; });
  both("losses", {F({31, 4}, 0.05, 0.95), F({31, 4}, 0.0, 1.0)}, [](const TensorList& a) {
    return TensorList{mse_loss(a[0], a[1]), l1_loss(a[0], a[1], Reduction::Sum), huber_loss(a[0], a[1], 0.3),
                      binary_cross_entropy(a[0], a[1]), binary_cross_entropy_with_logits(a[0], a[1])};
  });
}

// Double-backward (gradient penalty) cases.
std::vector<Case>& penalty_table() {
  static std::vector<Case> t;
  if (!t.empty()) return t;
  t.push_back({"gp/conv2d", {F({2, 3, 6, 6}), F({4, 3, 3, 3}), F({4})}, [](const TensorList& a) {
                 return TensorList{conv2d(a[0], a[1], a[2], Conv2dOptions().set_padding(1).set_stride(2))};
               }});
  t.push_back({"gp/conv_transpose2d", {F({2, 4, 4, 4}), F({4, 3, 3, 3})}, [](const TensorList& a) {
                 Conv2dOptions o;
                 o.stride = {2, 2};
                 o.padding = {1, 1};
                 o.output_padding = {1, 1};
                 return TensorList{conv_transpose2d(a[0], a[1], {}, o)};
               }});
  t.push_back({"gp/batch_norm train", {F({6, 3, 2, 3}, -1, 2), F({3}, 0.5, 1.5), F({3})}, [](const TensorList& a) {
                 return TensorList{batch_norm(a[0], a[1], a[2], {}, {}, true)};
               }});
  t.push_back({"gp/leaky_relu mlp", {F({9, 33}), F({17, 33}), F({17})}, [](const TensorList& a) {
                 return TensorList{leaky_relu(linear(a[0], a[1], a[2]), 0.2)};
               }});
  t.push_back({"gp/sum mean", {F({5, 33})}, [](const TensorList& a) {
                 return TensorList{sum(a[0] * a[0], {1}), mean(a[0] * a[0] * a[0], {0})};
               }});
  t.push_back({"gp/pow sqrt", {F({33}, 0.2, 2.0)}, [](const TensorList& a) {
                 return TensorList{pow(a[0], 3.0), sqrt(a[0]) * a[0]};
               }});
  t.push_back({"gp/norm", {F({4, 33}), F({33})}, [](const TensorList& a) {
                 return TensorList{norm(a[0] - a[1], 2.0, {1}), norm(a[0])};
               }});
  t.push_back({"gp/lstm_cell", {F({3, 4 * 5}, -2, 2), F({3, 4 * 5}), F({3, 5}), F({4 * 5})}, [](const TensorList& a) {
                 return TensorList{lstm_cell(a[0], a[1], a[2], a[3])};
               }});
  t.push_back({"gp/lstm_sequence", {F({3, 2, 4 * 5}, -2, 2), F({2, 5}), F({2, 5}), F({4 * 5, 5}), F({4 * 5})},
               [](const TensorList& a) { return TensorList{lstm_sequence(a[0], a[1], a[2], a[3], a[4])}; }});
  t.push_back({"gp/softmax pool", {F({2, 3, 6, 6})}, [](const TensorList& a) {
                 Pool2dOptions o;
                 return TensorList{softmax(avg_pool2d(a[0], o), 1), max_pool2d(a[0] * a[0], o)};
               }});
  return t;
}

// ------------------------------------------------------------------------ running ----
uint64_t hash_name(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (char c : s) h = (h ^ (uint8_t)c) * 1099511628211ull;
  return h;
}

// The input on the CPU (deterministic in the case name and the input's position).
Tensor make_cpu_input(const In& in, uint64_t seed) {
  Generator gen(seed);
  if (in.index_range > 0) return randint(0, in.index_range, in.shape, &gen);
  if (in.mask) return uniform(in.shape, 0, 1, TensorOptions(kFloat64), &gen) > 0.5;
  Tensor t = uniform(in.shape, in.lo, in.hi, TensorOptions(kFloat64), &gen);
  if (in.step > 0) t = (t / in.step).to(kInt64).to(kFloat64) * in.step;
  return t.to(in.dtype);
}

// t (on the CPU) as a leaf on `dev`, stored non-contiguously when asked: reversed dims
// with the innermost doubled and read with step 2, written through copy_.
Tensor to_device_leaf(const Tensor& t, Device dev, bool noncontig) {
  NoGradGuard ng;
  if (!noncontig || t.dim() == 0) return t.to(dev).detach();
  const int64_t n = t.dim();
  Shape rev(t.sizes().rbegin(), t.sizes().rend());
  rev[0] *= 2;
  std::vector<int64_t> perm(n);
  for (int64_t i = 0; i < n; ++i) perm[i] = n - 1 - i;
  Tensor base = zeros(rev, TensorOptions(t.dtype(), dev));
  Tensor v = base.permute(perm).slice(n - 1, 0, 2 * t.size(-1), 2).detach();
  v.copy_(t);
  return v;
}

struct Run {
  TensorList outs;   // on the CPU
  TensorList grads;  // per input (undefined when not floating / no grad)
};

Run run_case(const Case& c, Device dev, bool penalty) {
  manual_seed(4242);  // ops that draw random numbers (dropout) see the same stream
  const uint64_t base_seed = hash_name(c.name);
  TensorList leaves;
  for (size_t i = 0; i < c.ins.size(); ++i) {
    Tensor t = to_device_leaf(make_cpu_input(c.ins[i], base_seed + i), dev, c.ins[i].noncontig);
    if (c.ins[i].grad && is_floating(t.dtype())) t.requires_grad_();
    leaves.push_back(t);
  }
  TensorList outs = c.fn(leaves);
  Tensor loss;
  for (size_t k = 0; k < outs.size(); ++k) {
    const Tensor& o = outs[k];
    if (!o.defined() || !is_floating(o.dtype()) || !o.requires_grad()) continue;
    Generator gen(base_seed ^ (0x9e3779b97f4a7c15ull * (k + 1)));
    Tensor w = uniform(o.sizes(), -1, 1, TensorOptions(kFloat64), &gen).to(o.dtype()).to(dev);
    Tensor term = sum(o * w);
    loss = loss.defined() ? loss + term : term;
  }
  Run r;
  for (auto& o : outs) r.outs.push_back(o.defined() ? o.detach().to(kCPU) : Tensor());
  if (loss.defined()) {
    if (!penalty) {
      loss.backward();
    } else {
      TensorList gl;
      for (auto& l : leaves)
        if (l.requires_grad()) gl.push_back(l);
      TensorList g = autograd::grad({loss}, gl, {}, /*create_graph=*/true, /*allow_unused=*/true);
      Tensor p;
      for (auto& gi : g) {
        if (!gi.defined() || !gi.requires_grad()) continue;
        Tensor term = sum(gi * gi);
        p = p.defined() ? p + term : term;
      }
      if (p.defined()) {
        r.outs.push_back(p.detach().to(kCPU));
        p.backward();
      }
    }
  }
  for (auto& l : leaves) r.grads.push_back(l.grad().defined() ? l.grad().to(kCPU) : Tensor());
  return r;
}

void tolerances(const Case& c, double& rtol, double& atol) {
  bool f32 = false;
  for (auto& i : c.ins) f32 |= i.dtype == kFloat32;
  rtol = f32 ? 2e-4 : 1e-9;
  atol = f32 ? 2e-5 : 1e-11;
  if (c.rtol > 0) rtol = c.rtol;
  if (c.atol > 0) atol = c.atol;
}

void compare(const std::string& what, const Tensor& got, const Tensor& want, double rtol, double atol) {
  if (!want.defined() || !got.defined()) {
    CHECK(want.defined() == got.defined());
    return;
  }
  CHECK(got.dtype() == want.dtype());
  const bool exact = !is_floating(want.dtype());
  check_close(got, want, exact ? 0.0 : rtol, exact ? 0.0 : atol, what);
}

// Runs every case on `dev` and compares with the CPU. Returns the number of cases run.
int run_table(const std::vector<Case>& cases, Device dev, bool penalty, const std::string& filter = "") {
  int n = 0;
  for (const Case& c : cases) {
    if (!filter.empty() && c.name.find(filter) == std::string::npos) continue;
    ++n;
    double rtol, atol;
    tolerances(c, rtol, atol);
    if (penalty && rtol < 1e-8) rtol = 1e-8, atol = 1e-10;
    Run want, got;
    try {
      want = run_case(c, kCPU, penalty);
    } catch (const std::exception& e) {
      FAIL_CHECK(c.name << " on cpu threw: " << e.what());
      continue;
    }
    try {
      got = run_case(c, dev, penalty);
    } catch (const std::exception& e) {
      FAIL_CHECK(c.name << " on " << dev.str() << " threw: " << e.what());
      continue;
    }
    REQUIRE(got.outs.size() == want.outs.size());
    for (size_t k = 0; k < want.outs.size(); ++k)
      compare(c.name + " [" + dev.str() + "] output " + std::to_string(k), got.outs[k], want.outs[k], rtol, atol);
    for (size_t k = 0; k < want.grads.size(); ++k)
      compare(c.name + " [" + dev.str() + "] grad of input " + std::to_string(k), got.grads[k], want.grads[k], rtol,
              atol);
  }
  return n;
}

// Emulator settings of the parity runs: shuffled schedule, NaN poisoning.
sim::Options parity_sim_options() {
  sim::Options o = sim::options();
  o.schedule_seed = 0x5eedf00d;
  o.poison = true;
  return o;
}

}  // namespace

TEST_CASE("parity: sim vs cpu, forward and backward", "[parity]") {
  build_table();
  sim::ScopedOptions scoped(parity_sim_options());
  const size_t live = sim::live_device_buffers();
  sim::reset_stats();
  const auto t0 = std::chrono::steady_clock::now();
  const int n = run_table(table(), Device("sim"), false);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(n == static_cast<int>(table().size()));
  CHECK(sim::live_device_buffers() == live);  // no leaked device tensors
  const sim::Stats st = sim::stats();
  CHECK(st.kernels_launched > 1000);  // the sim kernels did run
  CHECK(st.barriers > 0);             // including the block-cooperative ones
  WARN("parity: " << n << " cases on sim in " << secs << " s (" << st.kernels_launched << " kernel launches, "
                  << st.blocks << " blocks, " << st.barriers << " block barriers)");
}

TEST_CASE("parity: sim vs cpu, double backward", "[parity]") {
  sim::ScopedOptions scoped(parity_sim_options());
  const int n = run_table(penalty_table(), Device("sim"), true);
  CHECK(n == static_cast<int>(penalty_table().size()));
}

TEST_CASE("parity: sim device basics", "[parity]") {
  sim::ScopedOptions scoped(parity_sim_options());
  Tensor z = zeros({2, 3}, TensorOptions(kFloat32, Device("sim")));
  CHECK(z.device() == Device("sim"));
  CHECK(sim::is_device_pointer(z.raw_data(), 2 * 3 * 4));
  CHECK(z.to_vector<double>() == std::vector<double>(6, 0.0));
  Tensor a = tensor({{1, 2, 3}, {4, 5, 6}}).to(Device("sim"));
  CHECK(a.device().type == DeviceType::Sim);
  CHECK((a + z).sum().item() == 21.0);
  // out-of-range indices throw like the CPU backend, before anything is written
  Tensor idx = from_vector(std::vector<int64_t>{0, 3}, {2}, TensorOptions(kInt64)).to(Device("sim"));
  CHECK_THROWS_WITH(index_select(a, 1, idx), Catch::Contains("index 3 is out of bounds for dim 1 of size 3"));
}

TEST_CASE("parity: Philox stream on the device", "[parity]") {
  sim::ScopedOptions scoped(parity_sim_options());
  for (int64_t n : {1, 7, 33, 1000}) {
    for (DType dt : {kFloat32, kFloat64}) {
      Generator g(1234);
      g.advance(13);  // a non-zero offset
      const uint64_t seed = g.seed(), offset = g.offset();
      Tensor want = uniform({n}, -2.0, 3.0, TensorOptions(dt), &g);
      Tensor got = empty({n}, TensorOptions(dt, Device("sim")));
      sim::philox_uniform(got, seed, offset, -2.0, 3.0);
      check_close(got, want, 0.0, 0.0, "philox_uniform n=" + std::to_string(n));
#if defined(DUEL_WITH_CUDA)
      if (cuda::is_available()) {
        Tensor gc = empty({n}, TensorOptions(dt, Device("cuda")));
        cuda::philox_uniform(gc, seed, offset, -2.0, 3.0);
        check_close(gc, want, 0.0, 0.0, "cuda philox_uniform n=" + std::to_string(n));
      }
#endif
    }
  }
}

TEST_CASE("parity: cuda vs cpu", "[parity]") {
  if (!cuda::is_available()) {
    SKIP_TEST("parity: no CUDA device, cuda parity skipped (" << cuda::unavailable_reason() << ")");
  }
#if defined(DUEL_WITH_CUDA)
  build_table();
  run_table(table(), Device("cuda"), false);
  run_table(penalty_table(), Device("cuda"), true);
  // the hand-written GEMM as well as cuBLAS
  cuda::set_matmul_impl(cuda::MatmulImpl::Hand);
  run_table(table(), Device("cuda"), false, "matmul");
  run_table(table(), Device("cuda"), false, "linear");
  cuda::set_matmul_impl(cuda::MatmulImpl::Cublas);
  run_table(table(), Device("cuda"), false, "matmul");
  cuda::set_matmul_impl(cuda::MatmulImpl::Auto);
#endif
}

}  // namespace duel::test
