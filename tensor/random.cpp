// Philox 4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy
// as 1, 2, 3", SC 2011). Element i of a draw of n numbers reads word i % 4 of
// the block at counter (offset + i / 4), so any element can be computed
// independently: the CUDA kernels produce the same stream in parallel.
//
// uniform / normal / bernoulli (and rand, randn, dropout's mask) into float32/float64
// draw on the tensor's own device through DUEL_KERNEL (kernels/cpu/random.cpp,
// kernels/cuda/random.cu on sim and cuda): the generator state (seed, offset) stays on the
// host, advance() reserves the range, and each backend computes element i from counter
// offset + i / 4, so the same generator state gives the same numbers on every device
// (bitwise on sim; normal within a few ulps on a GPU, whose log/sin/cos differ from glibc's).
// Other dtypes (bernoulli into int64/bool) draw in float64 on the CPU and convert.
#include "tensor/random.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "kernels/cpu/random.h"
#include "kernels/dispatch.h"
#include "tensor/ops/elementwise.h"

namespace duel {

void philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = (uint64_t)M0 * c0, p1 = (uint64_t)M1 * c2;
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0, hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
    k0 += W0;
    k1 += W1;
  }
  out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

void philox4x32(uint64_t seed, uint64_t counter, uint32_t out[4]) {
  const uint32_t ctr[4] = {(uint32_t)counter, (uint32_t)(counter >> 32), 0u, 0u};
  const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  philox4x32(ctr, key, out);
}

Generator& default_generator() {
  static Generator gen(0x5eed);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

namespace {

Generator& pick(Generator* g) { return g ? *g : default_generator(); }

// Fills n uniform [0,1) doubles from (seed, offset): element i uses word i%4 of block offset + i/4.
template <class F>
void for_each_uniform(Generator& gen, int64_t n, F f) {
  uint64_t seed = gen.seed(), base = gen.advance(n);
#pragma omp parallel for if (n >= 65536)
  for (int64_t blk = 0; blk < (n + 3) / 4; ++blk) {
    uint32_t r[4];
    philox4x32(seed, base + blk, r);
    for (int j = 0; j < 4 && blk * 4 + j < n; ++j) f(blk * 4 + j, uint32_to_unit_float(r[j]));
  }
}

Tensor on_device(Tensor cpu, const TensorOptions& opts) {
  Tensor t = cpu.to(opts.dtype).to(opts.device);
  if (opts.requires_grad) t.requires_grad_();
  return t;
}

// Draws `draws` numbers with kernel(out, seed, offset) straight into a tensor of opts'
// dtype on opts' device. Only for float32/float64 (the kernels' dtypes).
template <class K>
Tensor draw_direct(const Shape& shape, const TensorOptions& opts, Generator* gen, int64_t draws, K kernel) {
  Tensor t = empty(shape, TensorOptions(opts.dtype, opts.device));
  Generator& g = pick(gen);
  const uint64_t seed = g.seed(), offset = g.advance(static_cast<uint64_t>(draws));
  kernel(t, seed, offset);
  if (opts.requires_grad) t.requires_grad_();
  return t;
}

}  // namespace

Tensor rand(const Shape& shape, TensorOptions opts, Generator* gen) { return uniform(shape, 0, 1, opts, gen); }

Tensor uniform(const Shape& shape, double lo, double hi, TensorOptions opts, Generator* gen) {
  if (is_floating(opts.dtype))
    return draw_direct(shape, opts, gen, shape_numel(shape), [&](Tensor& t, uint64_t seed, uint64_t offset) {
      DUEL_KERNEL(t.device(), philox_uniform, t, seed, offset, lo, hi);
    });
  Tensor t = empty(shape, TensorOptions(kFloat64));
  double* p = t.data<double>();
  for_each_uniform(pick(gen), t.numel(), [&](int64_t i, float u) { p[i] = lo + (hi - lo) * (double)u; });
  return on_device(t, opts);
}

Tensor normal(const Shape& shape, double mean, double std, TensorOptions opts, Generator* gen) {
  // Box-Muller on pairs: element 2k and 2k+1 come from uniforms 2k and 2k+1
  if (is_floating(opts.dtype)) {
    const int64_t n = shape_numel(shape);
    return draw_direct(shape, opts, gen, n + (n & 1), [&](Tensor& t, uint64_t seed, uint64_t offset) {
      DUEL_KERNEL(t.device(), philox_normal, t, seed, offset, mean, std);
    });
  }
  Tensor t = empty(shape, TensorOptions(kFloat64));
  double* p = t.data<double>();
  int64_t n = t.numel();
  std::vector<float> u(n + (n & 1));
  for_each_uniform(pick(gen), (int64_t)u.size(), [&](int64_t i, float v) { u[i] = v; });
  for (int64_t k = 0; k < n; k += 2) {
    double u1 = 1.0 - (double)u[k];  // (0, 1]
    double u2 = (double)u[k + 1];
    double r = std::sqrt(-2.0 * std::log(u1));
    p[k] = mean + std * r * std::cos(2 * M_PI * u2);
    if (k + 1 < n) p[k + 1] = mean + std * r * std::sin(2 * M_PI * u2);
  }
  return on_device(t, opts);
}

Tensor randn(const Shape& shape, TensorOptions opts, Generator* gen) { return normal(shape, 0, 1, opts, gen); }

Tensor bernoulli(const Shape& shape, double prob, TensorOptions opts, Generator* gen) {
  DUEL_CHECK(prob >= 0 && prob <= 1, "bernoulli: p must be in [0, 1], got ", prob);
  if (is_floating(opts.dtype))
    return draw_direct(shape, opts, gen, shape_numel(shape), [&](Tensor& t, uint64_t seed, uint64_t offset) {
      DUEL_KERNEL(t.device(), philox_bernoulli, t, seed, offset, prob);
    });
  Tensor t = empty(shape, TensorOptions(kFloat64));
  double* p = t.data<double>();
  for_each_uniform(pick(gen), t.numel(), [&](int64_t i, float u) { p[i] = (double)u < prob ? 1.0 : 0.0; });
  return on_device(t, opts);
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator* gen) {
  DUEL_CHECK(high > low, "randint: expected low < high, got [", low, ", ", high, ")");
  Tensor t = empty(shape, TensorOptions(kInt64));
  int64_t* p = t.data<int64_t>();
  Generator& g = pick(gen);
  uint64_t range = (uint64_t)(high - low), seed = g.seed(), base = g.advance(2 * t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) {
    uint32_t r[4];
    philox4x32(seed, base + i / 2, r);
    uint64_t bits = ((uint64_t)r[(i % 2) * 2] << 32) | r[(i % 2) * 2 + 1];
    p[i] = low + (int64_t)(bits % range);
  }
  return t;
}

Tensor randperm(int64_t n, Generator* gen) {
  // Fisher-Yates driven by one randint draw per position
  Tensor keys = randint(0, INT64_MAX, {n}, gen);
  const int64_t* k = keys.data<int64_t>();
  std::vector<int64_t> perm(n);
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[k[i] % (i + 1)]);
  return from_vector(perm, {n}, TensorOptions(kInt64));
}

void uniform_(Tensor& t, double lo, double hi, Generator* gen) {
  NoGradGuard ng;
  t.copy_(uniform(t.sizes(), lo, hi, TensorOptions(t.dtype(), t.device()), gen));
}

void normal_(Tensor& t, double mean, double std, Generator* gen) {
  NoGradGuard ng;
  t.copy_(normal(t.sizes(), mean, std, TensorOptions(t.dtype(), t.device()), gen));
}

}  // namespace duel
