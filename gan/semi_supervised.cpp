#include "gan/semi_supervised.h"

#include "autograd/grad_mode.h"
#include "data/idx.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/reduction.h"

namespace duel::gan {

train::Option labels_per_class_option() {
  return train::Option::integer("labels-per-class", "", 10, 1, 6000,
                                "labelled training images per class (10: the 100-label setting, 100: 1000 labels)");
}

train::Option subset_seed_option() {
  return train::Option::integer("subset-seed", "", 0, 0, 1000000, "seed that draws the labelled subset (record it)");
}

double test_error_percent(const std::function<Tensor(const Tensor&)>& logits_of, Device device) {
  ImageDataset test = load_fashion_mnist("test");
  NoGradGuard ng;
  int64_t wrong = 0;
  for (int64_t b = 0; b < test.size(); b += 500) {
    const int64_t n = std::min<int64_t>(500, test.size() - b);
    Tensor logits = logits_of(test.images.narrow(0, b, n).to(device)).to(kCPU);
    DUEL_CHECK(logits.dim() == 2 && logits.size(0) == n && logits.size(1) == 10,
               "test_error_percent: expected logits [", n, ", 10], got ", shape_str(logits.sizes()));
    Tensor hit = eq(argmax(logits, 1), test.labels.narrow(0, b, n));
    wrong += n - (int64_t)sum(hit.to(kFloat64)).item();
  }
  return 100.0 * (double)wrong / (double)test.size();
}

}  // namespace duel::gan
