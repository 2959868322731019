// WGAN-GP toy distributions: moments, modes, coverage metric.
#include <catch2/catch.hpp>

#include <cmath>

#include "data/toy.h"
#include "duel.h"

using namespace duel;

namespace {

struct Moments {
  double mx = 0, my = 0, sx = 0, sy = 0;
};
Moments moments(const Tensor& s) {
  auto v = s.to_vector<double>();
  const double n = (double)s.size(0);
  Moments m;
  for (size_t i = 0; i < v.size(); i += 2) m.mx += v[i], m.my += v[i + 1];
  m.mx /= n, m.my /= n;
  for (size_t i = 0; i < v.size(); i += 2) m.sx += (v[i] - m.mx) * (v[i] - m.mx), m.sy += (v[i + 1] - m.my) * (v[i + 1] - m.my);
  m.sx = std::sqrt(m.sx / n), m.sy = std::sqrt(m.sy / n);
  return m;
}

}  // namespace

TEST_CASE("toy: 8 and 25 gaussians", "[data][toy]") {
  const int64_t n = 40000;
  for (const char* name : {"8gaussians", "25gaussians"}) {
    INFO(name);
    ToyDistribution d = ToyDistribution::from_name(name);
    REQUIRE(d.name() == name);
    Generator gen(123);
    Tensor s = d.sample(n, gen);
    REQUIRE(s.sizes() == Shape{n, 2});
    REQUIRE(s.dtype() == kFloat32);
    Tensor c = d.centres();
    const int64_t k = std::string(name) == "8gaussians" ? 8 : 25;
    REQUIRE(c.sizes() == Shape{k, 2});
    auto cv = c.to_vector<double>();
    if (k == 8) {
      REQUIRE(d.mode_std() == Approx(0.02 / 1.414));
      for (int j = 0; j < 8; ++j) REQUIRE(std::hypot(cv[2 * j], cv[2 * j + 1]) == Approx(2.0 / 1.414));
    } else {
      REQUIRE(d.mode_std() == Approx(0.05 / 2.828));
      REQUIRE(cv[0] == Approx(-4 / 2.828));
      REQUIRE(cv[1] == Approx(-4 / 2.828));
      REQUIRE(cv[2 * 24] == Approx(4 / 2.828));
    }
    // the divisions make each coordinate roughly unit variance (the paper's "stdev" comment)
    Moments m = moments(s);
    REQUIRE(std::abs(m.mx) < 0.03);
    REQUIRE(std::abs(m.my) < 0.03);
    REQUIRE(m.sx == Approx(1.0).margin(0.03));
    REQUIRE(m.sy == Approx(1.0).margin(0.03));

    // every sample sits near a centre, modes are equally likely, within-mode std is right
    ModeCoverage cov = mode_coverage(s, c, d.mode_std());
    REQUIRE(cov.modes_covered == k);
    REQUIRE(cov.high_quality_fraction > 0.98);  // P(chi2_2 < 9) = 0.989
    std::vector<int64_t> per(k, 0);
    std::vector<double> ss(k, 0.0);
    auto sv = s.to_vector<double>();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t j = cov.nearest[i];
      REQUIRE(cov.distance[i] < 6 * d.mode_std());
      ++per[j];
      ss[j] += std::pow(sv[2 * i] - cv[2 * j], 2) + std::pow(sv[2 * i + 1] - cv[2 * j + 1], 2);
    }
    double total_ss = 0;
    for (int64_t j = 0; j < k; ++j) {
      REQUIRE((double)per[j] / n == Approx(1.0 / k).margin(0.25 / k));
      total_ss += ss[j];
    }
    REQUIRE(std::sqrt(total_ss / (2.0 * n)) == Approx(d.mode_std()).epsilon(0.03));
  }
}

TEST_CASE("toy: swiss roll", "[data][toy]") {
  ToyDistribution d(ToyKind::SwissRoll);
  REQUIRE(!d.centres().defined());
  REQUIRE(!d.has_modes());
  Generator gen(9);
  const int64_t n = 50000;
  Tensor s = d.sample(n, gen);
  REQUIRE(s.sizes() == Shape{n, 2});
  // expected moments by quadrature: t ~ U[1.5 pi, 4.5 pi], x = (t cos t + e) / 7.5, e ~ N(0, 0.25^2)
  const int64_t q = 200000;
  double ex = 0, ey = 0, exx = 0, eyy = 0;
  for (int64_t i = 0; i < q; ++i) {
    const double t = 1.5 * M_PI * (1 + 2 * (i + 0.5) / q);
    const double x = t * std::cos(t), y = t * std::sin(t);
    ex += x, ey += y, exx += x * x, eyy += y * y;
  }
  ex /= q, ey /= q, exx /= q, eyy /= q;
  const double sx = std::sqrt(exx - ex * ex + 0.0625) / 7.5, sy = std::sqrt(eyy - ey * ey + 0.0625) / 7.5;
  Moments m = moments(s);
  REQUIRE(m.mx == Approx(ex / 7.5).margin(0.02));
  REQUIRE(m.my == Approx(ey / 7.5).margin(0.02));
  REQUIRE(m.sx == Approx(sx).epsilon(0.02));
  REQUIRE(m.sy == Approx(sy).epsilon(0.02));
  // radius (times 7.5) stays within [1.5 pi, 4.5 pi] up to the noise
  auto v = s.to_vector<double>();
  for (size_t i = 0; i < v.size(); i += 2) {
    const double r = std::hypot(v[i], v[i + 1]) * 7.5;
    REQUIRE(r > 1.5 * M_PI - 1.5);
    REQUIRE(r < 4.5 * M_PI + 1.5);
  }
}

TEST_CASE("toy: reproducible from the generator, coverage metric, grid", "[data][toy]") {
  ToyDistribution d(ToyKind::EightGaussians);
  Generator g1(5), g2(5), g3(6);
  auto a = d.sample(100, g1).to_vector<float>();
  REQUIRE(a == d.sample(100, g2).to_vector<float>());
  REQUIRE(a != d.sample(100, g3).to_vector<float>());
  REQUIRE(a != d.sample(100, g1).to_vector<float>());  // the generator advanced

  // a collapsed generator covering one mode
  Tensor c = d.centres();
  Tensor collapsed = c.narrow(0, 2, 1).expand({50, 2}).contiguous();
  ModeCoverage cov = mode_coverage(collapsed, c, d.mode_std());
  REQUIRE(cov.modes_covered == 1);
  REQUIRE(cov.counts[2] == 50);
  REQUIRE(cov.high_quality_fraction == 1.0);
  // far-away samples are not high quality
  cov = mode_coverage(zeros({10, 2}), c, d.mode_std());
  REQUIRE(cov.modes_covered == 0);
  REQUIRE(cov.high_quality_fraction == 0.0);
  REQUIRE_THROWS_WITH(ToyDistribution::from_name("moons"), Catch::Contains("unknown toy data set 'moons'"));

  Tensor g = grid_points(3, -1, 1);
  REQUIRE(g.sizes() == Shape{9, 2});
  REQUIRE(g.to_vector<float>() == std::vector<float>{-1, -1, 0, -1, 1, -1, -1, 0, 0, 0, 1, 0, -1, 1, 0, 1, 1, 1});
}
