// The multi-threaded CPU paths. ctest runs the rest of the suite with one OpenMP thread (two
// tests at a time on two cores), so these tests set the thread count themselves: every CPU
// kernel with an OpenMP region runs once with 1 thread and once with 4, on sizes above every
// parallel threshold (kernels/cpu/loops.h: kParallelGrain, kParallelMacs; reduction.cpp, optim.cpp,
// random.cpp; the matmul and conv cases check their multiply-add counts against kParallelMacs),
// forward and backward, and the two must agree (float64; reductions may add in another order,
// hence a 1e-12 relative tolerance; random streams must be identical). ctest runs them one at
// a time (RUN_SERIAL, see CMakeLists.txt), so 4 threads never compete with another test.
#include <omp.h>

#include <catch2/catch.hpp>
#include <functional>

#include "duel.h"
#include "kernels/cpu/conv.h"  // cpu::detail::implicit_conv_passes
#include "kernels/cpu/loops.h"
#include "nn/nn.h"

using namespace duel;

namespace {

class Threads {
 public:
  explicit Threads(int n) : prev_(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~Threads() { omp_set_num_threads(prev_); }

 private:
  int prev_;
};

const TensorOptions f64(kFloat64);

// Runs `f` with 1 and with 4 threads and compares every tensor it returns.
void same_with_1_and_4_threads(const std::function<TensorList()>& f, double rtol = 1e-12, double atol = 1e-12) {
  TensorList one, four;
  {
    Threads t(1);
    one = f();
  }
  {
    Threads t(4);
    REQUIRE(omp_get_max_threads() == 4);
    four = f();
  }
  REQUIRE(one.size() == four.size());
  for (size_t i = 0; i < one.size(); ++i) {
    INFO("output " << i << " " << shape_str(one[i].sizes()));
    REQUIRE(one[i].defined());
    REQUIRE(one[i].sizes() == four[i].sizes());
    CHECK(allclose(one[i], four[i], rtol, atol));
  }
}

// The inputs' gradients of sum(out * w) for a fixed random weighting w.
TensorList with_grads(const Tensor& out, const TensorList& inputs) {
  Generator g(99);
  Tensor w = randn(out.sizes(), TensorOptions(out.dtype()), &g);
  TensorList grads = autograd::grad({sum(out * w)}, inputs);
  TensorList r = {out.detach()};
  for (auto& t : grads) r.push_back(t);
  return r;
}

Tensor input(const Shape& s, uint64_t seed) {
  Generator g(seed);
  return randn(s, f64, &g).requires_grad_();
}

}  // namespace

TEST_CASE("threads: elementwise kernels on 2^19 elements", "[threads]") {
  same_with_1_and_4_threads([] {
    Tensor a = input({1 << 19}, 1), b = input({1 << 19}, 2);
    Tensor out = a * b + exp(a * 0.1) - sigmoid(b) / (abs(a) + 1.0);
    return with_grads(out, {a, b});
  });
}

// float32 exp, sigmoid, tanh and elu (2^19 + 5 elements: above the parallel threshold, with a tail) and
// softmax / log_softmax over rows of a chess-policy width take the AVX2 paths
// (kernels/cpu/simd_math.h); every element or row is computed alone, so any thread count
// gives the same bits.
TEST_CASE("threads: float32 exp, sigmoid and softmax rows (the SIMD paths)", "[threads]") {
  same_with_1_and_4_threads(
      [] {
        Generator g(7);
        Tensor a = randn({(1 << 19) + 5}, TensorOptions(kFloat32), &g) * 10.0;
        Tensor rows = randn({300, 4168}, TensorOptions(kFloat32), &g) * 5.0;
        return TensorList{exp(a), sigmoid(a), tanh(a), elu(a, 0.7), softmax(rows, 1), log_softmax(rows, 1)};
      },
      0.0);
}

// leaky_relu (a functor with a captured constant, taken by value into each thread) and where
// (contiguous, and with a broadcast scalar side in its own backward), 2^19 elements
TEST_CASE("threads: leaky_relu and where on 2^19 elements", "[threads]") {
  same_with_1_and_4_threads([] {
    Tensor a = input({1 << 19}, 3), b = input({1 << 19}, 4);
    Tensor out = leaky_relu(a, 0.2) + where(b > 0.0, a, b) * 2.0 + elu(b);
    return with_grads(out, {a, b});
  });
}

// the fused LSTM cell above its parallel threshold (rows split over the threads when N * H * 8
// >= 2^18), float64 and float32 (the vectorised sigmoid / tanh), forward and backward
TEST_CASE("threads: lstm_cell forward and backward, rows split over the threads", "[threads]") {
  for (DType dt : {kFloat64, kFloat32}) {
    INFO(dtype_name(dt));
    same_with_1_and_4_threads(
        [dt] {
          const int64_t N = 64, H = 600;
          Generator g(5);
          TensorList in;
          for (const Shape& s : {Shape{N, 4 * H}, Shape{N, 4 * H}, Shape{N, H}, Shape{4 * H}, Shape{4 * H}})
            in.push_back(randn(s, TensorOptions(dt), &g).requires_grad_());
          return with_grads(lstm_cell(in[0], in[1], in[2], in[3], in[4]), in);
        },
        dt == kFloat64 ? 1e-12 : 1e-6);
  }
}

TEST_CASE("threads: lstm_sequence forward and backward, per-step products split over the threads", "[threads]") {
  // N * H * 4H = 64 * 256 * 1024 multiply-adds per step: above kParallelMacs, so every step's
  // product (and the weight-gradient product over all T * N rows) runs on 4 threads
  static_assert(int64_t(64) * 256 * 1024 >= cpu::kParallelMacs);
  for (DType dt : {kFloat64, kFloat32}) {
    INFO(dtype_name(dt));
    same_with_1_and_4_threads(
        [dt] {
          const int64_t T = 5, N = 64, H = 256;
          Generator g(6);
          TensorList in;
          for (const Shape& s : {Shape{T, N, 4 * H}, Shape{N, H}, Shape{N, H}, Shape{4 * H, H}, Shape{4 * H}})
            in.push_back((randn(s, TensorOptions(dt), &g) * 0.1).detach().requires_grad_());
          return with_grads(lstm_sequence(in[0], in[1], in[2], in[3], in[4]), in);
        },
        dt == kFloat64 ? 1e-12 : 1e-5, dt == kFloat64 ? 1e-12 : 1e-6);
  }
}

TEST_CASE("threads: reductions over every dim and over all", "[threads]") {
  same_with_1_and_4_threads([] {
    Tensor a = input({512, 1024}, 3);
    Tensor b = input({2, 1 << 19}, 4);  // few outputs, long rows: the reduced dim is split
    Tensor out = cat({sum(a, {0}), repeat(mean(a, {1}), {2}), amax(a, {0}), sum(b, {1}), sum(a).reshape({1}),
                      sum(b, {0}).narrow(0, 0, 1000)});
    return with_grads(out, {a, b});
  });
}

TEST_CASE("threads: matmul, batch-parallel and row-parallel", "[threads]") {
  same_with_1_and_4_threads([] {
    Tensor a = input({8, 128, 96}, 5), b = input({8, 96, 128}, 6);  // 8 products, one per thread
    Tensor c = input({256, 192}, 7), d = input({192, 224}, 8);      // one product, rows split
    REQUIRE(8 * 128 * 96 * 128 >= cpu::kParallelMacs);
    REQUIRE(256 * 192 * 224 >= cpu::kParallelMacs);
    Tensor out = cat({matmul(a, b).flatten(), matmul(c, d).flatten()});
    return with_grads(out, {a, b, c, d});
  });
}

TEST_CASE("threads: conv2d and conv_transpose2d, forward, input and weight gradients", "[threads]") {
  same_with_1_and_4_threads([] {
    Tensor x = input({16, 8, 48, 48}, 9), w = input({16, 8, 3, 3}, 10), bias = input({16}, 11);
    Conv2dOptions o;
    o.set_stride(2).set_padding(1);
    Tensor y = conv2d(x, w, bias, o);  // [16, 16, 24, 24]
    Tensor wt = input({16, 6, 4, 4}, 12);
    // multiply-adds per pass (N * O * C*kH*kW * output pixels) above the threshold
    REQUIRE(16 * 16 * (8 * 9) * (24 * 24) >= cpu::kParallelMacs);
    REQUIRE(16 * 16 * (6 * 16) * (24 * 24) >= cpu::kParallelMacs);
    Conv2dOptions ot;
    ot.set_stride(2).set_padding(1);
    Tensor z = conv_transpose2d(y, wt, {}, ot);
    return with_grads(cat({y.flatten(), z.flatten()}), {x, w, bias, wt});
  });
}

// float32 takes the implicit-GEMM path (kernels/cpu/conv.cpp): one range of samples per thread,
// each with its own bordered copy, and private weight-gradient sums added at the end (another
// order of additions, hence the tolerance).
TEST_CASE("threads: float32 conv2d and conv_transpose2d on the implicit-GEMM path", "[threads][conv]") {
  const int64_t before = cpu::detail::implicit_conv_passes();
  same_with_1_and_4_threads(
      [] {
        auto f32 = [](const Shape& s, uint64_t seed) { return cast(input(s, seed), kFloat32).detach().requires_grad_(); };
        Tensor x = f32({16, 8, 48, 48}, 9), w = f32({16, 8, 3, 3}, 10), wt = f32({16, 6, 4, 4}, 12);
        Conv2dOptions o;
        o.set_stride(2).set_padding(1);
        Tensor y = conv2d(x, w, {}, o);  // [16, 16, 24, 24]
        REQUIRE(16 * 16 * (8 * 9) * (24 * 24) >= cpu::kParallelMacs);
        Tensor z = conv_transpose2d(y, wt, {}, o);
        TensorList r = with_grads(cat({y.flatten(), z.flatten()}), {x, w, wt});
        for (auto& t : r) t = cast(t, kFloat64);
        return r;
      },
      2e-5, 1e-4);
  CHECK(cpu::detail::implicit_conv_passes() - before == 2 * 6);  // 2 thread counts x 2 convs x 3 passes
}

TEST_CASE("threads: batch norm training forward and backward, running statistics", "[threads]") {
  same_with_1_and_4_threads([] {
    Tensor x = input({16, 8, 32, 32}, 13), w = input({8}, 14), b = input({8}, 15);
    Tensor rm = zeros({8}, f64), rv = ones({8}, f64);
    Tensor y = batch_norm(x, w, b, rm, rv, /*training=*/true);
    TensorList r = with_grads(y, {x, w, b});
    r.push_back(rm.clone());
    r.push_back(rv.clone());
    return r;
  });
}

TEST_CASE("threads: max and average pooling, forward and backward", "[threads]") {
  same_with_1_and_4_threads([] {
    Tensor x = input({16, 16, 32, 32}, 16);
    Pool2dOptions p;
    p.kernel = {2, 2};
    Pool2dOptions q;
    q.kernel = {3, 3};
    q.stride = {2, 2};
    q.padding = {1, 1};
    Tensor out = cat({max_pool2d(x, p).flatten(), avg_pool2d(x, q).flatten()});
    return with_grads(out, {x});
  });
}

TEST_CASE("threads: gather, index_select, scatter_add and index_add on large tensors", "[threads]") {
  same_with_1_and_4_threads([] {
    Tensor a = input({512, 1024}, 17);
    Generator g(18);
    Tensor idx = randint(0, 1024, {512, 1024}, &g);
    Tensor rows = randint(0, 512, {600}, &g);
    Tensor src = input({600, 1024}, 19);
    Tensor out = cat({gather(a, 1, idx).flatten(), index_select(a, 0, rows).flatten(),
                      scatter_add(zeros({512, 1024}, f64), 1, idx, a).flatten(),
                      index_add(zeros({512, 1024}, f64), 0, rows, src).flatten()});
    return with_grads(out, {a, src});
  });
}

TEST_CASE("threads: random draws are the same stream with any thread count", "[threads]") {
  same_with_1_and_4_threads(
      [] {
        Generator g(20);
        return TensorList{rand({1 << 20}, f64, &g), randn({1 << 20}, f64, &g), bernoulli({1 << 20}, 0.3, f64, &g)};
      },
      0.0);
}

TEST_CASE("threads: fused optimizer steps on 2^19 parameters", "[threads]") {
  same_with_1_and_4_threads([] {
    TensorList out;
    for (int kind = 0; kind < 3; ++kind) {
      Tensor p = input({1 << 19}, 21).detach().requires_grad_();
      std::unique_ptr<optim::Optimizer> opt;
      if (kind == 0) opt = std::make_unique<optim::SGD>(std::vector<Tensor>{p}, optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
      if (kind == 1) opt = std::make_unique<optim::Adam>(std::vector<Tensor>{p}, optim::AdamOptions{.lr = 0.01});
      if (kind == 2)
        opt = std::make_unique<optim::RMSprop>(std::vector<Tensor>{p}, optim::RMSpropOptions{.lr = 0.01, .centered = true});
      for (int step = 0; step < 3; ++step) {
        opt->zero_grad();
        sum(p * p * (step + 1.0)).backward();
        opt->step();
      }
      out.push_back(p.detach().clone());
    }
    return out;
  });
}
