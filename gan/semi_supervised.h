// The semi-supervised protocol of survey section 5.1, written once for every model that uses
// it (the baseline classifier, and the GANs of Salimans et al., Odena, Li et al. and Dai et al.
// as they land): Fashion-MNIST with 10 or 100 labelled images per class (the "100 labels" and
// "1000 labels" settings), the labelled subset drawn by a recorded --subset-seed
// (gan::labelled_subset), the unlabelled data the whole training set, and the score the error
// on the full 10,000-image test set. Results are reported over 3 subsets (seeds 0, 1, 2) as
// mean and spread, next to the baseline: the same classifier network trained on the labelled
// images alone.
//
// The classifier of every row is the same network: the DCGAN discriminator's trunk without
// batch norm (with biases) and a linear 10-way head (MultiHeadDiscriminator, batchnorm off). A
// GAN's D sees real and generated batches in separate passes, so batch norm's running
// statistics would mix the two and the classifier would be tested with statistics of neither.
#pragma once
#include <functional>
#include <map>
#include <string>

#include "gan/model.h"
#include "train/options.h"
#include "tensor/tensor.h"

namespace duel::gan {

constexpr int64_t kSslClasses = 10;

train::Option labels_per_class_option();  // --labels-per-class: 10 (100 labels) or 100 (1000 labels)
train::Option subset_seed_option();       // --subset-seed: which labelled subset

// Classification error in percent on the 10,000 test images: `logits_of` maps images
// [B, 1, 28, 28] on `device` to class logits [B, 10]; called in batches under no-grad.
double test_error_percent(const std::function<Tensor(const Tensor&)>& logits_of, Device device);

// The options every semi-supervised GAN declares: --data, --labels-per-class, --subset-seed,
// --batch (the size of the labelled, the unlabelled and the generated batch of a step), and
// Adam's --lr 2e-4 and --beta1 0.5 for every player (the baseline's setting).
train::OptionTable semi_supervised_options();
// The zoo test's tiny settings (tests/train/test_zoo.cpp): batch 4, one label per class.
std::map<std::string, std::string> semi_supervised_test_options();

// What one iteration of a semi-supervised GAN draws: a labelled batch (x_lab, y_lab), an
// unlabelled batch x_unl and G's samples from fresh noise.
struct SslBatches {
  Tensor x_lab, y_lab, x_unl, fake;
};

// The K-class discriminator of Salimans et al. (Improved GAN, Bad GAN) on a step's batches:
// D's trunk features of the unlabelled batch (for feature matching) and the class logits of
// the three batches (the generated one detached: D's pass).
struct KClassPass {
  Tensor f_unl, l_lab, l_unl, l_fake;
};
KClassPass k_class_pass(MultiHeadDiscriminator& D, const SslBatches& b);

// The protocol's classifier network, its K-way head (K = 10, or 11 for SGAN's extra class) on
// the batch-norm-free DCGAN trunk; `minibatch_kernels` > 0 adds minibatch discrimination.
std::shared_ptr<MultiHeadDiscriminator> ssl_classifier(int64_t outputs = kSslClasses, int64_t minibatch_kernels = 0);

// The unsupervised half of a K-class discriminator's loss (Salimans et al. 2016, equation 5,
// scaled by 1/2 as in the authors' and Dai et al.'s code): with s = source_logit(...),
//   1/2 (-E_unlabelled log D(x) - E_z log(1 - D(G(z)))),  D = sigmoid(s),
// and the real target `real_target` instead of 1 for one-sided label smoothing.
Tensor unsupervised_d_loss(const Tensor& s_real, const Tensor& s_fake, double real_target = 1.0);

// What every semi-supervised GAN shares: the unlabelled stream (GanModel::data, the whole
// training set), the labelled subset (`labelled`), the test error logged at every snapshot
// (`test_error`) and printed first by `duel eval`, and the picture and FCD of GanModel.
class SemiSupervisedGan : public GanModel {
 public:
  void state(Checkpointable& s) override;
  Metrics snapshot(Run& run, int64_t step) override;
  void evaluate(Run& run, const train::EvalRequest& request) override;
  std::vector<std::string> plotted() const override { return {"loss_D", "loss_G", "test_error"}; }

 protected:
  SemiSupervisedGan(const Options& o, int64_t z_dim, bool conv_noise);
  // The classifier's logits [N, 10] for images [N, 1, 28, 28] (the test error's argmax).
  virtual Tensor classify(const Tensor& x) = 0;
  // Networks in evaluation mode while classifying the test set (D, and C where there is one).
  virtual std::vector<nn::Module*> classifier_modules() { return {D.get()}; }
  double test_error();
  // Draws the labelled and the unlabelled batch and G's samples of an iteration (G(z) from
  // noise_batch: models with a conditional G draw their own).
  SslBatches draw_batches();

  int64_t m;  // batch size
  int64_t per_class;
  uint64_t subset_seed;
  DataSource labelled;
};

}  // namespace duel::gan
