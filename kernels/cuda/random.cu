// Counter-based uniform random numbers on the device: the Philox 4x32-10 stream of
// tensor/random.cpp, bit for bit.
//
// A draw of n numbers from (seed, offset) gives element i the word i % 4 of the Philox
// block at counter offset + i / 4 (key = seed). Blocks are independent, so ONE THREAD
// PER PHILOX BLOCK (grid-stride): it runs the 10 rounds once and writes its (up to) 4
// consecutive elements; a warp writes 128 consecutive elements (coalesced). The state
// (seed, offset) stays on the host in duel::Generator: the caller reserves the range
// with Generator::advance(n) and passes its start here, exactly as the CPU code does.
//
// philox_normal: Box-Muller on pairs of the same stream (uniforms 2k, 2k+1 -> outputs 2k,
// 2k+1), so one thread per Philox block again makes two pairs; philox_bernoulli: u < p.
// Every value is computed in double and rounded once to the dtype, with the expressions of
// kernels/cpu/random.cpp. The tensor front-ends (tensor/random.cpp: rand, uniform, randn,
// normal, bernoulli, hence dropout) call these for float tensors on sim and cuda, so a
// device tensor gets the same numbers as a CPU tensor drawn from the same generator state:
// bit for bit on the emulator (same libm), within a few ulps for normal on a GPU (CUDA's
// log/sin/cos). tests/parity/test_parity_random.cpp checks both.
#include "kernels/cuda/utils.cuh"

namespace duel::DUEL_BACKEND_NAMESPACE {
namespace {

DUEL_DEVICE DUEL_FORCEINLINE void philox4x32_10(uint64_t seed, uint64_t counter, uint32_t out[4]) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0u, c3 = 0u;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
#pragma unroll
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(M0) * c0, p1 = static_cast<uint64_t>(M1) * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
    k0 += W0;
    k1 += W1;
  }
  out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

DUEL_DEVICE DUEL_FORCEINLINE double unit_double(uint32_t r) {
  return static_cast<double>(static_cast<float>(r >> 8) * (1.0f / 16777216.0f));  // uint32_to_unit_float
}

template <class T>
__global__ void philox_uniform_kernel(T* __restrict__ out, int64_t n, uint64_t seed, uint64_t offset, double lo,
                                      double hi) {
  const int64_t blocks = (n + 3) / 4;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t blk = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; blk < blocks; blk += step) {
    uint32_t r[4];
    philox4x32_10(seed, offset + static_cast<uint64_t>(blk), r);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t i = blk * 4 + j;
      if (i < n) {
        out[i] = static_cast<T>(lo + (hi - lo) * unit_double(r[j]));
      }
    }
  }
}

template <class T>
__global__ void philox_normal_kernel(T* __restrict__ out, int64_t n, uint64_t seed, uint64_t offset, double mean,
                                     double stddev) {
  const int64_t blocks = (n + 3) / 4;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t blk = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; blk < blocks; blk += step) {
    uint32_t r[4];
    philox4x32_10(seed, offset + static_cast<uint64_t>(blk), r);
#pragma unroll
    for (int j = 0; j < 4; j += 2) {
      const int64_t i = blk * 4 + j;
      if (i < n) {
        const double u1 = 1.0 - unit_double(r[j]);  // (0, 1]
        const double u2 = unit_double(r[j + 1]);
        const double rad = sqrt(-2.0 * log(u1));
        out[i] = static_cast<T>(mean + stddev * rad * cos(2 * M_PI * u2));
        if (i + 1 < n) out[i + 1] = static_cast<T>(mean + stddev * rad * sin(2 * M_PI * u2));
      }
    }
  }
}

template <class T>
__global__ void philox_bernoulli_kernel(T* __restrict__ out, int64_t n, uint64_t seed, uint64_t offset, double p) {
  const int64_t blocks = (n + 3) / 4;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t blk = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; blk < blocks; blk += step) {
    uint32_t r[4];
    philox4x32_10(seed, offset + static_cast<uint64_t>(blk), r);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t i = blk * 4 + j;
      if (i < n) out[i] = unit_double(r[j]) < p ? T(1) : T(0);
    }
  }
}

void check_out(const Tensor& out, const char* op) {
  DUEL_CHECK(out.device().type == kDevice, op, ": tensor must be on ", Device(kDevice).str(), ", got one on ",
             out.device().str());
  DUEL_CHECK(out.is_contiguous(), op, ": expected a contiguous tensor, got shape ", shape_str(out.sizes()));
}

}  // namespace

void philox_normal(Tensor& out, uint64_t seed, uint64_t offset, double mean, double std) {
  check_out(out, "philox_normal");
  const int64_t n = out.numel();
  if (n == 0) return;
  DUEL_DISPATCH_FLOATING(out.dtype(), "philox_normal", [&] {
    using T = scalar_t;
    DUEL_LAUNCH((philox_normal_kernel<T>), grid_for((n + 3) / 4), kThreads, 0, launch_stream())(out.data<T>(), n,
                                                                                                 seed, offset, mean, std);
    DUEL_CHECK_LAUNCH("philox_normal_kernel");
  });
}

void philox_bernoulli(Tensor& out, uint64_t seed, uint64_t offset, double p) {
  check_out(out, "philox_bernoulli");
  const int64_t n = out.numel();
  if (n == 0) return;
  DUEL_DISPATCH_FLOATING(out.dtype(), "philox_bernoulli", [&] {
    using T = scalar_t;
    DUEL_LAUNCH((philox_bernoulli_kernel<T>), grid_for((n + 3) / 4), kThreads, 0, launch_stream())(out.data<T>(), n,
                                                                                                    seed, offset, p);
    DUEL_CHECK_LAUNCH("philox_bernoulli_kernel");
  });
}

void philox_uniform(Tensor& out, uint64_t seed, uint64_t offset, double lo, double hi) {
  DUEL_CHECK(out.device().type == kDevice, "philox_uniform: tensor must be on ", Device(kDevice).str());
  DUEL_CHECK(out.is_contiguous(), "philox_uniform: expected a contiguous tensor");
  const int64_t n = out.numel();
  if (n == 0) return;
  DUEL_DISPATCH_FLOATING(out.dtype(), "philox_uniform", [&] {
    using T = scalar_t;
    DUEL_LAUNCH((philox_uniform_kernel<T>), grid_for((n + 3) / 4), kThreads, 0, launch_stream())(out.data<T>(), n, seed, offset,
                                                                                          lo, hi);
    DUEL_CHECK_LAUNCH("philox_uniform_kernel");
  });
}

}  // namespace duel::DUEL_BACKEND_NAMESPACE
