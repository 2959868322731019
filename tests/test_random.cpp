// Random numbers (tensor/random.h): Philox known answers, the documented
// stream layout, reproducibility, and distribution moments.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "tests/fixture.h"

using namespace duel;
using namespace duel::test;

namespace {
struct Moments {
  double mean = 0, var = 0, min = 0, max = 0;
};
Moments moments(const Tensor& t) {
  auto v = t.to_vector<double>();
  Moments m;
  m.mean = std::accumulate(v.begin(), v.end(), 0.0) / (double)v.size();
  for (double x : v) m.var += (x - m.mean) * (x - m.mean);
  m.var /= (double)(v.size() - 1);
  m.min = *std::min_element(v.begin(), v.end());
  m.max = *std::max_element(v.begin(), v.end());
  return m;
}
}  // namespace

TEST_CASE("random: Philox4x32-10 known-answer tests (Random123 kat_vectors)", "[random]") {
  uint32_t out[4];
  // counter 0, key 0: expressible with the (seed, counter) form
  philox4x32(uint64_t(0), uint64_t(0), out);
  CHECK(out[0] == 0x6627e8d5u);
  CHECK(out[1] == 0xe169c58du);
  CHECK(out[2] == 0xbc57ac4cu);
  CHECK(out[3] == 0x9b00dbd8u);
  uint32_t zc[4] = {0, 0, 0, 0}, zk[2] = {0, 0};
  philox4x32(zc, zk, out);
  CHECK(out[0] == 0x6627e8d5u);
  CHECK(out[3] == 0x9b00dbd8u);
  // all-ones counter and key (needs the full 4x32 counter)
  uint32_t fc[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, fk[2] = {0xffffffffu, 0xffffffffu};
  philox4x32(fc, fk, out);
  CHECK(out[0] == 0x408f276du);
  CHECK(out[1] == 0x41c83b0eu);
  CHECK(out[2] == 0xa20bc7c6u);
  CHECK(out[3] == 0x6d5451fdu);
  // the digits of pi
  uint32_t pc[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, pk[2] = {0xa4093822u, 0x299f31d0u};
  philox4x32(pc, pk, out);
  CHECK(out[0] == 0xd16cfe09u);
  CHECK(out[1] == 0x94fdccebu);
  CHECK(out[2] == 0x5001e420u);
  CHECK(out[3] == 0x24126ea1u);
  // the 64-bit form maps (seed, counter) to key {lo, hi} and counter {lo, hi, 0, 0}
  uint64_t seed = 0x0123456789abcdefull, ctr = 0xfedcba9876543210ull;
  uint32_t c4[4] = {0x76543210u, 0xfedcba98u, 0, 0}, k2[2] = {0x89abcdefu, 0x01234567u}, out2[4];
  philox4x32(seed, ctr, out);
  philox4x32(c4, k2, out2);
  CHECK(std::equal(out, out + 4, out2));
}

TEST_CASE("random: rand follows the documented stream layout", "[random]") {
  // element i of a draw reads word i % 4 of block (offset + i / 4)
  Generator gen(42);
  Tensor r = rand({10}, kFloat64, &gen);
  CHECK(gen.offset() == 3);
  auto v = r.to_vector<double>();
  for (int64_t i = 0; i < 10; ++i) {
    uint32_t w[4];
    philox4x32(uint64_t(42), uint64_t(i / 4), w);
    CHECK(v[i] == (double)uint32_to_unit_float(w[i % 4]));
  }
  // the next draw continues at block 3
  Tensor r2 = rand({1}, kFloat64, &gen);
  uint32_t w[4];
  philox4x32(uint64_t(42), uint64_t(3), w);
  CHECK(r2.item() == (double)uint32_to_unit_float(w[0]));
  CHECK(uint32_to_unit_float(0xffffffffu) < 1.0f);
  CHECK(uint32_to_unit_float(0) == 0.0f);
}

TEST_CASE("random: reproducible from the seed", "[random]") {
  Generator g1(7), g2(7), g3(8);
  Tensor a = randn({257}, kFloat64, &g1), b = randn({257}, kFloat64, &g2), c = randn({257}, kFloat64, &g3);
  CHECK(a.to_vector<double>() == b.to_vector<double>());
  CHECK(a.to_vector<double>() != c.to_vector<double>());
  // consecutive draws differ; set_state rewinds
  uint64_t off = g1.offset();
  Tensor d1 = rand({5}, kFloat64, &g1);
  Tensor d2 = rand({5}, kFloat64, &g1);
  CHECK(d1.to_vector<double>() != d2.to_vector<double>());
  g1.set_state(7, off);
  CHECK(rand({5}, kFloat64, &g1).to_vector<double>() == d1.to_vector<double>());
  g1.manual_seed(7);
  CHECK(g1.offset() == 0);
  CHECK(randn({257}, kFloat64, &g1).to_vector<double>() == a.to_vector<double>());
  // the default generator
  manual_seed(123);
  Tensor e1 = rand({4, 4});
  Tensor i1 = randint(0, 1000, {6});
  manual_seed(123);
  Tensor e2 = rand({4, 4});
  Tensor i2 = randint(0, 1000, {6});
  CHECK(e1.to_vector<double>() == e2.to_vector<double>());
  CHECK(i1.to_vector<int64_t>() == i2.to_vector<int64_t>());
  // large draws (parallel path) are reproducible too
  Generator h1(99), h2(99);
  CHECK(rand({100003}, kFloat32, &h1).to_vector<float>() == rand({100003}, kFloat32, &h2).to_vector<float>());
}

TEST_CASE("random: uniform and normal moments (100k draws)", "[random]") {
  Generator gen(2024);
  const int64_t n = 100000;
  Tensor u = rand({n}, kFloat64, &gen);
  Moments mu = moments(u);
  CHECK(mu.mean == Approx(0.5).margin(0.005));         // sd of the mean ~ 0.0009
  CHECK(mu.var == Approx(1.0 / 12).margin(0.002));     // sd ~ 0.0002
  CHECK(mu.min >= 0.0);
  CHECK(mu.max < 1.0);
  Tensor u2 = uniform({n}, -3.0, 5.0, kFloat32, &gen);
  CHECK(u2.dtype() == kFloat32);
  Moments m2 = moments(u2);
  CHECK(m2.mean == Approx(1.0).margin(0.04));
  CHECK(m2.var == Approx(64.0 / 12).margin(0.12));
  CHECK(m2.min >= -3.0);
  CHECK(m2.max < 5.0);
  // uniformity: counts in 10 equal bins (chi-square with 9 dof; 40 is far beyond p = 1e-5)
  std::vector<int64_t> bins(10, 0);
  for (double x : u.to_vector<double>()) bins[std::min<int64_t>(9, (int64_t)(x * 10))]++;
  double chi2 = 0;
  for (auto b : bins) chi2 += (b - n / 10.0) * (b - n / 10.0) / (n / 10.0);
  CHECK(chi2 < 40.0);

  Tensor z = randn({n}, kFloat64, &gen);
  Moments mz = moments(z);
  CHECK(mz.mean == Approx(0.0).margin(0.02));  // sd ~ 0.003
  CHECK(mz.var == Approx(1.0).margin(0.03));   // sd ~ 0.0045
  auto zv = z.to_vector<double>();
  double within1 = 0, within2 = 0, m3 = 0, m4 = 0;
  for (double x : zv) {
    within1 += std::abs(x) < 1.0;
    within2 += std::abs(x) < 2.0;
    m3 += x * x * x;
    m4 += x * x * x * x;
  }
  CHECK(within1 / n == Approx(0.6827).margin(0.007));
  CHECK(within2 / n == Approx(0.9545).margin(0.004));
  CHECK(m3 / n == Approx(0.0).margin(0.05));  // skewness
  CHECK(m4 / n == Approx(3.0).margin(0.1));   // kurtosis
  Tensor z2 = normal({n}, 2.0, 0.5, kFloat32, &gen);
  Moments mz2 = moments(z2);
  CHECK(mz2.mean == Approx(2.0).margin(0.01));
  CHECK(mz2.var == Approx(0.25).margin(0.01));
  // odd sizes (Box-Muller pairs) and 0-d / empty shapes
  CHECK(randn({3}, kFloat64, &gen).numel() == 3);
  CHECK(randn({}, kFloat64, &gen).dim() == 0);
  CHECK(randn({0, 4}, kFloat64, &gen).sizes() == Shape{0, 4});
}

TEST_CASE("random: bernoulli rate", "[random]") {
  Generator gen(5);
  const int64_t n = 100000;
  Tensor b = bernoulli({n}, 0.3, kFloat32, &gen);
  CHECK(b.dtype() == kFloat32);
  auto v = b.to_vector<double>();
  double ones = 0;
  for (double x : v) {
    REQUIRE((x == 0.0 || x == 1.0));
    ones += x;
  }
  CHECK(ones / n == Approx(0.3).margin(0.006));  // sd ~ 0.0015
  CHECK(sum(bernoulli({1000}, 0.0, kFloat32, &gen)).item() == 0.0);
  CHECK(sum(bernoulli({1000}, 1.0, kFloat32, &gen)).item() == 1000.0);
  CHECK(bernoulli({4}, 0.5, kBool, &gen).dtype() == kBool);
  REQUIRE_THROWS_WITH(bernoulli({4}, 1.5, kFloat32, &gen), Catch::Contains("bernoulli") && Catch::Contains("1.5"));
}

TEST_CASE("random: randint range and frequencies", "[random]") {
  Generator gen(11);
  const int64_t n = 60000;
  Tensor r = randint(-3, 3, {n}, &gen);
  CHECK(r.dtype() == kInt64);
  std::map<int64_t, int64_t> counts;
  for (auto x : r.to_vector<int64_t>()) counts[x]++;
  REQUIRE(counts.size() == 6);
  CHECK(counts.begin()->first == -3);
  CHECK(counts.rbegin()->first == 2);
  for (auto& [k, c] : counts) CHECK(c == Approx(n / 6.0).margin(600));  // sd ~ 91
  // a huge range stays inside it
  Tensor big = randint(0, INT64_MAX, {1000}, &gen);
  for (auto x : big.to_vector<int64_t>()) REQUIRE((x >= 0 && x < INT64_MAX));
  REQUIRE_THROWS_WITH(randint(3, 3, {2}, &gen), Catch::Contains("randint"));
}

TEST_CASE("random: randperm is a permutation", "[random]") {
  Generator gen(3);
  for (int64_t n : {0, 1, 2, 7, 1000}) {
    Tensor p = randperm(n, &gen);
    CHECK(p.dtype() == kInt64);
    auto v = p.to_vector<int64_t>();
    REQUIRE((int64_t)v.size() == n);
    std::sort(v.begin(), v.end());
    for (int64_t i = 0; i < n; ++i) REQUIRE(v[i] == i);
  }
  Generator g1(1), g2(2);
  CHECK(randperm(50, &g1).to_vector<int64_t>() != randperm(50, &g2).to_vector<int64_t>());
  // every element lands in position 0 about equally often
  std::vector<int64_t> first(5, 0);
  for (int i = 0; i < 5000; ++i) first[randperm(5, &gen).to_vector<int64_t>()[0]]++;
  for (auto c : first) CHECK(c == Approx(1000).margin(150));  // sd ~ 28
}

TEST_CASE("random: in-place fills and options", "[random]") {
  Generator gen(9);
  Tensor w = zeros({200, 50});
  uint64_t v0 = w.version();
  uniform_(w, -0.1, 0.1, &gen);
  CHECK(w.version() > v0);
  Moments m = moments(w);
  CHECK(m.min >= -0.1);
  CHECK(m.max < 0.1);
  CHECK(m.var == Approx(0.04 / 12).margin(0.0002));
  Tensor p = zeros({100, 100}, kFloat64).requires_grad_();
  normal_(p, 0.0, 2.0, &gen);  // allowed on a parameter: not recorded
  CHECK(p.is_leaf());
  CHECK(moments(p).var == Approx(4.0).margin(0.25));
  TensorOptions o(kFloat64);
  o.requires_grad = true;
  Tensor r = randn({3}, o, &gen);
  CHECK(r.requires_grad());
  CHECK(r.is_leaf());
  CHECK(r.dtype() == kFloat64);
}
