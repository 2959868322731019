// The baseline of the semi-supervised protocol (survey section 5.1, gan/semi_supervised.h):
// the classifier the semi-supervised GANs build their discriminator on -- the DCGAN
// discriminator's trunk without batch norm and a 10-way head (gan/semi_supervised.h
// ssl_classifier) -- trained on
// the labelled images alone, by cross-entropy with Adam:
//
//   theta <- theta - alpha Adam(grad_theta E_{(x, y) ~ labelled} [-log p_theta(y | x)])
//
// A GAN's semi-supervised error means something only next to this number, with the same
// labelled subset (--labels-per-class, --subset-seed) and the same test set.
#include <cstdio>

#include "gan/data.h"
#include "gan/model.h"
#include "gan/models.h"
#include "gan/semi_supervised.h"
#include "tensor/ops/loss.h"

namespace duel::gan {
namespace {

class SslBaseline : public train::Model {
 public:
  explicit SslBaseline(const Options& o)
      : device(o.text("device")),
        per_class(o.integer("labels-per-class")),
        subset_seed(o.integer("subset-seed")),
        data(DataSource::labelled(o.integer("labels-per-class"), (uint64_t)o.integer("subset-seed"), o.integer("batch"),
                                  (uint64_t)o.integer("seed"), Device(o.text("device")))) {
    manual_seed((uint64_t)o.integer("seed"));
    Generator init_gen((uint64_t)o.integer("seed") + 3);
    net = ssl_classifier();
    dcgan_init(*net, init_gen);
    net->to(device);
    opt = std::make_unique<optim::Adam>(net->parameters(),
                                        optim::AdamOptions{.lr = o.real("lr"), .betas = {o.real("beta1"), 0.999}});
  }

  void state(Checkpointable& s) override {
    s.add("classifier", *net);
    s.add("opt", *opt);
    data.add_to(s);
  }

  void step(int64_t) override {
    LabelledBatch b = data.next_labelled();
    net->train();
    Tensor logits = (*net)(b.x);
    loss = cross_entropy(logits, b.y);
    opt->zero_grad();
    loss.backward();
    opt->step();
    NoGradGuard ng;
    train_acc = mean(eq(argmax(logits, 1), b.y).to(kFloat32)).item();
  }

  Metrics values() override { return {{"loss", loss.item()}, {"train_acc", train_acc}}; }
  std::vector<std::string> plotted() const override { return {"loss", "test_error"}; }

  Metrics snapshot(Run&, int64_t) override { return {{"test_error", test_error()}}; }

  void evaluate(Run& run, const train::EvalRequest&) override {
    std::printf("run %s: %lld labelled images per class, subset seed %lld\n", run.dir().c_str(), (long long)per_class,
                (long long)subset_seed);
    std::printf("%-18s %10.2f %%   (10000 test images)\n", "test error", test_error());
  }

 private:
  double test_error() {
    net->eval();
    const double e = test_error_percent([&](const Tensor& x) { return (*net)(x); }, device);
    net->train();
    return e;
  }
  Device device;
  int64_t per_class, subset_seed;
  DataSource data;
  std::shared_ptr<MultiHeadDiscriminator> net;
  std::unique_ptr<optim::Adam> opt;
  Tensor loss;
  double train_acc = 0;
};

}  // namespace

train::ModelInfo ssl_baseline_model() {
  train::ModelInfo info;
  info.name = "ssl-baseline";
  info.section = "5.1";
  info.paper = "the semi-supervised protocol's baseline: the discriminator's classifier on the labelled images alone";
  info.summary = "DCGAN-trunk classifier trained on 10 or 100 labelled images per class; test error on 10000 images";
  info.generator = false;
  info.defaults = {.steps = 1000, .log_every = 50, .sample_every = 250, .checkpoint_every = 250};
  info.options = {
      labels_per_class_option(),
      subset_seed_option(),
      batch_option(64),
      lr_option(2e-4),
      train::Option::real("beta1", "beta_1", 0.5, 0, 1, "Adam's first-moment decay (the GANs' discriminator setting)"),
  };
  info.test_options = {{"batch", "4"}, {"labels-per-class", "1"}};
  info.make = [](const Options& o) { return std::make_unique<SslBaseline>(o); };
  return info;
}

}  // namespace duel::gan
