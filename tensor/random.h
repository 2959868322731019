// Counter-based random numbers (Philox 4x32-10, Salmon et al. 2011). A stream is
// fully determined by (seed, offset), so the CUDA backend can produce the same
// numbers in parallel: element i of a draw uses counter (offset + i/4).
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace duel {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eed) : seed_(seed) {}
  void manual_seed(uint64_t seed) { seed_ = seed; offset_ = 0; }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }  // in blocks of 4 x 32 bits
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed; offset_ = offset; }
  // Reserves n 32-bit draws and returns the starting block offset.
  uint64_t advance(uint64_t n) { uint64_t o = offset_; offset_ += (n + 3) / 4; return o; }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The process-wide default generator (seeded with manual_seed).
Generator& default_generator();
void manual_seed(uint64_t seed);

// The Philox block function: 4 uint32 outputs for (key = seed, counter).
// The counter is {lo32(counter), hi32(counter), 0, 0} and the key {lo32(seed), hi32(seed)}.
void philox4x32(uint64_t seed, uint64_t counter, uint32_t out[4]);
// The full Philox4x32-10 block function (Random123's philox4x32_R(10, ctr, key)).
void philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);
// 32 random bits -> float in [0, 1) (24 bits) and double in [0,1) (from two draws).
inline float uint32_to_unit_float(uint32_t x) { return (x >> 8) * (1.0f / 16777216.0f); }

Tensor rand(const Shape& shape, TensorOptions opts = {}, Generator* gen = nullptr);   // U[0, 1)
Tensor randn(const Shape& shape, TensorOptions opts = {}, Generator* gen = nullptr);  // N(0, 1), Box-Muller
Tensor uniform(const Shape& shape, double lo, double hi, TensorOptions opts = {}, Generator* gen = nullptr);
Tensor normal(const Shape& shape, double mean, double std, TensorOptions opts = {}, Generator* gen = nullptr);
Tensor bernoulli(const Shape& shape, double p, TensorOptions opts = {}, Generator* gen = nullptr);  // 0/1 in opts.dtype
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator* gen = nullptr);  // int64 in [low, high)
Tensor randperm(int64_t n, Generator* gen = nullptr);
// In-place fills (for initialisers); not recorded.
void uniform_(Tensor& t, double lo, double hi, Generator* gen = nullptr);
void normal_(Tensor& t, double mean, double std, Generator* gen = nullptr);

}  // namespace duel
