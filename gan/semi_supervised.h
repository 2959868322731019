// The semi-supervised protocol of survey section 5.1, written once for every model that uses
// it (the baseline classifier, and the GANs of Salimans et al., Odena, Li et al. and Dai et al.
// as they land): Fashion-MNIST with 10 or 100 labelled images per class (the "100 labels" and
// "1000 labels" settings), the labelled subset drawn by a recorded --subset-seed
// (gan::labelled_subset), the unlabelled data the whole training set, and the score the error
// on the full 10,000-image test set. Results are reported over 3 subsets (seeds 0, 1, 2) as
// mean and spread, next to the baseline: the same classifier network trained on the labelled
// images alone.
#pragma once
#include <functional>

#include "train/options.h"
#include "tensor/tensor.h"

namespace duel::gan {

train::Option labels_per_class_option();  // --labels-per-class: 10 (100 labels) or 100 (1000 labels)
train::Option subset_seed_option();       // --subset-seed: which labelled subset

// Classification error in percent on the 10,000 test images: `logits_of` maps images
// [B, 1, 28, 28] on `device` to class logits [B, 10]; called in batches under no-grad.
double test_error_percent(const std::function<Tensor(const Tensor&)>& logits_of, Device device);

}  // namespace duel::gan
