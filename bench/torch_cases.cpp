// libtorch bodies of the benchmarks: the same operations as duel_cases.cpp,
// through the libtorch C++ API (ATen ops, autograd backward()). Built only when
// CMake finds Torch (DUEL_BENCH_WITH_TORCH).
#include <torch/torch.h>

#include <sstream>

#include "bench.h"

namespace bench {
namespace {

using torch::Tensor;

Tensor randn(at::IntArrayRef shape) { return torch::randn(shape); }
Tensor leaf(at::IntArrayRef shape) { return torch::randn(shape).set_requires_grad(true); }
void drop_grad(const Tensor& t) { const_cast<Tensor&>(t).mutable_grad() = Tensor(); }

}  // namespace

std::string torch_description() {
  std::ostringstream os;
  os << "libtorch " << TORCH_VERSION << ", " << at::get_num_threads() << " intra-op threads, mkldnn "
     << (at::hasMKLDNN() ? (at::globalContext().userEnabledMkldnn() ? "on" : "off") : "absent") << ", BLAS via "
     << (at::hasMKL() ? "MKL" : "system libblas (OpenBLAS here)");
  return os.str();
}

void torch_set_threads(int threads) { torch::set_num_threads(threads); }

Prepared torch_matmul(const MatmulSpec& s) {
  Tensor a = s.a_transposed ? randn({s.K, s.M}).t() : randn({s.M, s.K});
  Tensor b = s.b_transposed ? randn({s.N, s.K}).t() : randn({s.K, s.N});
  Prepared p;
  p.out_shape = {s.M, s.N};
  p.run = [a, b] {
    torch::NoGradGuard no_grad;
    Tensor c = torch::matmul(a, b);
  };
  return p;
}

Prepared torch_linear(const LinearSpec& s) {
  Tensor x = leaf({s.batch, s.in}), w = leaf({s.out, s.in}), b = leaf({s.out});
  Tensor gy = randn({s.batch, s.out});
  Prepared p;
  p.out_shape = {s.batch, s.out};
  p.run = [x, w, b, gy] {
    drop_grad(x), drop_grad(w), drop_grad(b);
    Tensor y = torch::linear(x, w, b);
    y.backward(gy);
  };
  return p;
}

Prepared torch_conv(const ConvSpec& s, ConvPass pass) {
  const std::vector<int64_t> x_shape = {s.N, s.C, s.H, s.W};
  const std::vector<int64_t> w_shape =
      s.transposed ? std::vector<int64_t>{s.C, s.O, s.k, s.k} : std::vector<int64_t>{s.O, s.C, s.k, s.k};
  const std::vector<int64_t> y_shape = {s.N, s.O, s.out_h(), s.out_w()};
  const int64_t stride = s.stride, pad = s.pad;
  const bool transposed = s.transposed;
  auto forward = [stride, pad, transposed](const Tensor& x, const Tensor& w) {
    return transposed ? at::conv_transpose2d(x, w, {}, {stride, stride}, {pad, pad})
                      : at::conv2d(x, w, {}, {stride, stride}, {pad, pad});
  };
  Prepared p;
  switch (pass) {
    case ConvPass::Forward: {
      Tensor x = randn(x_shape), w = randn(w_shape);
      p.out_shape = y_shape;
      p.run = [x, w, forward] {
        torch::NoGradGuard no_grad;
        Tensor y = forward(x, w);
      };
      break;
    }
    case ConvPass::BackwardInput:
    case ConvPass::BackwardWeight: {
      Tensor x = randn(x_shape), w = randn(w_shape), gy = randn(y_shape);
      const bool want_input = pass == ConvPass::BackwardInput;
      p.out_shape = want_input ? x_shape : w_shape;
      p.run = [x, w, gy, stride, pad, transposed, want_input] {
        torch::NoGradGuard no_grad;
        auto grads = at::convolution_backward(gy, x, w, c10::nullopt, {stride, stride}, {pad, pad}, {1, 1},
                                              transposed, {0, 0}, 1, {want_input, !want_input, false});
      };
      break;
    }
    case ConvPass::ForwardBackward: {
      Tensor x = leaf(x_shape), w = leaf(w_shape), gy = randn(y_shape);
      p.out_shape = y_shape;
      p.run = [x, w, gy, forward] {
        drop_grad(x), drop_grad(w);
        Tensor y = forward(x, w);
        y.backward(gy);
      };
      break;
    }
  }
  return p;
}

Prepared torch_batch_norm(const BatchNormSpec& s, BatchNormPass pass) {
  const std::vector<int64_t> shape = {s.N, s.C, s.H, s.W};
  Tensor running_mean = torch::zeros({s.C}), running_var = torch::ones({s.C});
  Prepared p;
  p.out_shape = shape;
  if (pass == BatchNormPass::Forward) {
    Tensor x = randn(shape), w = torch::ones({s.C}), b = torch::zeros({s.C});
    p.run = [=] {
      torch::NoGradGuard no_grad;
      Tensor y = torch::batch_norm(x, w, b, running_mean, running_var, true, 0.1, 1e-5, false);
    };
  } else {
    Tensor x = leaf(shape), w = torch::ones({s.C}).set_requires_grad(true),
           b = torch::zeros({s.C}).set_requires_grad(true), gy = randn(shape);
    p.run = [=] {
      drop_grad(x), drop_grad(w), drop_grad(b);
      Tensor y = torch::batch_norm(x, w, b, running_mean, running_var, true, 0.1, 1e-5, false);
      y.backward(gy);
    };
  }
  return p;
}

Prepared torch_elementwise(const EwSpec& s) {
  torch::NoGradGuard no_grad;
  const std::vector<int64_t> shape = {s.rows, s.cols};
  Tensor a = randn(shape);
  Prepared p;
  p.out_shape = shape;
  switch (s.op) {
    case EwOp::Clone: p.run = [a] { Tensor y = a.clone(); }; break;
    case EwOp::Add: {
      Tensor b = randn(shape);
      p.run = [a, b] { Tensor y = a + b; };
      break;
    }
    case EwOp::AddInplace: {
      Tensor b = torch::full(shape, 1e-30);
      p.run = [a, b] { const_cast<Tensor&>(a).add_(b); };
      break;
    }
    case EwOp::AddOut: {
      Tensor b = randn(shape), out = torch::empty(shape);
      p.run = [a, b, out] { at::add_out(const_cast<Tensor&>(out), a, b); };
      break;
    }
    case EwOp::Mul: {
      Tensor b = randn(shape);
      p.run = [a, b] { Tensor y = a * b; };
      break;
    }
    case EwOp::Relu: p.run = [a] { Tensor y = torch::relu(a); }; break;
    case EwOp::Sigmoid: p.run = [a] { Tensor y = torch::sigmoid(a); }; break;
    case EwOp::AddRowBcast: {
      Tensor b = randn({s.cols});
      p.run = [a, b] { Tensor y = a + b; };
      break;
    }
    case EwOp::AddColBcast: {
      Tensor b = randn({s.rows, 1});
      p.run = [a, b] { Tensor y = a + b; };
      break;
    }
    case EwOp::SumAll:
      p.out_shape = {};
      p.run = [a] { Tensor y = a.sum(); };
      break;
    case EwOp::SumDim0:
      p.out_shape = {s.cols};
      p.run = [a] { Tensor y = a.sum(0); };
      break;
    case EwOp::SumDim1:
      p.out_shape = {s.rows};
      p.run = [a] { Tensor y = a.sum(1); };
      break;
  }
  return p;
}

}  // namespace bench
