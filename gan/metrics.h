// Evaluation of image generators without an Inception network: a small
// "judge" CNN trained by duel on Fashion-MNIST, and on top of it
//   classifier score  exp(E_x KL(p(y|x) || p(y)))  (the Inception-score formula)
//   FCD               Frechet distance between Gaussians fitted to the judge's
//                     penultimate features of real and generated images
// each reported next to the value of the real test set. The toy mixtures use
// mode coverage instead (data/toy.h).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "nn/nn.h"

namespace duel::gan {

// conv(1->32,3) BN ReLU pool, conv(32->64,3) BN ReLU pool, linear(3136->64) ReLU = features, linear(64->10)
class JudgeNet : public nn::Module {
 public:
  JudgeNet();
  Tensor forward(const Tensor& x) override;  // logits [N, 10]
  Tensor features(const Tensor& x);          // penultimate activations [N, 64]
  std::string type_name() const override { return "JudgeNet"; }

 private:
  std::shared_ptr<nn::Sequential> trunk_;
  std::shared_ptr<nn::Linear> head_;
};

// The committed judge weights (regenerate with `duel train judge`).
inline constexpr const char* kJudgePath = "gan/judge.duel";
// Where `duel eval` finds the judge: $DUEL_JUDGE if set, else gan/judge.duel under
// the current directory, else beside this source file in the checkout duel was
// built from. Throws, naming every place tried, when none exists.
std::string default_judge_path();
// Loads the judge weights; an empty path means default_judge_path().
std::shared_ptr<JudgeNet> load_judge(const std::string& path = "");

// Accuracy of the judge on images [N,1,28,28] in [-1,1] with labels.
double judge_accuracy(JudgeNet& judge, const Tensor& images, const Tensor& labels);
double classifier_score(JudgeNet& judge, const Tensor& images);
// The classifier score's two parts, log CS = H(y) - E_x H(y|x) (nats): the entropy of the
// marginal class distribution p(y) (diversity across classes, at most log 10) and the mean
// entropy of the judge's prediction p(y|x) (low: each image is clearly of one class, the
// "quality" side). BEGAN's gamma trades the one for the other.
struct ClassifierScoreParts {
  double score = 0, class_entropy = 0, mean_conditional_entropy = 0;
};
ClassifierScoreParts classifier_score_parts(JudgeNet& judge, const Tensor& images);
ClassifierScoreParts classifier_score_parts_from_logits(const Tensor& logits);
// exp(E_x KL(p(y|x) || p(y))) of the class logits [N, classes] (the Inception-score formula).
double classifier_score_from_logits(const Tensor& logits);
// Frechet distance between N(mu1, S1) and N(mu2, S2) fitted to features [N, D] (float64 math).
double frechet_distance(const Tensor& features_a, const Tensor& features_b);
Tensor judge_features(JudgeNet& judge, const Tensor& images);  // batched, no grad

// Accuracy of cluster ids `predicted` (0..k-1) as a classifier of `labels` (0..k-1) under the
// best one-to-one assignment of ids to classes (InfoGAN's categorical code read as a
// classifier), found exactly by dynamic programming over subsets of classes (k <= 20). The
// assignment (id -> class) goes to *assignment when given.
double best_assignment_accuracy(const std::vector<int64_t>& predicted, const std::vector<int64_t>& labels, int k,
                                std::vector<int>* assignment = nullptr);

}  // namespace duel::gan
