// Philox draws into a contiguous float32/float64 tensor, the CPU kernels behind
// tensor/random.cpp (the device versions are in kernels/cuda/random.cu, same names and
// signatures, same streams). (seed, offset) is the generator state reserved by the caller
// (Generator::advance); element i of a draw uses word i % 4 of the Philox block at counter
// offset + i / 4, and every value is computed in double and rounded once to the dtype.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace duel::cpu {

// out[i] = lo + (hi - lo) * u_i, u_i in [0, 1) (24 random bits). Reserve numel draws.
void philox_uniform(Tensor& out, uint64_t seed, uint64_t offset, double lo, double hi);
// Box-Muller on pairs: with u1 = 1 - u_{2k}, u2 = u_{2k+1}, r = sqrt(-2 log u1):
// out[2k] = mean + std r cos(2 pi u2), out[2k+1] = mean + std r sin(2 pi u2).
// Reserve numel + (numel & 1) draws (an odd count still consumes a whole pair).
void philox_normal(Tensor& out, uint64_t seed, uint64_t offset, double mean, double std);
// out[i] = u_i < p ? 1 : 0. Reserve numel draws.
void philox_bernoulli(Tensor& out, uint64_t seed, uint64_t offset, double p);

}  // namespace duel::cpu
