#include "gan/metrics.h"

#include <Eigen/Dense>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "tensor/ops/elementwise.h"
#include "tensor/ops/nn_ops.h"
#include "tensor/ops/reduction.h"
#include "tensor/ops/shape_ops.h"
#include "tensor/serialize.h"

namespace duel::gan {

JudgeNet::JudgeNet() {
  trunk_ = std::make_shared<nn::Sequential>();
  trunk_->emplace_back<nn::Conv2d>(1, 32, 3, 1, 1);
  trunk_->emplace_back<nn::BatchNorm2d>(32);
  trunk_->emplace_back<nn::ReLU>();
  trunk_->emplace_back<nn::MaxPool2d>(2);
  trunk_->emplace_back<nn::Conv2d>(32, 64, 3, 1, 1);
  trunk_->emplace_back<nn::BatchNorm2d>(64);
  trunk_->emplace_back<nn::ReLU>();
  trunk_->emplace_back<nn::MaxPool2d>(2);
  trunk_->emplace_back<nn::Flatten>();
  trunk_->emplace_back<nn::Linear>(64 * 7 * 7, 64);
  trunk_->emplace_back<nn::ReLU>();
  trunk_ = register_module("trunk", trunk_);
  head_ = register_module("head", std::make_shared<nn::Linear>(64, 10));
}

Tensor JudgeNet::features(const Tensor& x) { return (*trunk_)(x); }
Tensor JudgeNet::forward(const Tensor& x) { return (*head_)(features(x)); }

std::string default_judge_path() {
  if (const char* env = std::getenv("DUEL_JUDGE"); env && *env) return env;
  std::vector<std::filesystem::path> tried = {kJudgePath};
  // __FILE__ is this source's absolute path in a CMake build: the checkout's gan/ folder.
  const std::filesystem::path here = std::filesystem::path(__FILE__).parent_path();
  if (here.is_absolute()) tried.push_back(here / "judge.duel");
  for (const auto& p : tried)
    if (std::filesystem::exists(p)) return p.string();
  std::string where;
  for (const auto& p : tried) where += (where.empty() ? "" : ", ") + p.string();
  DUEL_FAIL("the judge classifier's weights were not found (tried ", where,
            "); run from the repository root, set DUEL_JUDGE=/path/to/judge.duel, or pass --judge PATH");
}

std::shared_ptr<JudgeNet> load_judge(const std::string& path_or_empty) {
  const std::string path = path_or_empty.empty() ? default_judge_path() : path_or_empty;
  auto judge = std::make_shared<JudgeNet>();
  Checkpoint ck = load_checkpoint(path);
  nn::StateDict d;
  for (auto& [k, t] : ck.tensors)
    if (k.rfind("judge.", 0) == 0) d[k.substr(6)] = t;
  judge->load_state_dict(d);
  judge->eval();
  return judge;
}

namespace {
template <class F>
Tensor batched(const Tensor& images, int64_t batch, F f) {
  NoGradGuard ng;
  std::vector<Tensor> parts;
  for (int64_t i = 0; i < images.size(0); i += batch)
    parts.push_back(f(images.narrow(0, i, std::min(batch, images.size(0) - i))));
  return cat(parts, 0);
}
}  // namespace

Tensor judge_features(JudgeNet& judge, const Tensor& images) {
  judge.eval();
  return batched(images, 500, [&](const Tensor& x) { return judge.features(x); });
}

double judge_accuracy(JudgeNet& judge, const Tensor& images, const Tensor& labels) {
  judge.eval();
  Tensor logits = batched(images, 500, [&](const Tensor& x) { return judge(x); });
  return mean(eq(argmax(logits, 1), labels).to(kFloat64)).item();
}

double classifier_score(JudgeNet& judge, const Tensor& images) {
  judge.eval();
  return classifier_score_from_logits(batched(images, 500, [&](const Tensor& x) { return judge(x); }));
}

double classifier_score_from_logits(const Tensor& logits) { return classifier_score_parts_from_logits(logits).score; }

ClassifierScoreParts classifier_score_parts(JudgeNet& judge, const Tensor& images) {
  judge.eval();
  return classifier_score_parts_from_logits(batched(images, 500, [&](const Tensor& x) { return judge(x); }));
}

ClassifierScoreParts classifier_score_parts_from_logits(const Tensor& logits_in) {
  DUEL_CHECK(logits_in.dim() == 2 && logits_in.size(0) > 0, "classifier_score: expected logits [N, classes], got ",
             shape_str(logits_in.sizes()));
  Tensor logits = logits_in.to(kFloat64);
  Tensor logp = log_softmax(logits, 1);      // log p(y|x)
  Tensor p = exp(logp);
  Tensor marginal = mean(p, {0}, true);      // p(y)
  Tensor log_marginal = log(marginal);
  ClassifierScoreParts r;
  const double kl = mean(sum(p * (logp - log_marginal), {1})).item();  // E_x KL(p(y|x) || p(y))
  r.score = std::exp(kl);
  r.class_entropy = -sum(marginal * log_marginal).item();
  r.mean_conditional_entropy = -mean(sum(p * logp, {1})).item();
  return r;
}

double frechet_distance(const Tensor& a_in, const Tensor& b_in) {
  auto to_eigen = [](const Tensor& t) {
    Tensor c = t.to(kFloat64).contiguous();
    return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
               c.data<double>(), c.size(0), c.size(1))
        .eval();
  };
  Eigen::MatrixXd A = to_eigen(a_in), B = to_eigen(b_in);
  DUEL_CHECK(A.cols() == B.cols() && A.rows() > 1 && B.rows() > 1, "frechet_distance: feature shapes ",
             shape_str(a_in.sizes()), " and ", shape_str(b_in.sizes()), " are incompatible");
  Eigen::VectorXd mu1 = A.colwise().mean(), mu2 = B.colwise().mean();
  Eigen::MatrixXd Ac = A.rowwise() - mu1.transpose(), Bc = B.rowwise() - mu2.transpose();
  Eigen::MatrixXd S1 = Ac.transpose() * Ac / double(A.rows() - 1);
  Eigen::MatrixXd S2 = Bc.transpose() * Bc / double(B.rows() - 1);
  // Tr sqrt(S1 S2) = Tr sqrt(S1^1/2 S2 S1^1/2), a symmetric PSD matrix: use eigendecompositions.
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> e1(S1);
  Eigen::VectorXd ev1 = e1.eigenvalues().cwiseMax(0.0).cwiseSqrt();
  Eigen::MatrixXd S1h = e1.eigenvectors() * ev1.asDiagonal() * e1.eigenvectors().transpose();
  Eigen::MatrixXd M = S1h * S2 * S1h;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> em(0.5 * (M + M.transpose()));
  double tr_sqrt = em.eigenvalues().cwiseMax(0.0).cwiseSqrt().sum();
  return (mu1 - mu2).squaredNorm() + S1.trace() + S2.trace() - 2.0 * tr_sqrt;
}

double best_assignment_accuracy(const std::vector<int64_t>& predicted, const std::vector<int64_t>& labels, int k,
                                std::vector<int>* assignment) {
  DUEL_CHECK(k >= 1 && k <= 20, "best_assignment_accuracy: expected 1 <= k <= 20, got ", k);
  DUEL_CHECK(predicted.size() == labels.size() && !labels.empty(), "best_assignment_accuracy: expected as many ",
             "predictions as labels (at least one), got ", predicted.size(), " and ", labels.size());
  std::vector<int64_t> count(size_t(k) * k, 0);  // count[id * k + class]
  for (size_t i = 0; i < labels.size(); ++i) {
    DUEL_CHECK(predicted[i] >= 0 && predicted[i] < k && labels[i] >= 0 && labels[i] < k, "best_assignment_accuracy: ",
               "element ", i, " has id ", predicted[i], " and label ", labels[i], ", expected both in [0, ", k, ")");
    ++count[size_t(predicted[i]) * k + size_t(labels[i])];
  }
  // best[mask]: the most matches when ids 0 .. popcount(mask)-1 take the classes in mask
  const size_t full = size_t(1) << k;
  std::vector<int64_t> best(full, -1);
  std::vector<int8_t> last(full, -1);  // the class the last id took
  best[0] = 0;
  for (size_t mask = 0; mask < full; ++mask) {
    if (best[mask] < 0) continue;
    const int id = std::popcount(mask);
    if (id == k) continue;
    for (int c = 0; c < k; ++c) {
      if (mask >> c & 1) continue;
      const size_t next = mask | size_t(1) << c;
      const int64_t v = best[mask] + count[size_t(id) * k + c];
      if (v > best[next]) best[next] = v, last[next] = int8_t(c);
    }
  }
  if (assignment) {
    assignment->assign(k, -1);
    size_t mask = full - 1;
    for (int id = k - 1; id >= 0; --id) {
      (*assignment)[id] = last[mask];
      mask &= ~(size_t(1) << last[mask]);
    }
  }
  return double(best[full - 1]) / double(labels.size());
}

}  // namespace duel::gan
