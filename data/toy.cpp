#include "data/toy.h"

#include <cmath>
#include <limits>

#include "autograd/grad_mode.h"

namespace duel {

namespace {

constexpr double k8Scale = 2.0, k8Std = 0.02, k8Div = 1.414;
constexpr double k25Std = 0.05, k25Div = 2.828;
constexpr double kRollNoise = 0.25, kRollDiv = 7.5;

// Raw (undivided) centres.
std::vector<std::pair<double, double>> raw_centres(ToyKind kind) {
  std::vector<std::pair<double, double>> c;
  if (kind == ToyKind::EightGaussians) {
    const double r = 1.0 / std::sqrt(2.0);
    // the order of gan_toy.py
    const double unit[8][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {r, r}, {r, -r}, {-r, r}, {-r, -r}};
    for (auto& u : unit) c.push_back({k8Scale * u[0], k8Scale * u[1]});
  } else if (kind == ToyKind::TwentyFiveGaussians) {
    for (int x = -2; x <= 2; ++x)
      for (int y = -2; y <= 2; ++y) c.push_back({2.0 * x, 2.0 * y});
  }
  return c;
}

double divisor(ToyKind kind) {
  switch (kind) {
    case ToyKind::EightGaussians: return k8Div;
    case ToyKind::TwentyFiveGaussians: return k25Div;
    case ToyKind::SwissRoll: return kRollDiv;
  }
  return 1.0;
}

}  // namespace

ToyDistribution ToyDistribution::from_name(const std::string& name) {
  if (name == "8gaussians") return ToyDistribution(ToyKind::EightGaussians);
  if (name == "25gaussians") return ToyDistribution(ToyKind::TwentyFiveGaussians);
  if (name == "swissroll") return ToyDistribution(ToyKind::SwissRoll);
  DUEL_FAIL("ToyDistribution: unknown toy data set '", name, "'; expected 8gaussians, 25gaussians or swissroll");
}

std::string ToyDistribution::name() const {
  switch (kind_) {
    case ToyKind::EightGaussians: return "8gaussians";
    case ToyKind::TwentyFiveGaussians: return "25gaussians";
    case ToyKind::SwissRoll: return "swissroll";
  }
  return "?";
}

double ToyDistribution::mode_std() const {
  switch (kind_) {
    case ToyKind::EightGaussians: return k8Std / k8Div;
    case ToyKind::TwentyFiveGaussians: return k25Std / k25Div;
    case ToyKind::SwissRoll: return 0.0;
  }
  return 0.0;
}

Tensor ToyDistribution::centres() const {
  auto c = raw_centres(kind_);
  if (c.empty()) return Tensor();
  std::vector<float> v;
  for (auto& [x, y] : c) {
    v.push_back((float)(x / divisor(kind_)));
    v.push_back((float)(y / divisor(kind_)));
  }
  return from_vector(v, {(int64_t)c.size(), 2});
}

Tensor ToyDistribution::sample(int64_t n, Generator& gen) const {
  DUEL_CHECK(n >= 0, "ToyDistribution::sample: n must be >= 0, got ", n);
  NoGradGuard no_grad;
  Tensor out = empty({n, 2}, TensorOptions(kFloat32));
  if (n == 0) return out;
  float* o = out.data<float>();
  const double div = divisor(kind_);
  if (kind_ == ToyKind::SwissRoll) {
    Tensor u = rand({n}, TensorOptions(kFloat64), &gen);
    Tensor noise = randn({n, 2}, TensorOptions(kFloat64), &gen);
    const double* pu = u.data<double>();
    const double* pn = noise.data<double>();
    for (int64_t i = 0; i < n; ++i) {
      const double t = 1.5 * M_PI * (1.0 + 2.0 * pu[i]);
      o[2 * i] = (float)((t * std::cos(t) + kRollNoise * pn[2 * i]) / div);
      o[2 * i + 1] = (float)((t * std::sin(t) + kRollNoise * pn[2 * i + 1]) / div);
    }
    return out;
  }
  const auto c = raw_centres(kind_);
  const double std = kind_ == ToyKind::EightGaussians ? k8Std : k25Std;
  Tensor which = randint(0, (int64_t)c.size(), {n}, &gen);
  Tensor noise = randn({n, 2}, TensorOptions(kFloat64), &gen);
  const int64_t* pw = which.data<int64_t>();
  const double* pn = noise.data<double>();
  for (int64_t i = 0; i < n; ++i) {
    o[2 * i] = (float)((c[pw[i]].first + std * pn[2 * i]) / div);
    o[2 * i + 1] = (float)((c[pw[i]].second + std * pn[2 * i + 1]) / div);
  }
  return out;
}

ModeCoverage mode_coverage(const Tensor& samples, const Tensor& centres, double mode_std, double radius_stds,
                           int64_t min_count) {
  DUEL_CHECK(samples.defined() && samples.dim() == 2 && samples.size(1) == 2, "mode_coverage: samples must be [n, 2], got ",
             samples.defined() ? shape_str(samples.sizes()) : std::string("an undefined tensor"));
  DUEL_CHECK(centres.defined() && centres.dim() == 2 && centres.size(1) == 2 && centres.size(0) > 0,
             "mode_coverage: centres must be [K, 2] with K > 0 (the swiss roll has no modes)");
  const auto s = samples.to_vector<double>();
  const auto c = centres.to_vector<double>();
  const int64_t n = samples.size(0), k = centres.size(0);
  ModeCoverage r;
  r.nearest.resize(n);
  r.distance.resize(n);
  r.counts.assign(k, 0);
  const double radius = radius_stds * mode_std;
  int64_t good = 0;
  for (int64_t i = 0; i < n; ++i) {
    double best = std::numeric_limits<double>::infinity();
    int64_t arg = 0;
    for (int64_t j = 0; j < k; ++j) {
      double dx = s[2 * i] - c[2 * j], dy = s[2 * i + 1] - c[2 * j + 1];
      double d = dx * dx + dy * dy;
      if (d < best) best = d, arg = j;
    }
    r.nearest[i] = arg;
    r.distance[i] = std::sqrt(best);
    if (r.distance[i] <= radius) {
      ++r.counts[arg];
      ++good;
    }
  }
  for (auto cnt : r.counts) r.modes_covered += cnt >= min_count;
  r.high_quality_fraction = n ? (double)good / (double)n : 0.0;
  return r;
}

Tensor grid_points(int64_t steps, double lo, double hi) {
  DUEL_CHECK(steps >= 2, "grid_points: need at least 2 steps, got ", steps);
  Tensor g = empty({steps * steps, 2}, TensorOptions(kFloat32));
  float* p = g.data<float>();
  for (int64_t iy = 0; iy < steps; ++iy)
    for (int64_t ix = 0; ix < steps; ++ix) {
      p[2 * (iy * steps + ix)] = (float)(lo + (hi - lo) * (double)ix / (double)(steps - 1));
      p[2 * (iy * steps + ix) + 1] = (float)(lo + (hi - lo) * (double)iy / (double)(steps - 1));
    }
  return g;
}

}  // namespace duel
