// The birthday-paradox test (gan/birthday.h) on samplers whose support is known: K distinct
// images drawn uniformly. A batch of s then holds a duplicate with probability
// 1 - prod_{i<s} (1 - i/K), so the first s (doubling from s_min) with p >= 1/2 is known.
#include <catch2/catch.hpp>
#include <cmath>

#include "duel.h"
#include "gan/birthday.h"

using namespace duel;

namespace {
Tensor rows(std::vector<double> v, int64_t d) {
  return from_vector(v, {(int64_t)v.size() / d, d}, TensorOptions(kFloat64));
}
}  // namespace

TEST_CASE("birthday: closest pairs and the nearest-neighbour quantile, by hand", "[gan][birthday]") {
  // points on a line at 0, 1, 3, 7: pair distances 1 (0,1), 2 (1,2), 3 (0,2), 4 (2,3), ...
  Tensor f = rows({0, 1, 3, 7}, 1);
  auto p = gan::closest_pairs(f, 3);
  REQUIRE(p.size() == 3);
  CHECK((p[0].i == 0 && p[0].j == 1 && p[0].feature_distance == Approx(1)));
  CHECK((p[1].i == 1 && p[1].j == 2 && p[1].feature_distance == Approx(2)));
  CHECK((p[2].i == 0 && p[2].j == 2 && p[2].feature_distance == Approx(3)));
  // nearest-neighbour distances 1, 1, 2, 4: quantiles 0 -> 1, 2/3 -> 2, 1 -> 4
  CHECK(gan::nearest_neighbour_quantile(f, 0.0) == Approx(1));
  CHECK(gan::nearest_neighbour_quantile(f, 2.0 / 3.0) == Approx(2));
  CHECK(gan::nearest_neighbour_quantile(f, 1.0) == Approx(4));
  CHECK_THROWS_WITH(gan::closest_pairs(rows({1}, 1), 1), Catch::Contains("[N >= 2, D]"));
}

TEST_CASE("birthday: the support estimate of a uniform distribution over K images", "[gan][birthday]") {
  manual_seed(7);
  gan::JudgeNet judge;  // random weights: equal images have equal features, distinct ones differ
  judge.eval();
  auto support_of = [&](int64_t K, const gan::BirthdayOptions& o) {
    Tensor atoms = rand({K, 1, 28, 28}) * 2.0 - 1.0;
    Generator gen(11);
    auto draw = [&](int64_t s) { return index_select(atoms, 0, randint(0, K, {s}, &gen)); };
    return gan::birthday_test(draw, judge, /*threshold=*/1e-3, o);
  };
  gan::BirthdayOptions o;
  o.batches = 200;
  o.s_min = 5;
  o.s_max = 40;
  o.pairs = 2;
  // K = 100: p(5) = 0.10, p(10) = 0.37, p(20) = 0.87
  gan::BirthdayResult r = support_of(100, o);
  REQUIRE(r.rows.size() == 3);
  CHECK(r.rows[0].p() < 0.25);
  CHECK(r.rows[1].p() == Approx(0.37).margin(0.12));
  CHECK(r.rows[2].p() == Approx(0.87).margin(0.1));
  CHECK(r.s_half == 20);
  CHECK(r.support() == 400);
  CHECK_FALSE(r.lower_bound());
  // the closest pair of the last batch is an exact duplicate, shown as two equal images
  REQUIRE(r.closest.size() == 2);
  CHECK(r.closest[0].feature_distance < 1e-3);
  CHECK(r.closest[0].pixel_distance == 0.0);
  CHECK(r.closest_images.sizes() == Shape{4, 1, 28, 28});
  // K = 100000: p(40) = 0.008, so no s <= 40 reaches 1/2: a lower bound of 40^2
  gan::BirthdayResult big = support_of(100000, o);
  CHECK(big.s_half == 0);
  CHECK(big.lower_bound());
  CHECK(big.support() == 1600);
  CHECK(big.rows.size() == 4);
}
