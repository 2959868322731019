// numpy's SeedSequence (entropy-pool hashing after M. O'Neill's seed_seq_fe) feeding PCG64,
// transcribed from numpy/random/bit_generator.pyx and numpy/random/src/pcg64 so that
// NumpyGenerator(seed) is bit-identical to numpy.random.default_rng(seed).
#include "rl/envs/rng.h"

#include <array>

namespace duel::rl {
namespace {

constexpr uint32_t kInitA = 0x43b0d7e5u, kMultA = 0x931e8875u;
constexpr uint32_t kInitB = 0x8b51f9ddu, kMultB = 0x58f38dedu;
constexpr uint32_t kMixMultL = 0xca01f9ddu, kMixMultR = 0x4973f715u;
constexpr int kXShift = 16;
constexpr int kPoolSize = 4;

uint32_t hashmix(uint32_t value, uint32_t& hash_const) {
  value ^= hash_const;
  hash_const *= kMultA;
  value *= hash_const;
  value ^= value >> kXShift;
  return value;
}

uint32_t mix(uint32_t x, uint32_t y) {
  uint32_t result = kMixMultL * x - kMixMultR * y;
  result ^= result >> kXShift;
  return result;
}

}  // namespace

void NumpyGenerator::seed(uint64_t seed) {
  // SeedSequence(seed).entropy as 32-bit little-endian words ([0] for seed 0).
  std::array<uint32_t, 2> entropy{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  const int n_entropy = (seed >> 32) ? 2 : 1;

  // SeedSequence.mix_entropy: fill the pool, then mix every word into every other.
  std::array<uint32_t, kPoolSize> pool{};
  uint32_t hash_const = kInitA;
  for (int i = 0; i < kPoolSize; ++i) pool[i] = hashmix(i < n_entropy ? entropy[i] : 0u, hash_const);
  for (int src = 0; src < kPoolSize; ++src)
    for (int dst = 0; dst < kPoolSize; ++dst)
      if (src != dst) pool[dst] = mix(pool[dst], hashmix(pool[src], hash_const));

  // SeedSequence.generate_state(4, np.uint64): 8 words, read back as 4 little-endian uint64.
  std::array<uint64_t, 4> words{};
  hash_const = kInitB;
  for (int i = 0; i < 8; ++i) {
    uint32_t v = pool[i % kPoolSize];
    v ^= hash_const;
    hash_const *= kMultB;
    v *= hash_const;
    v ^= v >> kXShift;
    words[i / 2] |= static_cast<uint64_t>(v) << (32 * (i % 2));
  }

  // pcg64_set_seed: state = words[0]:words[1], sequence = words[2]:words[3] (high:low).
  const u128 init_state = (static_cast<u128>(words[0]) << 64) | words[1];
  const u128 init_seq = (static_cast<u128>(words[2]) << 64) | words[3];
  state_ = 0;
  inc_ = (init_seq << 1) | 1u;
  state_ = state_ * kMultiplier + inc_;
  state_ += init_state;
  state_ = state_ * kMultiplier + inc_;
}

}  // namespace duel::rl
