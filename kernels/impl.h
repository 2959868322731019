// One switch for every op that has more than one implementation.
//
// An op front-end (tensor/ops/*.cpp) never chooses an implementation: it names the kernel
// once, DUEL_KERNEL(device, NAME, ...) (kernels/dispatch.h), which picks the backend from
// the tensors' device (cpu, sim, cuda). Where a backend has several implementations of the
// kernel, its entry point asks this switch which one to run:
//
//   op               implementations                        default   where the choice is made
//   cpu:gemm         auto, avx512, avx2, generic, eigen     auto      kernels/cpu/gemm.cpp
//   cpu:conv2d       implicit, im2col                       implicit  kernels/cpu/conv.cpp
//   sim:conv2d       implicit, im2col                       implicit  kernels/cuda/conv.cu (emulator build)
//   cuda:conv2d      implicit, im2col, cudnn                implicit  kernels/cuda/conv.cu (nvcc build)
//   cuda:matmul      auto, hand, cublas                     auto      kernels/cuda/matmul.cu
//   cuda:batch_norm  native, cudnn                          native    kernels/cuda/batch_norm.cu
//
// cpu:gemm is also what matmul and the CPU convolutions multiply with (cpu:conv2d=implicit
// needs duel's own kernels: with cpu:gemm=eigen the convolutions run im2col + Eigen);
// cuda:conv2d covers conv2d, its two gradients and so conv_transpose2d and conv1d. "auto"
// means the fastest this machine supports (cpu:gemm: AVX-512, else AVX2+FMA, else the
// portable kernel; cuda:matmul: cuBLAS when the operands' strides allow it).
//
//   duel::set_impl("cuda:conv2d", "cudnn");           // throws if it cannot run here
//   { duel::ImplGuard g("cpu:gemm", "eigen"); ... }   // restores the previous choice
//   DUEL_IMPL="cuda:conv2d=cudnn,cuda:batch_norm=cudnn,cpu:gemm=eigen"   (environment)
//   duel impl                                          (the CLI prints the table)
//
// DUEL_IMPL (spaces around items allowed) is read when an op first needs its choice. An op it does not name falls back
// to the older per-op variables, which still work: DUEL_GEMM (cpu:gemm), DUEL_CUDA_CONV
// (sim:conv2d and cuda:conv2d), DUEL_CUDA_MATMUL (cuda:matmul), DUEL_CUDNN=1 (cuda:conv2d and
// cuda:batch_norm = cudnn). The typed setters of each family (cpu::set_gemm_impl,
// cuda::set_conv_algorithm, set_conv_backend, ...) are the same switch seen through a typed
// API: set_impl calls them, impl() reads them.
#pragma once
#include <string>
#include <vector>

namespace duel {

// Chooses the implementation of `op` (a row of the table above). Throws an error that names
// the op, the value and the choices when either is unknown, or when the implementation
// cannot run here (cuDNN without a usable GPU, AVX-512 on a CPU without it, a cuda op in a
// build without CUDA); the choice is then left as it was.
void set_impl(const std::string& op, const std::string& choice);
// The current choice of `op` (as set_impl takes it); throws for an unknown op.
std::string impl(const std::string& op);

struct ImplInfo {
  std::string op;                    // "cuda:conv2d"
  std::vector<std::string> choices;  // {"implicit", "im2col", "cudnn"}
  std::string fallback;              // the default
  std::string current;               // impl(op); for a cuda op in a build without CUDA: the default
  std::string what;                  // one line: which ops it covers
};
// Every op of the table, in its order.
std::vector<ImplInfo> impl_table();

class ImplGuard {
 public:
  ImplGuard(std::string op, const std::string& choice) : op_(std::move(op)), prev_(impl(op_)) { set_impl(op_, choice); }
  ~ImplGuard() { set_impl(op_, prev_); }
  ImplGuard(const ImplGuard&) = delete;
  ImplGuard& operator=(const ImplGuard&) = delete;

 private:
  std::string op_, prev_;
};

namespace detail {
// The value DUEL_IMPL gives `op`, or "" when it names none for it (or is unset).
// Throws, naming DUEL_IMPL, when the variable is malformed or names an unknown op or
// choice. Read by each family's initialiser, before its older variable.
std::string impl_from_env(const char* op);
}  // namespace detail

}  // namespace duel
