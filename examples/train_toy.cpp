// train_toy: the smallest complete use of duel.
//
// A two-layer MLP learns to classify the classic three-armed spiral
// (CS231n's toy data set) with cross-entropy and SGD with momentum, written
// with nothing but tensors and autograd: the forward pass is ordinary
// expressions, backward() fills .grad, and the update runs under NoGradGuard.
//
//   build/examples/train_toy [--steps N] [--seed S]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "duel.h"

using namespace duel;

int main(int argc, char** argv) {
  int steps = 2000;
  uint64_t seed = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--steps")) steps = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seed")) seed = std::stoull(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: %s [--steps N] [--seed S]\n", argv[0]);
      return 2;
    }
  }
  manual_seed(seed);

  // data: K spiral arms of N points each, 2-D
  const int64_t N = 200, K = 3, D = 2, H = 64;
  Tensor r = repeat(linspace(0.0, 1.0, N), {K});                                  // radius
  Tensor arm = arange(0, K, 1, kInt64).reshape({K, 1}).expand({K, N}).reshape({-1});         // class label
  Tensor theta = arm.to(kFloat32) * 4.0 + repeat(linspace(0.0, 4.0, N), {K}) + randn({K * N}) * 0.2;
  Tensor x = stack({r * sin(theta), r * cos(theta)}, 1);                          // [K*N, 2]
  Tensor y = arm;                                                                 // int64 [K*N]

  // parameters
  Tensor w1 = (randn({D, H}) * std::sqrt(2.0 / D)).requires_grad_();
  Tensor b1 = zeros({H}).requires_grad_();
  Tensor w2 = (randn({H, K}) * std::sqrt(1.0 / H)).requires_grad_();
  Tensor b2 = zeros({K}).requires_grad_();
  std::vector<Tensor> params = {w1, b1, w2, b2};
  std::vector<Tensor> velocity;
  for (auto& p : params) velocity.push_back(zeros_like(p));
  const double lr = 0.5, momentum = 0.9, weight_decay = 1e-4;

  std::printf("duel train_toy: MLP %lld-%lld-%lld on a %lld-class spiral (%lld points)\n", (long long)D, (long long)H,
              (long long)K, (long long)K, (long long)(K * N));
  auto start = std::chrono::steady_clock::now();
  for (int step = 0; step <= steps; ++step) {
    Tensor hidden = relu(matmul(x, w1) + b1);
    Tensor logits = matmul(hidden, w2) + b2;
    Tensor loss = cross_entropy(logits, y);
    for (auto& p : params) p.zero_grad();
    loss.backward();
    {
      NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i) {
        Tensor g = params[i].grad() + params[i] * weight_decay;
        velocity[i].mul_(momentum).add_(g);
        params[i].add_(velocity[i], -lr);
      }
    }
    if (step % (steps / 10 > 0 ? steps / 10 : 1) == 0) {
      NoGradGuard no_grad;
      double acc = mean(eq(argmax(logits, 1), y).to(kFloat32)).item();
      std::printf("step %5d  loss %.4f  accuracy %5.1f%%\n", step, loss.item(), 100 * acc);
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("done in %.2f s (%.0f steps/s)\n", secs, steps / secs);
  return 0;
}
