// Random number generators that reproduce numpy's streams bit for bit, so that a C++
// environment seeded with S replays the Python reference seeded with S exactly:
//
//  * NumpyRandomState == numpy.random.RandomState(seed), which MinAtar's Environment uses
//    (Environment.seed() shares one RandomState between sticky actions and the game).
//    MT19937 with the classic init_genrand() seeding -- the same algorithm and seeding as
//    std::mt19937 -- plus numpy's legacy derivations: rand() is the 53-bit genrand_res53
//    double, randint() is masked rejection sampling on 32-bit draws.
//  * NumpyGenerator == numpy.random.default_rng(seed) == Generator(PCG64(SeedSequence(seed))),
//    which Gymnasium's env.reset(seed=...) uses (gymnasium.utils.seeding.np_random).
//
// Both are small, allocation-free and deterministic. Note that seeds are plain integers:
// numpy only accepts RandomState seeds in [0, 2^32); a larger 64-bit seed is folded to
// 32 bits here (low ^ high), so it still works but has no numpy counterpart.
#pragma once
#include <cstdint>
#include <random>

namespace duel::rl {

class NumpyRandomState {
 public:
  explicit NumpyRandomState(uint64_t seed = 0) { this->seed(seed); }
  void seed(uint64_t seed) { mt_.seed(fold_seed(seed)); }
  static uint32_t fold_seed(uint64_t seed) {
    return static_cast<uint32_t>(seed) ^ static_cast<uint32_t>(seed >> 32);
  }

  uint32_t next_uint32() { return static_cast<uint32_t>(mt_()); }

  // RandomState.rand(): uniform double in [0, 1) with 53 random bits.
  double rand() {
    const uint32_t a = next_uint32() >> 5, b = next_uint32() >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
  }

  // RandomState.randint(low, high): uniform integer in [low, high), high - low < 2^32.
  int64_t randint(int64_t low, int64_t high) {
    const uint32_t range = static_cast<uint32_t>(high - low - 1);  // inclusive span
    if (range == 0) return low;  // numpy draws nothing in this case
    uint32_t mask = range;
    mask |= mask >> 1; mask |= mask >> 2; mask |= mask >> 4; mask |= mask >> 8; mask |= mask >> 16;
    uint32_t v;
    while ((v = next_uint32() & mask) > range) {
    }
    return low + static_cast<int64_t>(v);
  }
  int64_t randint(int64_t high) { return randint(0, high); }

 private:
  std::mt19937 mt_;
};

class NumpyGenerator {
 public:
  explicit NumpyGenerator(uint64_t seed = 0) { this->seed(seed); }
  // Same state as numpy.random.default_rng(seed) for any seed in [0, 2^64).
  void seed(uint64_t seed);

  uint64_t next_uint64() {
    state_ = state_ * kMultiplier + inc_;
    const uint64_t hi = static_cast<uint64_t>(state_ >> 64), lo = static_cast<uint64_t>(state_);
    const unsigned rot = static_cast<unsigned>(state_ >> 122);
    const uint64_t x = hi ^ lo;
    return (x >> rot) | (x << ((64u - rot) & 63u));  // PCG XSL-RR 128/64 output
  }
  // Generator.random(): (next_uint64 >> 11) * 2^-53.
  double random() { return static_cast<double>(next_uint64() >> 11) * (1.0 / 9007199254740992.0); }
  // Generator.uniform(low, high): low + (high - low) * u with the product and the sum rounded
  // separately, as numpy computes it. No FMA contraction, whatever the compiler's default
  // (clang contracts a*b+c within an expression, and the caller's file-level pragma does not
  // reach an inline function defined in a header): a last-bit difference in CartPole's start
  // state becomes another trajectory hundreds of steps later.
#if defined(__GNUC__) && !defined(__clang__)
  __attribute__((optimize("fp-contract=off")))
#endif
  double uniform(double low, double high) {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
    return low + (high - low) * random();
  }

 private:
  using u128 = unsigned __int128;
  static constexpr u128 kMultiplier =
      (static_cast<u128>(2549297995355413924ULL) << 64) | 4865540595714422341ULL;
  u128 state_ = 0;
  u128 inc_ = 1;
};

}  // namespace duel::rl
