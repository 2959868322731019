// The GAN evaluation metrics against hand-derived values: Frechet distance,
// the classifier (Inception-formula) score, and the committed judge.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "data/idx.h"
#include "gan/metrics.h"
#include "tensor/tensor.h"

using namespace duel;

namespace {
// Rotates the rows of [N, 2] by `deg` degrees.
Tensor rotate(const Tensor& x, double deg) {
  const double c = std::cos(deg * M_PI / 180), s = std::sin(deg * M_PI / 180);
  return matmul(x, from_vector(std::vector<double>{c, s, -s, c}, {2, 2}, kFloat64));
}
}  // namespace

TEST_CASE("frechet_distance matches the closed form for known covariances", "[gan][metrics]") {
  // A: mean 0, sample covariance (N-1) diag(2/3, 8/3). B = 3A + (5, 0): mean (5, 0), cov diag(6, 24).
  // FD = |mu_a - mu_b|^2 + tr(Sa + Sb - 2 (Sa Sb)^1/2) = 25 + (2/3 + 6 - 2*2) + (8/3 + 24 - 2*8) = 38 1/3.
  Tensor a = from_vector(std::vector<double>{1, 0, -1, 0, 0, 2, 0, -2}, {4, 2}, kFloat64);
  Tensor b = a * 3.0 + from_vector(std::vector<double>{5, 0}, {2}, kFloat64);
  const double expected = 25.0 + (2.0 / 3 + 6 - 4) + (8.0 / 3 + 24 - 16);
  CHECK(gan::frechet_distance(a, b) == Approx(expected).epsilon(1e-12));
  CHECK(gan::frechet_distance(b, a) == Approx(expected).epsilon(1e-12));
  // Invariant under a rotation of both sets: non-diagonal covariances exercise the matrix square root.
  CHECK(gan::frechet_distance(rotate(a, 30), rotate(b, 30)) == Approx(expected).epsilon(1e-10));
  CHECK(gan::frechet_distance(a, a) == Approx(0.0).margin(1e-12));
  // float32 features are accepted (computed in float64)
  CHECK(gan::frechet_distance(a.to(kFloat32), b.to(kFloat32)) == Approx(expected).epsilon(1e-6));
  CHECK_THROWS_WITH(gan::frechet_distance(a, zeros({4, 3})), Catch::Contains("frechet_distance") &&
                                                                 Catch::Contains("[4, 2]") && Catch::Contains("[4, 3]"));
}

TEST_CASE("classifier score: k equally used confident classes score k", "[gan][metrics]") {
  auto confident = [](std::vector<int64_t> classes, int64_t num_classes) {
    std::vector<double> v(classes.size() * num_classes, 0.0);
    for (size_t i = 0; i < classes.size(); ++i) v[i * num_classes + classes[i]] = 60.0;
    return from_vector(v, {(int64_t)classes.size(), num_classes}, kFloat64);
  };
  CHECK(gan::classifier_score_from_logits(confident({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 10)) == Approx(10.0).epsilon(1e-9));
  CHECK(gan::classifier_score_from_logits(confident({3, 7, 3, 7}, 10)) == Approx(2.0).epsilon(1e-9));
  CHECK(gan::classifier_score_from_logits(confident({4, 4, 4}, 10)) == Approx(1.0).epsilon(1e-9));
  // uniform predictions carry no information: score 1
  CHECK(gan::classifier_score_from_logits(zeros({5, 10}, kFloat64)) == Approx(1.0).epsilon(1e-12));
  // hand-derived: two samples, p1 = (3/4, 1/4), p2 = (1/4, 3/4): p(y) = (1/2, 1/2),
  // KL = 3/4 ln(3/2) + 1/4 ln(1/2) for both, score = exp(KL).
  Tensor logits = from_vector(std::vector<double>{std::log(3.0), 0.0, 0.0, std::log(3.0)}, {2, 2}, kFloat64);
  CHECK(gan::classifier_score_from_logits(logits) ==
        Approx(std::exp(0.75 * std::log(1.5) + 0.25 * std::log(0.5))).epsilon(1e-12));
  CHECK_THROWS_WITH(gan::classifier_score_from_logits(zeros({10})), Catch::Contains("classifier_score"));
  // its parts: p(y) = (1/2, 1/2) -> H(y) = ln 2; H(y|x) = -(3/4 ln 3/4 + 1/4 ln 1/4) for both
  auto parts = gan::classifier_score_parts_from_logits(logits);
  CHECK(parts.class_entropy == Approx(std::log(2.0)).epsilon(1e-12));
  CHECK(parts.mean_conditional_entropy == Approx(-(0.75 * std::log(0.75) + 0.25 * std::log(0.25))).epsilon(1e-12));
  CHECK(std::log(parts.score) == Approx(parts.class_entropy - parts.mean_conditional_entropy).epsilon(1e-12));
  auto one_class = gan::classifier_score_parts_from_logits(confident({4, 4, 4}, 10));
  CHECK(one_class.class_entropy == Approx(0.0).margin(1e-12));
}

TEST_CASE("the committed judge is found from any working directory and classifies Fashion-MNIST", "[gan][metrics]") {
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(std::filesystem::temp_directory_path());
  std::string path;
  REQUIRE_NOTHROW(path = gan::default_judge_path());
  std::filesystem::current_path(cwd);
  REQUIRE(std::filesystem::exists(path));
  auto judge = gan::load_judge(path);
  ImageDataset test = load_fashion_mnist("test", "", true, 1000);
  // 91.29 % on all 10,000 test images (docs/results.md); the first 1000 are no easier than 85 %
  CHECK(gan::judge_accuracy(*judge, test.images, test.labels) > 0.85);

  setenv("DUEL_JUDGE", "/nonexistent/judge.duel", 1);
  CHECK(gan::default_judge_path() == "/nonexistent/judge.duel");
  CHECK_THROWS_WITH(gan::load_judge(), Catch::Contains("/nonexistent/judge.duel"));
  unsetenv("DUEL_JUDGE");
}

TEST_CASE("best_assignment_accuracy: the best one-to-one assignment, where greedy is wrong", "[gan][metrics]") {
  // a relabelled perfect clustering: id = (class + 1) mod 3 -> accuracy 1, assignment inverts it
  std::vector<int64_t> labels = {0, 0, 1, 1, 2, 2}, ids = {1, 1, 2, 2, 0, 0};
  std::vector<int> assign;
  CHECK(gan::best_assignment_accuracy(ids, labels, 3, &assign) == 1.0);
  CHECK(assign == std::vector<int>{2, 0, 1});
  // counts (id x class): id 0: {class 0: 3, class 1: 2}, id 1: {class 0: 3}. Greedy gives id 0 ->
  // class 0 (3) and then id 1 -> class 1 (0): 3 of 8; the best is id 0 -> 1, id 1 -> 0: 5 of 8.
  labels = {0, 0, 0, 1, 1, 0, 0, 0};
  ids = {0, 0, 0, 0, 0, 1, 1, 1};
  CHECK(gan::best_assignment_accuracy(ids, labels, 2, &assign) == Approx(5.0 / 8.0));
  CHECK(assign == std::vector<int>{1, 0});
  CHECK_THROWS_WITH(gan::best_assignment_accuracy({0, 3}, {0, 1}, 3), Catch::Contains("element 1 has id 3"));
  CHECK_THROWS_WITH(gan::best_assignment_accuracy({0}, {0, 1}, 3), Catch::Contains("as many predictions as labels"));
}

