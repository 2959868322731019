// Trains the judge classifier used by the image metrics (gan/metrics.h):
//   duel train judge --epochs 4 --out runs/judge
// then copy runs/judge/judge.duel to gan/judge.duel (what `duel eval` loads).
#include <cmath>
#include <cstdio>

#include "train/progress.h"
#include "data/idx.h"
#include "data/loader.h"
#include "gan/metrics.h"
#include "gan/models.h"
#include "tensor/ops/loss.h"
#include "tensor/serialize.h"

namespace duel::gan {

void train_judge(Run& run) {
  const RunOptions& o = run.options();
  const int64_t epochs = o.get_int("epochs", 4), batch = o.get_int("batch", 128);
  manual_seed(o.seed);
  ImageDataset train = load_fashion_mnist("train"), test = load_fashion_mnist("test");
  JudgeNet judge;
  optim::Adam opt(judge.parameters(), {.lr = o.get("lr", 1e-3)});
  DataLoader loader(train.images, train.labels, {.batch_size = batch, .seed = o.seed, .drop_last = true});
  const int64_t per_epoch = loader.batches_per_epoch(), total = epochs * per_epoch;
  Checkpointable state{{{"judge", &judge}}, {{"opt", &opt}}, {}};
  std::map<std::string, std::string> meta;
  int64_t step = run.maybe_resume(state, &meta);
  loader.set_position({step / per_epoch, step % per_epoch});
  train::ProgressBar bar("judge", total, step);
  for (; step < total; ++step) {
    if (Run::should_stop(step)) break;
    if (step % per_epoch == 0 && step > 0) {
      // learning-rate decay per epoch
      opt.set_lr(o.get("lr", 1e-3) * std::pow(0.5, (double)(step / per_epoch)));
    }
    auto b = loader.next();
    if (!b) b = loader.next();
    judge.train();
    Tensor loss = cross_entropy(judge(b->inputs), b->labels);
    opt.zero_grad();
    loss.backward();
    opt.step();
    if ((step + 1) % o.log_every == 0) {
      run.log_metrics(step + 1, {{"loss", loss.item()}});
      bar.update(step + 1, {{"loss", loss.item()}});
    }
    if ((step + 1) % per_epoch == 0) {
      double acc = judge_accuracy(judge, test.images, test.labels);
      run.log_metrics(step + 1, {{"test_accuracy", acc}});
      bar.print_line("epoch " + std::to_string((step + 1) / per_epoch) + ": test accuracy " + std::to_string(acc));
      run.save_checkpoint(state, step + 1, {{"test_accuracy", std::to_string(acc)}});
    }
  }
  bar.finish();
  double acc = judge_accuracy(judge, test.images, test.labels);
  run.save_checkpoint(state, step, {{"test_accuracy", std::to_string(acc)}});
  run.plot_metrics({"loss"});
  // the weights alone (no optimizer state): what gan/judge.duel holds
  std::map<std::string, Tensor> weights;
  for (auto& [k, t] : judge.state_dict()) weights["judge." + k] = t;
  save_checkpoint(run.path("judge.duel"), weights,
                  {{"model", "judge"}, {"step", std::to_string(step)}, {"test_accuracy", std::to_string(acc)}});
  std::printf("judge test accuracy: %.2f%%; weights in %s (copy to %s to use them in `duel eval`)\n", 100 * acc,
              run.path("judge.duel").c_str(), kJudgePath);
}

}  // namespace duel::gan
