// CPU Philox draws (see random.h); the device kernels in kernels/cuda/random.cu compute
// the same expressions, element by element.
#include "kernels/cpu/random.h"

#include <cmath>

#include "tensor/random.h"

namespace duel::cpu {
namespace {

constexpr int64_t kParallelBlocks = 1 << 14;  // Philox blocks (4 values) per OpenMP split

template <class T, class F>
void for_each_block(Tensor& out, const char* op, uint64_t seed, uint64_t offset, F f) {
  DUEL_CHECK(out.device().is_cpu(), op, ": expected a cpu tensor, got one on ", out.device().str());
  DUEL_CHECK(out.is_contiguous(), op, ": expected a contiguous tensor, got shape ", shape_str(out.sizes()));
  T* p = out.data<T>();
  const int64_t n = out.numel(), blocks = (n + 3) / 4;
#pragma omp parallel for if (blocks >= kParallelBlocks)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    uint32_t r[4];
    philox4x32(seed, offset + static_cast<uint64_t>(blk), r);
    f(p, n, blk * 4, r);
  }
}

template <class T>
void uniform_typed(Tensor& out, uint64_t seed, uint64_t offset, double lo, double hi) {
  for_each_block<T>(out, "philox_uniform", seed, offset, [=](T* p, int64_t n, int64_t i0, const uint32_t* r) {
    for (int j = 0; j < 4 && i0 + j < n; ++j)
      p[i0 + j] = static_cast<T>(lo + (hi - lo) * static_cast<double>(uint32_to_unit_float(r[j])));
  });
}

template <class T>
void normal_typed(Tensor& out, uint64_t seed, uint64_t offset, double mean, double std) {
  for_each_block<T>(out, "philox_normal", seed, offset, [=](T* p, int64_t n, int64_t i0, const uint32_t* r) {
    for (int j = 0; j < 4 && i0 + j < n; j += 2) {
      const double u1 = 1.0 - static_cast<double>(uint32_to_unit_float(r[j]));  // (0, 1]
      const double u2 = static_cast<double>(uint32_to_unit_float(r[j + 1]));
      const double rad = std::sqrt(-2.0 * std::log(u1));
      p[i0 + j] = static_cast<T>(mean + std * rad * std::cos(2 * M_PI * u2));
      if (i0 + j + 1 < n) p[i0 + j + 1] = static_cast<T>(mean + std * rad * std::sin(2 * M_PI * u2));
    }
  });
}

template <class T>
void bernoulli_typed(Tensor& out, uint64_t seed, uint64_t offset, double prob) {
  for_each_block<T>(out, "philox_bernoulli", seed, offset, [=](T* p, int64_t n, int64_t i0, const uint32_t* r) {
    for (int j = 0; j < 4 && i0 + j < n; ++j)
      p[i0 + j] = static_cast<double>(uint32_to_unit_float(r[j])) < prob ? T(1) : T(0);
  });
}

}  // namespace

void philox_uniform(Tensor& out, uint64_t seed, uint64_t offset, double lo, double hi) {
  DUEL_DISPATCH_FLOATING(out.dtype(), "philox_uniform", [&] { uniform_typed<scalar_t>(out, seed, offset, lo, hi); });
}

void philox_normal(Tensor& out, uint64_t seed, uint64_t offset, double mean, double std) {
  DUEL_DISPATCH_FLOATING(out.dtype(), "philox_normal", [&] { normal_typed<scalar_t>(out, seed, offset, mean, std); });
}

void philox_bernoulli(Tensor& out, uint64_t seed, uint64_t offset, double p) {
  DUEL_DISPATCH_FLOATING(out.dtype(), "philox_bernoulli", [&] { bernoulli_typed<scalar_t>(out, seed, offset, p); });
}

}  // namespace duel::cpu
