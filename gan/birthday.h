// The birthday-paradox test of Arora and Zhang ("Do GANs learn the distribution? Some theory
// and empirics", 2018; survey section 3.5.1): if batches of s samples from a distribution
// contain a near-duplicate pair with probability >= 1/2, the distribution's support has about
// s^2 elements. A GAN that has memorised or collapsed onto few modes shows duplicates at small s.
//
// The paper judges "near-duplicate" by eye on the closest pairs of a batch. Here a pair is a
// duplicate when its distance in the judge network's feature space (gan/metrics.h) is below a
// threshold calibrated on real Fashion-MNIST: the `quantile` of the real test images'
// nearest-neighbour distances in a pool of `pool` of them (by default the distance that only
// 1 % of real images have to their closest other among 1000). The closest pairs are also
// written as a picture, with their pixel distance, for a person to judge; and the same test on
// the real training set gives the reference estimate.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gan/metrics.h"
#include "tensor/tensor.h"

namespace duel::gan {

struct BirthdayOptions {
  int64_t batches = 20;      // batches per batch size s
  int64_t s_min = 50;        // s = s_min, 2 s_min, 4 s_min, ... <= s_max
  int64_t s_max = 1600;
  int64_t pool = 1000;       // calibration: real test images
  double quantile = 0.01;    // ... and the quantile of their nearest-neighbour distances
  int64_t pairs = 8;         // closest pairs written as a picture
};

struct ClosePair {
  int64_t i, j;           // indices in the batch
  double feature_distance;
  double pixel_distance;  // root mean square difference per pixel, in [-1, 1] units
};

struct BirthdayRow {
  int64_t s;
  int64_t batches;
  int64_t with_duplicate;  // batches holding a pair closer than the threshold
  double p() const { return batches ? (double)with_duplicate / (double)batches : 0.0; }
};

struct BirthdayResult {
  double threshold = 0;
  std::vector<BirthdayRow> rows;  // increasing s; stops at the first s with p >= 1/2
  int64_t s_half = 0;             // that s (0: none up to s_max)
  // The support estimate s_half^2, or, if no s reached 1/2, the lower bound s_max^2.
  double support() const;
  bool lower_bound() const { return s_half == 0; }
  Tensor closest_images;           // [2 * pairs, 1, 28, 28]: pair k is rows 2k, 2k+1
  std::vector<ClosePair> closest;  // of the last batch of the largest s tried
};

// The k closest pairs (Euclidean distance) (i < j) of features [N, D], closest first.
std::vector<ClosePair> closest_pairs(const Tensor& features, int64_t k);
// The q-quantile of each row's distance to its nearest other row, features [N >= 2, D].
double nearest_neighbour_quantile(const Tensor& features, double q);

// The test on batches drawn by `draw(s)` (images [s, 1, 28, 28] in [-1, 1]).
BirthdayResult birthday_test(const std::function<Tensor(int64_t)>& draw, JudgeNet& judge, double threshold,
                             const BirthdayOptions& o);

}  // namespace duel::gan
