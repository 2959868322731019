// set_flush_denormal (kernels/cpu/fp_env.h): a product whose result is a denormal float is kept
// without the mode and flushed to zero with it (FTZ), a denormal input reads as zero (DAZ), on
// the calling thread and on the threads of its OpenMP team; the guard restores the previous mode.
#include <catch2/catch.hpp>

#include <omp.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "duel.h"
#include "tests/skip.h"

using namespace duel;

namespace {

float denormal_product() {
  volatile float tiny = 1e-30f, scale = 1e-10f;  // 1e-40: below FLT_MIN (1.2e-38), a denormal
  return tiny * scale;
}

float denormal_input_times_one() {
  const uint32_t bits = 0x00000400u;  // a denormal float (about 1.4e-42), built from its bits
  float d;
  std::memcpy(&d, &bits, sizeof d);
  volatile float v = d, one = 1.0f;
  return v * one;
}

}  // namespace

TEST_CASE("fp_env: set_flush_denormal flushes denormal results and inputs, on every OpenMP thread", "[fp_env]") {
  const bool before = flush_denormal();
  if (!set_flush_denormal(false)) SKIP_TEST("this CPU has no flush-to-zero mode (not x86-64)");
  CHECK_FALSE(flush_denormal());
  CHECK(std::fpclassify(denormal_product()) == FP_SUBNORMAL);
  CHECK(std::fpclassify(denormal_input_times_one()) == FP_SUBNORMAL);

  const int threads = 4;
  omp_set_num_threads(threads);
  {
    FlushDenormalGuard flush(true);
    CHECK(flush_denormal());
    CHECK(denormal_product() == 0.0f);
    CHECK(denormal_input_times_one() == 0.0f);
    std::vector<float> product(threads, -1.0f), input(threads, -1.0f);
    std::vector<int> mode(threads, -1);
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
      product[t] = denormal_product();
      input[t] = denormal_input_times_one();
      mode[t] = flush_denormal() ? 1 : 0;
    }
    for (int t = 0; t < threads; ++t) {
      INFO("OpenMP thread " << t);
      CHECK(mode[t] == 1);
      CHECK(product[t] == 0.0f);
      CHECK(input[t] == 0.0f);
    }
  }
  // the guard put back the mode it found, on the team too
  CHECK_FALSE(flush_denormal());
  std::vector<float> product(threads, 0.0f);
#pragma omp parallel num_threads(threads)
  product[omp_get_thread_num()] = denormal_product();
  for (int t = 0; t < threads; ++t) CHECK(std::fpclassify(product[t]) == FP_SUBNORMAL);
  set_flush_denormal(before);
}
