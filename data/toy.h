// The 2-D toy distributions of the WGAN-GP paper (Gulrajani et al. 2017, gan_toy.py):
//
//   8gaussians : 8 modes on a circle of radius 2 (angles k*45deg), std 0.02, all / 1.414
//   25gaussians: 5x5 grid of modes at {-4,-2,0,2,4}^2, std 0.05, all / 2.828
//   swissroll  : sklearn make_swiss_roll(n, noise=0.25), columns [x, z], / 7.5
//                (t = 1.5 pi (1 + 2u), x = t cos t, z = t sin t, plus N(0, 0.25^2) noise)
//
// gan_toy.py draws 25gaussians from a fixed shuffled set of 100000 points (4000 per mode);
// here every sample picks its mode uniformly at random, which is the same distribution.
// All randomness comes from the Generator passed in (Philox), so samples are reproducible.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace duel {

enum class ToyKind { EightGaussians, TwentyFiveGaussians, SwissRoll };

class ToyDistribution {
 public:
  explicit ToyDistribution(ToyKind kind) : kind_(kind) {}
  // "8gaussians", "25gaussians", "swissroll" (the names gan_toy.py uses).
  static ToyDistribution from_name(const std::string& name);

  ToyKind kind() const { return kind_; }
  std::string name() const;
  // n samples, float32 [n, 2].
  Tensor sample(int64_t n, Generator& gen) const;
  Tensor sample(int64_t n) const { return sample(n, default_generator()); }
  // Mode centres in sample coordinates (after the division), float32 [K, 2]: K = 8 or 25;
  // an undefined Tensor for the swiss roll (not a mixture).
  Tensor centres() const;
  bool has_modes() const { return kind_ != ToyKind::SwissRoll; }
  // Per-coordinate std of one mode in sample coordinates (0.02/1.414 or 0.05/2.828); 0 for the
  // swiss roll.
  double mode_std() const;

 private:
  ToyKind kind_;
};

// Mode coverage of samples [n, 2] against centres [K, 2] (float32 or float64, CPU or not).
// A sample is "high quality" when it lies within `radius_stds` mode stds (Euclidean) of its
// nearest centre; a mode is "covered" when at least `min_count` high-quality samples are
// assigned to it (the metric of VEEGAN / PacGAN, 3 std by default).
struct ModeCoverage {
  std::vector<int64_t> nearest;  // per sample: index of the nearest centre
  std::vector<double> distance;  // per sample: distance to it
  std::vector<int64_t> counts;   // per mode: high-quality samples assigned
  int64_t modes_covered = 0;
  double high_quality_fraction = 0;
};
ModeCoverage mode_coverage(const Tensor& samples, const Tensor& centres, double mode_std, double radius_stds = 3.0,
                           int64_t min_count = 1);

// Points of a square evaluation grid for critic/density pictures (plot_scatter_with_contour):
// float32 [steps * steps, 2], row-major with y outer and x inner, so a [steps*steps] field
// computed on it reshapes to [steps (y), steps (x)].
Tensor grid_points(int64_t steps, double lo, double hi);

}  // namespace duel
