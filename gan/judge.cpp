// The judge: the small Fashion-MNIST classifier whose features give the classifier score and
// FCD of every image generator (gan/metrics.h). Not a survey model; trained like one:
//
//   duel train judge --out runs/judge        (4 epochs of batch 128; about 91% test accuracy)
//
// then copy runs/judge/judge.duel to gan/judge.duel (what `duel eval` loads).
#include <cmath>
#include <cstdio>

#include "gan/data.h"
#include "gan/model.h"
#include "gan/metrics.h"
#include "gan/models.h"
#include "tensor/ops/loss.h"
#include "tensor/serialize.h"

namespace duel::gan {
namespace {

using train::Checkpointable;
using train::Metrics;
using train::Options;
using train::Run;

class Judge : public train::Model {
 public:
  explicit Judge(const Options& o)
      : lr(o.real("lr")),
        per_epoch(60000 / o.integer("batch")),
        data("fashion-mnist", o.integer("batch"), (uint64_t)o.integer("seed"), kCPU) {
    manual_seed((uint64_t)o.integer("seed"));
    judge = std::make_shared<JudgeNet>();
    opt = std::make_unique<optim::Adam>(judge->parameters(), optim::AdamOptions{.lr = lr});
  }

  void state(Checkpointable& s) override {
    s.add("judge", *judge);
    s.add("opt", *opt);
    data.add_to(s);
  }

  void step(int64_t step) override {
    if (step % per_epoch == 0 && step > 0) opt->set_lr(lr * std::pow(0.5, (double)(step / per_epoch)));  // halve per epoch
    LabelledBatch b = data.next_labelled();
    judge->train();
    loss = cross_entropy((*judge)(b.x), b.y);
    opt->zero_grad();
    loss.backward();
    opt->step();
  }

  Metrics values() override { return {{"loss", loss.item()}}; }
  std::vector<std::string> plotted() const override { return {"loss"}; }

  Metrics snapshot(Run&, int64_t) override { return {{"test_accuracy", test_accuracy()}}; }

  void finish(Run& run, bool completed) override {
    if (!completed) return;
    const double acc = test_accuracy();
    // the weights alone (no optimizer state): what gan/judge.duel holds
    std::map<std::string, Tensor> weights;
    for (auto& [k, t] : judge->state_dict()) weights["judge." + k] = t;
    save_checkpoint(run.path("judge.duel"), weights, {{"model", "judge"}, {"test_accuracy", std::to_string(acc)}});
    if (!run.options().quiet)
      std::printf("judge test accuracy: %.2f%%; weights in %s (copy to %s to use them in `duel eval`)\n", 100 * acc,
                  run.path("judge.duel").c_str(), kJudgePath);
  }

  void evaluate(Run&, const train::EvalRequest&) override {
    std::printf("judge test accuracy: %.2f%%\n", 100 * test_accuracy());
  }

 private:
  double test_accuracy() {
    ImageDataset test = load_fashion_mnist("test");
    return judge_accuracy(*judge, test.images, test.labels);
  }
  double lr;
  int64_t per_epoch;
  DataSource data;
  std::shared_ptr<JudgeNet> judge;
  std::unique_ptr<optim::Adam> opt;
  Tensor loss;
};

}  // namespace

train::ModelInfo judge_model() {
  train::ModelInfo info;
  info.name = "judge";
  info.section = "-";
  info.paper = "the evaluation classifier (not a survey model)";
  info.summary = "small CNN whose features give the classifier score and FCD";
  info.generator = false;
  // 4 epochs of 60000 / 128 = 468 batches; a test-set evaluation and a checkpoint per epoch
  info.defaults = {.steps = 4 * 468, .log_every = 50, .sample_every = 468, .checkpoint_every = 468};
  info.options = {
      batch_option(128),
      lr_option(1e-3),
  };
  info.test_options = {{"batch", "8"}};
  info.make = [](const Options& o) { return std::make_unique<Judge>(o); };
  return info;
}

}  // namespace duel::gan
