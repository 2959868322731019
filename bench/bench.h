// duel_bench: shared declarations between the harness (main.cpp), the duel
// benchmark bodies (duel_cases.cpp) and the optional libtorch bodies
// (torch_cases.cpp). Only plain types cross these files, so the libtorch
// headers are confined to one translation unit.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace bench {

// One prepared benchmark body: `run` performs one call of the measured
// operation on inputs that were allocated when the body was prepared.
// `out_shape` is the shape of the main result; the harness compares duel's
// and libtorch's as a cheap check that both time the same operation.
struct Prepared {
  std::function<void()> run;
  std::vector<int64_t> out_shape;
};

// C[M, N] = A[M, K] * B[K, N]. a_transposed: A is the transpose of a
// contiguous [K, M] tensor; b_transposed: B is the transpose of a contiguous
// [N, K] tensor (the layouts of linear's backward and forward).
// gemm: duel's GEMM for this row ("eigen", "avx2", ...; empty: the process-wide choice, i.e.
// DUEL_GEMM or --gemm); see kernels/cpu/gemm.h.
struct MatmulSpec {
  int64_t M, K, N;
  bool a_transposed = false;
  bool b_transposed = false;
  std::string gemm;
};

// y = x W^T + b, x [batch, in], W [out, in]; forward+backward computes the
// gradients of x, W and b with autograd.
struct LinearSpec {
  int64_t batch, in, out;
};

// A 2-D convolution with square kernel, stride and padding, no bias.
// Not transposed: x [N, C, H, W], weight [O, C, k, k] -> y [N, O, outH, outW].
// Transposed (conv_transpose2d): x [N, C, H, W], weight [C, O, k, k] -> y [N, O, outH, outW].
struct ConvSpec {
  int64_t N, C, H, W, O, k, stride, pad;
  bool transposed = false;
  int64_t out_h() const {
    return transposed ? (H - 1) * stride - 2 * pad + k : (H + 2 * pad - k) / stride + 1;
  }
  int64_t out_w() const {
    return transposed ? (W - 1) * stride - 2 * pad + k : (W + 2 * pad - k) / stride + 1;
  }
  // Multiply-adds x 2 of one pass (forward, input gradient and weight gradient all cost the same).
  double flops() const {
    const int64_t pixels = transposed ? H * W : out_h() * out_w();
    return 2.0 * N * C * O * k * k * pixels;
  }
};
// Forward: y = conv(x, w), no graph recorded.
// BackwardInput / BackwardWeight: the gradient of x / of w alone, given the
// output gradient, through the op-level primitive (duel: conv2d_input_grad /
// conv2d_weight_grad / conv2d; libtorch: at::convolution_backward).
// ForwardBackward: what a training step does: x and w require grad, y = conv(x, w),
// y.backward(gy) (both gradients).
enum class ConvPass { Forward, BackwardInput, BackwardWeight, ForwardBackward };

// Training-mode batch norm (batch statistics, running stats updated) on
// x [N, C, H, W] with affine weight and bias.
struct BatchNormSpec {
  int64_t N, C, H, W;
};
enum class BatchNormPass { Forward, ForwardBackward };

// Memory-bound ops on float32 tensors of `rows` x `cols` elements.
enum class EwOp {
  Clone,          // y = x.clone()
  Add,            // y = a + b
  AddInplace,     // a += b
  AddOut,         // out = a + b into a preallocated out (duel: the raw CPU kernel; libtorch: add_out)
  Mul,            // y = a * b
  Relu,           // y = relu(x)
  LeakyRelu,      // y = leaky_relu(x, 0.2) (the DCGAN discriminator's activation)
  LeakyReluBwd,   // forward and backward of leaky_relu(x, 0.2), x requiring grad (duel and libtorch autograd)
  Sigmoid,        // y = sigmoid(x)
  Exp,            // y = exp(x)
  Tanh,           // y = tanh(x)
  Softmax,        // y = softmax(x, 1): rows of a vocabulary (language models, policies)
  AddRowBcast,    // y = a[rows, cols] + b[cols]
  AddColBcast,    // y = a[rows, cols] + b[rows, 1]
  SumAll,         // s = a.sum()
  SumDim0,        // s = a.sum(0) -> [cols]
  SumDim1,        // s = a.sum(1) -> [rows]
};
struct EwSpec {
  EwOp op;
  int64_t rows, cols;
};

// A multi-layer LSTM or GRU over a sequence (nn::LSTM / nn::GRU against torch::nn::LSTM /
// torch::nn::GRU, the same gate layout): x [T, batch, input] -> [T, batch, hidden], zero
// initial state. Forward only (no graph), or forward + backward of every weight and x.
struct RnnSpec {
  bool lstm;
  int64_t T, batch, input, hidden, layers;
  bool backward;
  // Multiply-adds x 2 of the forward's GEMMs (the gates' input and recurrent products);
  // backward costs twice that.
  double flops() const {
    const int64_t gates = lstm ? 4 : 3;
    double f = 0;
    for (int64_t l = 0; l < layers; ++l) f += 2.0 * T * batch * gates * hidden * ((l == 0 ? input : hidden) + hidden);
    return backward ? 3 * f : f;
  }
};

// Whole training steps, the inner loops of the models, built the same way in
// both libraries (same layers, initial weights aside, same optimizer settings).
enum class StepKind {
  Dcgan,              // one DCGAN iteration, batch 64: D step on real + fake, then G step (Adam)
  WganCriticImage,    // one WGAN-GP critic update, batch 64, DCGAN-style critic without batch norm:
                      // G(z) without graph, D(x), D(G(z)), the gradient penalty (double backward), Adam
  WganCriticImageBN,  // the same with a batch-norm critic (batch-norm double backward)
  WganCriticToy,      // the paper's toy critic update: MLPs of 3 x 512, batch 256
  Began,              // one BEGAN iteration, batch 64 (the autoencoder-discriminator family): D an ELU
                      // autoencoder (conv 64, 128 -> code 64 -> deconv), L(v) = mean |v - D(v)|,
                      // D step on L(x) - k L(G(z)) with k = 0.5 fixed, then G step on L(G(z)); Adam
  DqnUpdate,          // one Nature-DQN update, MinAtar network (conv16 k3 -> fc128 -> 6) on 4x10x10
                      // Breakout observations, batch 32: target-network max, Huber loss, centred RMSprop
};
struct StepSpec {
  StepKind kind;
  int64_t batch = 64;  // the DCGAN step's batch (the batch-size rows); the others use their own
};

// duel bodies (duel_cases.cpp).
void duel_set_threads(int threads);
// Sets duel's process-wide GEMM (kernels/cpu/gemm.h); false for an unknown or unsupported name.
bool duel_set_gemm(const std::string& impl);
// "avx2 (auto)" etc.: the GEMM float32 products run with.
std::string duel_gemm_description();
Prepared duel_matmul(const MatmulSpec& s);
Prepared duel_linear(const LinearSpec& s);  // forward + backward
Prepared duel_conv(const ConvSpec& s, ConvPass pass);
Prepared duel_batch_norm(const BatchNormSpec& s, BatchNormPass pass);
Prepared duel_elementwise(const EwSpec& s);
Prepared duel_rnn(const RnnSpec& s);
Prepared duel_step(const StepSpec& s);
// `steps` environment steps of game `env` with uniformly random actions, reading each
// observation as training does; resets when an episode ends. duel only.
Prepared duel_env_steps(const std::string& env, int64_t steps);

#ifdef DUEL_BENCH_WITH_TORCH
// libtorch bodies (torch_cases.cpp).
std::string torch_description();  // version, thread count, backends
// The OPENBLAS_CORETYPE that gives libtorch's GEMM the kernel this CPU can run ("SkylakeX" on
// an AVX-512 CPU, "Haswell" on an AVX2 one) when OpenBLAS fell back to an SSE kernel because it
// did not recognise the CPU; "" when its choice is fine (or OpenBLAS is not the BLAS).
std::string torch_blas_coretype_fix();
void torch_set_threads(int threads);
Prepared torch_matmul(const MatmulSpec& s);
Prepared torch_linear(const LinearSpec& s);
Prepared torch_conv(const ConvSpec& s, ConvPass pass);
Prepared torch_batch_norm(const BatchNormSpec& s, BatchNormPass pass);
Prepared torch_elementwise(const EwSpec& s);
Prepared torch_rnn(const RnnSpec& s);
Prepared torch_step(const StepSpec& s);
#endif

}  // namespace bench
