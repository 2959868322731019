// duel bodies of the benchmarks: the public API used the way a program would
// use it (ops, autograd, backward()), plus the raw elementwise kernel for the
// "out=" row.
#include <omp.h>

#include <stdexcept>

#include <duel/duel.h>
#include <duel/kernels/cpu/elementwise.h>
#include <duel/kernels/cpu/gemm.h>
#include <duel/gan/losses.h>
#include <duel/gan/nets.h>
#include <duel/rl/dqn.h>
#include <duel/rl/envs/env.h>

#include "bench.h"

namespace bench {
namespace {

using duel::Tensor;

Tensor randn(const duel::Shape& shape) { return duel::randn(shape); }
Tensor leaf(const duel::Shape& shape) {
  Tensor t = duel::randn(shape);
  t.requires_grad_(true);
  return t;
}

duel::Conv2dOptions conv_options(const ConvSpec& s) {
  duel::Conv2dOptions o;
  o.set_stride(s.stride).set_padding(s.pad);
  return o;
}

}  // namespace

void duel_set_threads(int threads) { omp_set_num_threads(threads); }

bool duel_set_gemm(const std::string& impl) {
  duel::cpu::GemmImpl i;
  if (!duel::cpu::parse_gemm_impl(impl, i) || !duel::cpu::gemm_impl_supported(i)) return false;
  duel::cpu::set_gemm_impl(i);
  return true;
}

std::string duel_gemm_description() {
  using namespace duel::cpu;
  std::string s = std::string("duel GEMM (float32): ") + gemm_impl_name(gemm_resolved_impl());
  if (gemm_impl() == GemmImpl::Auto) s += " (auto)";
  s += "; \"matmul eigen\" rows force Eigen";
  return s;
}

Prepared duel_matmul(const MatmulSpec& s) {
  Tensor a = s.a_transposed ? randn({s.K, s.M}).t() : randn({s.M, s.K});
  Tensor b = s.b_transposed ? randn({s.N, s.K}).t() : randn({s.K, s.N});
  Prepared p;
  p.out_shape = {s.M, s.N};
  if (s.gemm.empty()) {
    p.run = [a, b] { Tensor c = duel::matmul(a, b); };
  } else {
    duel::cpu::GemmImpl impl;
    if (!duel::cpu::parse_gemm_impl(s.gemm, impl) || !duel::cpu::gemm_impl_supported(impl))
      throw std::runtime_error("GEMM '" + s.gemm + "' unknown or not supported on this CPU");
    p.run = [a, b, impl] {  // the process-wide choice, switched for this call only
      const duel::cpu::GemmImpl before = duel::cpu::gemm_impl();
      duel::cpu::set_gemm_impl(impl);
      Tensor c = duel::matmul(a, b);
      duel::cpu::set_gemm_impl(before);
    };
  }
  return p;
}

Prepared duel_linear(const LinearSpec& s) {
  Tensor x = leaf({s.batch, s.in}), w = leaf({s.out, s.in}), b = leaf({s.out});
  Tensor gy = randn({s.batch, s.out});
  Prepared p;
  p.out_shape = {s.batch, s.out};
  p.run = [x, w, b, gy] {
    x.zero_grad(), w.zero_grad(), b.zero_grad();
    Tensor y = duel::linear(x, w, b);
    y.backward(gy);
  };
  return p;
}

Prepared duel_conv(const ConvSpec& s, ConvPass pass) {
  const duel::Conv2dOptions o = conv_options(s);
  const duel::Shape x_shape = {s.N, s.C, s.H, s.W};
  const duel::Shape w_shape = s.transposed ? duel::Shape{s.C, s.O, s.k, s.k} : duel::Shape{s.O, s.C, s.k, s.k};
  const duel::Shape y_shape = {s.N, s.O, s.out_h(), s.out_w()};
  Prepared p;
  switch (pass) {
    case ConvPass::Forward: {
      Tensor x = randn(x_shape), w = randn(w_shape);
      p.out_shape = {y_shape.begin(), y_shape.end()};
      if (s.transposed)
        p.run = [x, w, o] { Tensor y = duel::conv_transpose2d(x, w, {}, o); };
      else
        p.run = [x, w, o] { Tensor y = duel::conv2d(x, w, {}, o); };
      break;
    }
    case ConvPass::BackwardInput: {
      Tensor gy = randn(y_shape), w = randn(w_shape);
      p.out_shape = {x_shape.begin(), x_shape.end()};
      if (s.transposed)  // the input gradient of conv_transpose2d is conv2d(gy, w)
        p.run = [gy, w, o] { Tensor gx = duel::conv2d(gy, w, {}, o); };
      else
        p.run = [gy, w, o, x_shape] { Tensor gx = duel::conv2d_input_grad(gy, w, x_shape, o); };
      break;
    }
    case ConvPass::BackwardWeight: {
      Tensor x = randn(x_shape), gy = randn(y_shape);
      p.out_shape = {w_shape.begin(), w_shape.end()};
      if (s.transposed)  // conv_transpose2d's weight gradient: conv2d's with the roles of x and gy swapped
        p.run = [x, gy, o, w_shape] { Tensor gw = duel::conv2d_weight_grad(gy, x, w_shape, o); };
      else
        p.run = [x, gy, o, w_shape] { Tensor gw = duel::conv2d_weight_grad(x, gy, w_shape, o); };
      break;
    }
    case ConvPass::ForwardBackward: {
      Tensor x = leaf(x_shape), w = leaf(w_shape), gy = randn(y_shape);
      p.out_shape = {y_shape.begin(), y_shape.end()};
      const bool transposed = s.transposed;
      p.run = [x, w, gy, o, transposed] {
        x.zero_grad(), w.zero_grad();
        Tensor y = transposed ? duel::conv_transpose2d(x, w, {}, o) : duel::conv2d(x, w, {}, o);
        y.backward(gy);
      };
      break;
    }
  }
  return p;
}

Prepared duel_batch_norm(const BatchNormSpec& s, BatchNormPass pass) {
  const duel::Shape shape = {s.N, s.C, s.H, s.W};
  Tensor running_mean = duel::zeros({s.C}), running_var = duel::ones({s.C});
  Prepared p;
  p.out_shape = {s.N, s.C, s.H, s.W};
  if (pass == BatchNormPass::Forward) {
    Tensor x = randn(shape), w = duel::ones({s.C}), b = duel::zeros({s.C});
    p.run = [=] { Tensor y = duel::batch_norm(x, w, b, running_mean, running_var, true, 0.1, 1e-5); };
  } else {
    Tensor x = leaf(shape), w = duel::ones({s.C}), b = duel::zeros({s.C}), gy = randn(shape);
    w.requires_grad_(true);
    b.requires_grad_(true);
    p.run = [=] {
      x.zero_grad(), w.zero_grad(), b.zero_grad();
      Tensor y = duel::batch_norm(x, w, b, running_mean, running_var, true, 0.1, 1e-5);
      y.backward(gy);
    };
  }
  return p;
}

Prepared duel_elementwise(const EwSpec& s) {
  const duel::Shape shape = {s.rows, s.cols};
  Tensor a = randn(shape);
  Prepared p;
  p.out_shape = {s.rows, s.cols};
  switch (s.op) {
    case EwOp::Clone: p.run = [a] { Tensor y = a.clone(); }; break;
    case EwOp::Add: {
      Tensor b = randn(shape);
      p.run = [a, b] { Tensor y = a + b; };
      break;
    }
    case EwOp::AddInplace: {
      Tensor b = duel::full(shape, 1e-30);  // keeps a's values unchanged in float32, no overflow over many calls
      p.run = [a, b]() mutable { a.add_(b); };
      break;
    }
    case EwOp::AddOut: {
      Tensor b = randn(shape), out = duel::empty(shape);
      p.run = [a, b, out]() mutable { duel::cpu::binary(duel::BinaryOp::Add, a, b, out); };
      break;
    }
    case EwOp::Mul: {
      Tensor b = randn(shape);
      p.run = [a, b] { Tensor y = a * b; };
      break;
    }
    case EwOp::Relu: p.run = [a] { Tensor y = duel::relu(a); }; break;
    case EwOp::LeakyRelu: p.run = [a] { Tensor y = duel::leaky_relu(a, 0.2); }; break;
    case EwOp::LeakyReluBwd: {
      Tensor x = a.detach().requires_grad_(true), g = randn(shape);
      p.run = [x, g] { duel::leaky_relu(x, 0.2).backward(g); };
      break;
    }
    case EwOp::Sigmoid: p.run = [a] { Tensor y = duel::sigmoid(a); }; break;
    case EwOp::Tanh: p.run = [a] { Tensor y = duel::tanh(a); }; break;
    case EwOp::Exp: p.run = [a] { Tensor y = duel::exp(a); }; break;
    case EwOp::Softmax: p.run = [a] { Tensor y = duel::softmax(a, 1); }; break;
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
      p.run = [a] { Tensor y = duel::sum(a); };
      break;
    case EwOp::SumDim0:
      p.out_shape = {s.cols};
      p.run = [a] { Tensor y = duel::sum(a, {0}); };
      break;
    case EwOp::SumDim1:
      p.out_shape = {s.rows};
      p.run = [a] { Tensor y = duel::sum(a, {1}); };
      break;
  }
  return p;
}

// ---- recurrent layers (nn/rnn.h) ----

Prepared duel_rnn(const RnnSpec& s) {
  const duel::nn::RNNOptions o{.num_layers = s.layers};
  std::shared_ptr<duel::nn::Module> m;
  if (s.lstm) m = std::make_shared<duel::nn::LSTM>(s.input, s.hidden, o);
  else m = std::make_shared<duel::nn::GRU>(s.input, s.hidden, o);
  Tensor x = s.backward ? leaf({s.T, s.batch, s.input}) : randn({s.T, s.batch, s.input});
  Tensor gy = randn({s.T, s.batch, s.hidden});
  Prepared p;
  p.out_shape = {s.T, s.batch, s.hidden};
  p.run = [m, x, gy, s] {
    if (!s.backward) {
      duel::NoGradGuard ng;
      Tensor y = (*m)(x);
      return;
    }
    m->zero_grad();
    x.zero_grad();
    Tensor y = (*m)(x);
    y.backward(gy);
  };
  return p;
}

// ---- whole training steps: the loops of gan/dcgan.cpp, gan/wgan_gp.cpp and rl/dqn.cpp ----

namespace {

Prepared dcgan_step(int64_t m) {
  namespace nn = duel::nn;
  auto G = duel::gan::dcgan_generator(100);
  auto D = duel::gan::dcgan_discriminator(/*sigmoid=*/true, /*batchnorm=*/true);
  auto opt_G = std::make_shared<duel::optim::Adam>(G->parameters(), duel::optim::AdamOptions{.lr = 2e-4, .betas = {0.5, 0.999}});
  auto opt_D = std::make_shared<duel::optim::Adam>(D->parameters(), duel::optim::AdamOptions{.lr = 2e-4, .betas = {0.5, 0.999}});
  Tensor x = duel::rand({m, 1, 28, 28}) * 2.0 - 1.0, z = randn({m, 100, 1, 1});
  Tensor ones = duel::full({m, 1}, 1.0), zeros = duel::zeros({m, 1});
  Prepared p;
  p.out_shape = {m, 1};
  p.run = [=] {
    Tensor fake = (*G)(z);
    Tensor loss_D = duel::binary_cross_entropy((*D)(x), ones) + duel::binary_cross_entropy((*D)(fake.detach()), zeros);
    opt_D->zero_grad();
    loss_D.backward();
    opt_D->step();
    Tensor loss_G = duel::binary_cross_entropy((*D)(fake), ones);
    opt_G->zero_grad();
    loss_G.backward();
    opt_G->step();
  };
  return p;
}

Prepared wgan_critic_step(StepKind kind) {
  const bool toy = kind == StepKind::WganCriticToy;
  const int64_t m = toy ? 256 : 64;
  auto G = toy ? duel::gan::mlp(2, 512, 2, 3) : duel::gan::dcgan_generator(100);
  auto D = toy ? duel::gan::mlp(2, 512, 1, 3)
               : duel::gan::dcgan_discriminator(/*sigmoid=*/false, /*batchnorm=*/kind == StepKind::WganCriticImageBN);
  auto opt_D = std::make_shared<duel::optim::Adam>(D->parameters(), duel::optim::AdamOptions{.lr = 1e-4, .betas = {0.5, 0.9}});
  const double lambda = toy ? 0.1 : 10.0;
  Tensor x = toy ? randn({m, 2}) : duel::rand({m, 1, 28, 28}) * 2.0 - 1.0;
  Tensor z = toy ? randn({m, 2}) : randn({m, 100, 1, 1});
  auto gen = std::make_shared<duel::Generator>(7);
  Prepared p;
  p.out_shape = {m, 1};
  p.run = [=] {
    Tensor fake;
    {
      duel::NoGradGuard ng;
      fake = (*G)(z);
    }
    Tensor loss = duel::mean((*D)(fake)) - duel::mean((*D)(x)) + duel::gan::gradient_penalty(*D, x, fake, lambda, *gen);
    opt_D->zero_grad();
    loss.backward();
    opt_D->step();
  };
  return p;
}

// gan/began.cpp's step without the k_t control (k fixed, so no scalar read-back per step)
Prepared began_step() {
  const int64_t m = 64;
  auto G = duel::gan::dcgan_generator(100);
  auto D = std::make_shared<duel::gan::AutoencoderDiscriminator>(64, 64, duel::gan::AutoencoderDiscriminator::Activation::kELU,
                                                                 /*batchnorm=*/false);
  auto opt_G = std::make_shared<duel::optim::Adam>(G->parameters(), duel::optim::AdamOptions{.lr = 1e-4, .betas = {0.5, 0.999}});
  auto opt_D = std::make_shared<duel::optim::Adam>(D->parameters(), duel::optim::AdamOptions{.lr = 1e-4, .betas = {0.5, 0.999}});
  Tensor x = duel::rand({m, 1, 28, 28}) * 2.0 - 1.0, z = randn({m, 100, 1, 1});
  Prepared p;
  p.out_shape = {m, 1, 28, 28};
  p.run = [=] {
    Tensor fake = (*G)(z);
    Tensor loss_D = duel::mean(D->energy(x, true)) - duel::mean(D->energy(fake.detach(), true)) * 0.5;
    opt_D->zero_grad();
    loss_D.backward();
    opt_D->step();
    Tensor loss_G = duel::mean(D->energy(fake, true));
    opt_G->zero_grad();
    loss_G.backward();
    opt_G->step();
  };
  return p;
}

Prepared dqn_update() {
  using namespace duel::rl;
  DQNConfig c = DQNConfig::defaults("breakout", DQNVariant::kNature);
  c.batch = 32;
  auto agent = std::make_shared<DQNAgent>(c, duel::Shape{4, 10, 10}, 6, /*init_seed=*/1);
  duel::Generator g(3);
  ReplayBatch b;
  b.obs = duel::bernoulli({c.batch, 4, 10, 10}, 0.1, {}, &g);
  b.next_obs = duel::bernoulli({c.batch, 4, 10, 10}, 0.1, {}, &g);
  b.action = duel::randint(0, 6, {c.batch}, &g);
  b.reward = duel::bernoulli({c.batch}, 0.2, {}, &g);
  b.terminated = duel::bernoulli({c.batch}, 0.05, {}, &g);
  b.truncated = duel::zeros({c.batch});
  Prepared p;
  p.out_shape = {c.batch, 6};
  p.run = [agent, b] { agent->update(b); };
  return p;
}

}  // namespace

Prepared duel_step(const StepSpec& s) {
  switch (s.kind) {
    case StepKind::Dcgan: return dcgan_step(s.batch);
    case StepKind::WganCriticImage:
    case StepKind::WganCriticImageBN:
    case StepKind::WganCriticToy: return wgan_critic_step(s.kind);
    case StepKind::DqnUpdate: return dqn_update();
    case StepKind::Began: return began_step();
  }
  throw std::logic_error("duel_step: unknown kind");
}

Prepared duel_env_steps(const std::string& name, int64_t steps) {
  std::shared_ptr<duel::rl::Env> env = duel::rl::make_env(name);
  env->reset(1);
  auto obs = std::make_shared<std::vector<float>>(env->obs_shape().numel());
  auto state = std::make_shared<uint64_t>(0x9e3779b97f4a7c15ull);
  Prepared p;
  p.out_shape = env->obs_shape().to_vector();
  p.run = [env, obs, state, steps] {
    const uint64_t n = env->num_actions();
    for (int64_t i = 0; i < steps; ++i) {
      *state = *state * 6364136223846793005ull + 1442695040888963407ull;  // PCG-style LCG
      duel::rl::StepResult r = env->step(static_cast<int>((*state >> 33) % n));
      env->observe(obs->data());
      if (r.done()) env->reset();
    }
  };
  return p;
}

}  // namespace bench
