// libtorch bodies of the benchmarks: the same operations as duel_cases.cpp,
// through the libtorch C++ API (ATen ops, autograd backward()). Built only when
// CMake finds Torch (DUEL_BENCH_WITH_TORCH).
#include <dlfcn.h>
#include <torch/torch.h>

#include <sstream>

#include "bench.h"

namespace bench {
namespace {

using torch::Tensor;

Tensor randn(at::IntArrayRef shape) { return torch::randn(shape); }
Tensor leaf(at::IntArrayRef shape) { return torch::randn(shape).set_requires_grad(true); }
void drop_grad(const Tensor& t) { const_cast<Tensor&>(t).mutable_grad() = Tensor(); }

// OpenBLAS's kernel name ("" when the BLAS is not OpenBLAS), and whether it is one of its old
// SSE kernels, which it falls back to on a CPU it does not recognise.
std::string openblas_core() {
  using CoreName = char* (*)();
  auto f = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return f ? std::string(f()) : std::string();
}
bool is_sse_core(const std::string& core) {
  return core == "Prescott" || core == "Core2" || core == "Nehalem" || core == "Penryn" || core == "Dunnington";
}

}  // namespace

std::string torch_description() {
  std::ostringstream os;
  os << "libtorch " << TORCH_VERSION << ", " << at::get_num_threads() << " intra-op threads, mkldnn "
     << (at::hasMKLDNN() ? (at::globalContext().userEnabledMkldnn() ? "on" : "off") : "absent") << ", BLAS via "
     << (at::hasMKL() ? "MKL" : "system libblas");
  // OpenBLAS picks its kernels from the CPU's model number at load time. On a CPU it does not
  // know (a VM reporting a generic model, or a CPU newer than the library) it falls back to an
  // old SSE3 kernel ("Prescott"), several times slower than the AVX2/AVX-512 ones: name the
  // kernel, so that a slow libtorch column is not mistaken for a fast duel
  // (OPENBLAS_CORETYPE=SkylakeX or Haswell forces one; docs/performance.md).
  const std::string core = openblas_core();
  if (!core.empty()) {
    os << " = OpenBLAS, kernel " << core;
    if (is_sse_core(core))
      os << " (an SSE kernel: OpenBLAS did not recognise this CPU; set OPENBLAS_CORETYPE=Haswell or SkylakeX "
            "for a fair comparison)";
  }
  return os.str();
}

std::string torch_blas_coretype_fix() {
  if (!is_sse_core(openblas_core())) return "";
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return "";
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
    case EwOp::LeakyRelu: p.run = [a] { Tensor y = torch::leaky_relu(a, 0.2); }; break;
    case EwOp::LeakyReluBwd: {
      Tensor x = a.detach().requires_grad_(true), g = torch::randn_like(a);
      p.run = [x, g] { torch::leaky_relu(x, 0.2).backward(g); };
      break;
    }
    case EwOp::Sigmoid: p.run = [a] { Tensor y = torch::sigmoid(a); }; break;
    case EwOp::Tanh: p.run = [a] { Tensor y = torch::tanh(a); }; break;
    case EwOp::Exp: p.run = [a] { Tensor y = torch::exp(a); }; break;
    case EwOp::Softmax: p.run = [a] { Tensor y = torch::softmax(a, 1); }; break;
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

// ---- whole training steps, the same networks and updates as duel_step ----

namespace {

namespace tnn = torch::nn;

tnn::Sequential toy_mlp(int64_t in, int64_t out) {
  tnn::Sequential net;
  int64_t width = in;
  for (int i = 0; i < 3; ++i) {
    net->push_back(tnn::Linear(width, 512));
    net->push_back(tnn::ReLU());
    width = 512;
  }
  net->push_back(tnn::Linear(width, out));
  return net;
}

tnn::Sequential dcgan_generator() {
  using O = tnn::ConvTranspose2dOptions;
  return tnn::Sequential(tnn::ConvTranspose2d(O(100, 256, 4).bias(false)), tnn::BatchNorm2d(256), tnn::ReLU(),
                         tnn::ConvTranspose2d(O(256, 128, 3).stride(2).padding(1).bias(false)), tnn::BatchNorm2d(128),
                         tnn::ReLU(), tnn::ConvTranspose2d(O(128, 64, 4).stride(2).padding(1).bias(false)),
                         tnn::BatchNorm2d(64), tnn::ReLU(),
                         tnn::ConvTranspose2d(O(64, 1, 4).stride(2).padding(1).bias(false)), tnn::Tanh());
}

tnn::Sequential dcgan_discriminator(bool sigmoid, bool batchnorm) {
  using O = tnn::Conv2dOptions;
  auto lrelu = [] { return tnn::LeakyReLU(tnn::LeakyReLUOptions().negative_slope(0.2)); };
  tnn::Sequential d;
  d->push_back(tnn::Conv2d(O(1, 64, 4).stride(2).padding(1).bias(false)));
  d->push_back(lrelu());
  d->push_back(tnn::Conv2d(O(64, 128, 4).stride(2).padding(1).bias(false)));
  if (batchnorm) d->push_back(tnn::BatchNorm2d(128));
  d->push_back(lrelu());
  d->push_back(tnn::Conv2d(O(128, 256, 4).stride(2).padding(1).bias(false)));
  if (batchnorm) d->push_back(tnn::BatchNorm2d(256));
  d->push_back(lrelu());
  d->push_back(tnn::Conv2d(O(256, 1, 3).stride(1).padding(0).bias(false)));
  d->push_back(tnn::Flatten());
  if (sigmoid) d->push_back(tnn::Sigmoid());
  return d;
}

// gan/nets.cpp's AutoencoderDiscriminator (ELU, no batch norm, width 64, code 64)
tnn::Sequential began_autoencoder() {
  using C = tnn::Conv2dOptions;
  using T = tnn::ConvTranspose2dOptions;
  return tnn::Sequential(tnn::Conv2d(C(1, 64, 4).stride(2).padding(1)), tnn::ELU(),
                         tnn::Conv2d(C(64, 128, 4).stride(2).padding(1)), tnn::ELU(), tnn::Flatten(),
                         tnn::Linear(128 * 7 * 7, 64), tnn::Linear(64, 128 * 7 * 7), tnn::ELU(),
                         tnn::Unflatten(tnn::UnflattenOptions(1, {128, 7, 7})),
                         tnn::ConvTranspose2d(T(128, 64, 4).stride(2).padding(1)), tnn::ELU(),
                         tnn::ConvTranspose2d(T(64, 1, 4).stride(2).padding(1)));
}

Tensor gradient_penalty(tnn::Sequential& D, const Tensor& real, const Tensor& fake, double lambda) {
  std::vector<int64_t> eps_shape(real.dim(), 1);
  eps_shape[0] = real.size(0);
  Tensor eps = torch::rand(eps_shape);
  Tensor x_hat = (eps * real + (1.0 - eps) * fake).detach().set_requires_grad(true);
  Tensor d_hat = D->forward(x_hat);
  Tensor grad = torch::autograd::grad({d_hat.sum()}, {x_hat}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
  Tensor grad_norm = grad.flatten(1).norm(2, {1});
  return (grad_norm - 1.0).pow(2).mean() * lambda;
}

using AdamO = torch::optim::AdamOptions;

}  // namespace

Prepared torch_rnn(const RnnSpec& s) {
  torch::nn::AnyModule m;
  if (s.lstm) m = torch::nn::AnyModule(torch::nn::LSTM(torch::nn::LSTMOptions(s.input, s.hidden).num_layers(s.layers)));
  else m = torch::nn::AnyModule(torch::nn::GRU(torch::nn::GRUOptions(s.input, s.hidden).num_layers(s.layers)));
  Tensor x = s.backward ? leaf({s.T, s.batch, s.input}) : randn({s.T, s.batch, s.input});
  Tensor gy = randn({s.T, s.batch, s.hidden});
  std::vector<Tensor> params = m.ptr()->parameters();
  Prepared p;
  p.out_shape = {s.T, s.batch, s.hidden};
  p.run = [m, x, gy, s, params]() mutable {
    auto output = [&]() -> Tensor {
      if (s.lstm) return std::get<0>(m.get<torch::nn::LSTM>()->forward(x));
      return std::get<0>(m.get<torch::nn::GRU>()->forward(x));
    };
    if (!s.backward) {
      torch::NoGradGuard no_grad;
      Tensor y = output();
      return;
    }
    for (auto& w : params) drop_grad(w);
    drop_grad(x);
    Tensor y = output();
    y.backward(gy);
  };
  return p;
}

Prepared torch_step(const StepSpec& s) {
  Prepared p;
  switch (s.kind) {
    case StepKind::Dcgan: {
      const int64_t m = s.batch;
      auto G = dcgan_generator();
      auto D = dcgan_discriminator(true, true);
      auto opt_G = std::make_shared<torch::optim::Adam>(G->parameters(), AdamO(2e-4).betas({0.5, 0.999}));
      auto opt_D = std::make_shared<torch::optim::Adam>(D->parameters(), AdamO(2e-4).betas({0.5, 0.999}));
      Tensor x = torch::rand({m, 1, 28, 28}) * 2.0 - 1.0, z = torch::randn({m, 100, 1, 1});
      Tensor ones = torch::ones({m, 1}), zeros = torch::zeros({m, 1});
      p.out_shape = {m, 1};
      p.run = [=]() mutable {
        Tensor fake = G->forward(z);
        Tensor loss_D = torch::binary_cross_entropy(D->forward(x), ones) +
                        torch::binary_cross_entropy(D->forward(fake.detach()), zeros);
        opt_D->zero_grad();
        loss_D.backward();
        opt_D->step();
        Tensor loss_G = torch::binary_cross_entropy(D->forward(fake), ones);
        opt_G->zero_grad();
        loss_G.backward();
        opt_G->step();
      };
      return p;
    }
    case StepKind::Began: {
      const int64_t m = 64;
      auto G = dcgan_generator();
      auto D = began_autoencoder();
      auto opt_G = std::make_shared<torch::optim::Adam>(G->parameters(), AdamO(1e-4).betas({0.5, 0.999}));
      auto opt_D = std::make_shared<torch::optim::Adam>(D->parameters(), AdamO(1e-4).betas({0.5, 0.999}));
      Tensor x = torch::rand({m, 1, 28, 28}) * 2.0 - 1.0, z = torch::randn({m, 100, 1, 1});
      auto energy = [D](const Tensor& v) mutable { return (D->forward(v) - v).abs().flatten(1).mean(1); };
      p.out_shape = {m, 1, 28, 28};
      p.run = [=]() mutable {
        Tensor fake = G->forward(z);
        Tensor loss_D = energy(x).mean() - energy(fake.detach()).mean() * 0.5;
        opt_D->zero_grad();
        loss_D.backward();
        opt_D->step();
        Tensor loss_G = energy(fake).mean();
        opt_G->zero_grad();
        loss_G.backward();
        opt_G->step();
      };
      return p;
    }
    case StepKind::WganCriticImage:
    case StepKind::WganCriticImageBN:
    case StepKind::WganCriticToy: {
      const bool toy = s.kind == StepKind::WganCriticToy;
      const int64_t m = toy ? 256 : 64;
      auto G = toy ? toy_mlp(2, 2) : dcgan_generator();
      auto D = toy ? toy_mlp(2, 1) : dcgan_discriminator(false, s.kind == StepKind::WganCriticImageBN);
      auto opt_D = std::make_shared<torch::optim::Adam>(D->parameters(), AdamO(1e-4).betas({0.5, 0.9}));
      const double lambda = toy ? 0.1 : 10.0;
      Tensor x = toy ? torch::randn({m, 2}) : torch::rand({m, 1, 28, 28}) * 2.0 - 1.0;
      Tensor z = toy ? torch::randn({m, 2}) : torch::randn({m, 100, 1, 1});
      p.out_shape = {m, 1};
      p.run = [=]() mutable {
        Tensor fake;
        {
          torch::NoGradGuard ng;
          fake = G->forward(z);
        }
        Tensor loss = D->forward(fake).mean() - D->forward(x).mean() + gradient_penalty(D, x, fake, lambda);
        opt_D->zero_grad();
        loss.backward();
        opt_D->step();
      };
      return p;
    }
    case StepKind::DqnUpdate: {
      const int64_t B = 32;
      auto make_net = [] {
        return tnn::Sequential(tnn::Conv2d(tnn::Conv2dOptions(4, 16, 3)), tnn::ReLU(), tnn::Flatten(),
                               tnn::Linear(1024, 128), tnn::ReLU(), tnn::Linear(128, 6));
      };
      auto online = make_net(), target = make_net();
      {
        torch::NoGradGuard ng;
        auto src = online->parameters(), dst = target->parameters();
        for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
      }
      // the MinAtar reference: centred RMSprop, lr 2.5e-4, alpha 0.95, eps 0.01 (added outside the root)
      auto opt = std::make_shared<torch::optim::RMSprop>(
          online->parameters(), torch::optim::RMSpropOptions(2.5e-4).alpha(0.95).eps(0.01).centered(true));
      Tensor obs = torch::bernoulli(torch::full({B, 4, 10, 10}, 0.1)),
             next_obs = torch::bernoulli(torch::full({B, 4, 10, 10}, 0.1));
      Tensor action = torch::randint(0, 6, {B}, torch::kLong), reward = torch::bernoulli(torch::full({B}, 0.2)),
             terminated = torch::bernoulli(torch::full({B}, 0.05));
      p.out_shape = {B, 6};
      p.run = [=]() mutable {
        Tensor y;
        {
          torch::NoGradGuard ng;
          Tensor q_next = std::get<0>(target->forward(next_obs).max(1));
          y = reward + 0.99 * (1.0 - terminated) * q_next;
        }
        Tensor q = online->forward(obs).gather(1, action.unsqueeze(1)).squeeze(1);
        Tensor loss = torch::smooth_l1_loss(q, y);
        opt->zero_grad();
        loss.backward();
        opt->step();
      };
      return p;
    }
  }
  throw std::logic_error("torch_step: unknown kind");
}

}  // namespace bench
