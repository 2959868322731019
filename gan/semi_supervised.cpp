#include "gan/semi_supervised.h"

#include "autograd/grad_mode.h"
#include "data/idx.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/loss.h"
#include "tensor/ops/reduction.h"
#include <cstdio>

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

train::OptionTable semi_supervised_options() {
  return {data_option("fashion-mnist", /*images_only=*/true),
          labels_per_class_option(),
          subset_seed_option(),
          batch_option(64),
          lr_option(2e-4),
          train::Option::real("beta1", "beta_1", 0.5, 0, 1, "Adam's first-moment decay")};
}

std::map<std::string, std::string> semi_supervised_test_options() { return {{"batch", "4"}, {"labels-per-class", "1"}}; }

KClassPass k_class_pass(MultiHeadDiscriminator& D, const SslBatches& b) {
  KClassPass p;
  p.f_unl = D.features(b.x_unl);
  p.l_lab = D(b.x_lab);
  p.l_unl = D.head(0, p.f_unl);
  p.l_fake = D(b.fake.detach());
  return p;
}

SslBatches SemiSupervisedGan::draw_batches() {
  auto [x_lab, y_lab] = labelled.next_labelled();
  Tensor x_unl = data.next();
  return {x_lab, y_lab, x_unl, (*G)(noise_batch(m))};
}

std::shared_ptr<MultiHeadDiscriminator> ssl_classifier(int64_t outputs, int64_t minibatch_kernels) {
  return std::make_shared<MultiHeadDiscriminator>(
      std::vector<MultiHeadDiscriminator::Head>{{.out = outputs, .minibatch_kernels = minibatch_kernels}},
      /*batchnorm=*/false);
}

Tensor unsupervised_d_loss(const Tensor& s_real, const Tensor& s_fake, double real_target) {
  return (binary_cross_entropy_with_logits(s_real, full_like(s_real, real_target)) +
          binary_cross_entropy_with_logits(s_fake, zeros_like(s_fake))) *
         0.5;
}

SemiSupervisedGan::SemiSupervisedGan(const Options& o, int64_t z_dim, bool conv_noise)
    : GanModel(o, z_dim, conv_noise),
      m(o.integer("batch")),
      per_class(o.integer("labels-per-class")),
      subset_seed((uint64_t)o.integer("subset-seed")),
      labelled(DataSource::labelled(per_class, subset_seed, m, seed + 11, device)) {}

void SemiSupervisedGan::state(Checkpointable& s) {
  GanModel::state(s);
  labelled.add_to(s, "labelled");
}

double SemiSupervisedGan::test_error() {
  std::vector<nn::Module*> nets = classifier_modules();
  for (auto* n : nets) n->eval();
  const double e = test_error_percent([&](const Tensor& x) { return classify(x); }, device);
  for (auto* n : nets) n->train();
  return e;
}

Metrics SemiSupervisedGan::snapshot(Run& run, int64_t step) {
  Metrics out = GanModel::snapshot(run, step);
  out.push_back({"test_error", test_error()});
  return out;
}

void SemiSupervisedGan::evaluate(Run& run, const train::EvalRequest& request) {
  if (!request.birthday) {
    std::printf("run %s: %lld labelled images per class, subset seed %lld\n", run.dir().c_str(), (long long)per_class,
                (long long)subset_seed);
    std::printf("%-18s %10.2f %%   (10000 test images)\n", "test error", test_error());
  }
  GanModel::evaluate(run, request);
}

}  // namespace duel::gan
