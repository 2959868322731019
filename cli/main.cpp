// The duel command line.
//
//   duel list                                  every model with its survey section
//   duel train <model> [options]               train (resumes from --out if a checkpoint is there)
//   duel sample <run-dir> [--n 64] [--out F]   draw samples from a trained run
//   duel eval <run-dir> [--n 2000] [--judge F]  metrics of a trained run
//   duel bench [args]                          kernel benchmarks (runs duel_bench)
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "data/idx.h"
#include "data/image.h"
#include "gan/common.h"
#include "gan/metrics.h"
#include "gan/models.h"
#include "rl/dqn.h"
#include "tensor/ops/reduction.h"

using namespace duel;

namespace {

const char* kUsage = R"(usage: duel <command> [options]

commands:
  list                          list the models (survey section, data, summary)
  train <model> [options]       train a model; a run resumes from its folder's checkpoint
  sample <run-dir> [--n N] [--out FILE]
                                draw N samples from a trained run into a PNG
  eval <run-dir> [--n N] [--judge FILE]
                                evaluate a trained run (FCD and classifier score for images,
                                mode coverage for toy mixtures; the judge's weights come from
                                FILE, $DUEL_JUDGE or the checkout's gan/judge.duel)
  bench [duel_bench options]    run the CPU benchmarks (duel against libtorch)
  bench --gpu [options]         run the GPU kernel benchmarks (our kernels against cuDNN/cuBLAS)

train options (defaults in brackets):
  --data NAME       fashion-mnist | 8gaussians | 25gaussians | swissroll   [model's default]
  --steps N         training iterations                                    [model's default]
  --device D        cpu | sim | cuda                                       [cpu]
  --seed S          random seed                                            [0]
  --out DIR         run folder                                             [runs/<model>]
  --no-resume       start from scratch even if DIR has a checkpoint
  --log-every N, --sample-every N                                          [50, 500]
  --checkpoint-every N  steps between checkpoints        [GANs 200 iterations, dqn 50000 frames]
  --lr, --batch, --lambda, --n-critic, --k, --critic-bn 1, --epochs ...    model-specific
)";

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "duel: %s\n\n%s", msg.c_str(), kUsage);
  std::exit(2);
}

// --key value pairs (and --no-resume) into RunOptions.
train::RunOptions parse_train_options(const std::string& model, int argc, char** argv, int first) {
  train::RunOptions o;
  o.model = model;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) usage_error("unexpected argument '" + a + "' (options look like --name value)");
    std::string key = a.substr(2);
    if (key == "help") {
      std::printf("%s", kUsage);
      std::exit(0);
    }
    if (key == "no-resume") {
      o.resume = false;
      continue;
    }
    if (key == "quiet") {
      o.quiet = true;
      continue;
    }
    if (i + 1 >= argc) usage_error("option " + a + " needs a value");
    std::string v = argv[++i];
    try {
      if (key == "steps") o.steps = std::stoll(v);
      else if (key == "seed") o.seed = std::stoull(v);
      else if (key == "device") o.device = v;
      else if (key == "out") o.out_dir = v;
      else if (key == "log-every") o.log_every = std::stoll(v);
      else if (key == "sample-every") o.sample_every = std::stoll(v);
      else if (key == "checkpoint-every") {
        o.checkpoint_every = std::stoll(v);
        if (o.checkpoint_every <= 0) usage_error("--checkpoint-every must be positive");
      }
      else o.extra[key] = v;
    } catch (const std::invalid_argument&) {
      usage_error("option " + a + " expects a number, got '" + v + "'");
    }
  }
  if (o.log_every <= 0 || o.sample_every <= 0) usage_error("--log-every and --sample-every must be positive");
  Device(o.device);  // validates the name
  return o;
}

// Rebuilds a run's options from its config.txt.
train::RunOptions read_run(const std::string& dir) {
  std::ifstream in(dir + "/config.txt");
  if (!in) usage_error("'" + dir + "' is not a run folder (no config.txt); train one with `duel train <model> --out " + dir + "`");
  train::RunOptions o;
  o.out_dir = dir;
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    std::string k = line.substr(0, eq), v = line.substr(eq + 3);
    if (k == "model") o.model = v;
    else if (k == "device") o.device = v;
    else if (k == "seed") o.seed = std::stoull(v);
    else if (k == "steps") o.steps = std::stoll(v);
    else o.extra[k] = v;
  }
  if (!std::filesystem::exists(dir + "/checkpoint.duel"))
    usage_error("run '" + dir + "' has no checkpoint yet; train it first");
  return o;
}

int cmd_list() {
  std::printf("%-8s %-7s %-62s %s\n", "model", "section", "paper", "data");
  for (auto& m : gan::registry()) std::printf("%-8s %-7s %-62s %s\n", m.name.c_str(), m.section.c_str(), m.title.c_str(), m.data.c_str());
  std::printf("\n");
  for (auto& m : gan::registry()) std::printf("  %-8s %s\n", m.name.c_str(), m.summary.c_str());
  std::printf("  %-8s %s\n", "dqn", "6.1-6.4 DQN, Nature DQN, Double DQN, Dueling DQN (--env cartpole|breakout|freeway|asterix|space_invaders|seaquest --variant dqn|nature|double|dueling)");
  std::printf("\nThe remaining models of the survey (docs/models.md) are not implemented yet.\n");
  return 0;
}

int cmd_sample(int argc, char** argv) {
  if (argc < 3) usage_error("sample needs a run folder");
  train::RunOptions o = read_run(argv[2]);
  int64_t n = 64;
  std::string out = o.out_dir + "/samples_cli.png";
  for (int i = 3; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--n")) n = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--out")) out = argv[i + 1];
    else usage_error(std::string("unknown sample option ") + argv[i]);
  }
  const auto& spec = gan::find_model(o.model);
  if (!spec.sample) usage_error("model '" + o.model + "' does not generate samples");
  o.resume = true;
  train::Run run(o);
  Tensor s = spec.sample(run, n);
  if (s.dim() == 4) save_image_grid(out, s, 8, 2, 2);
  else plot_scatter_with_contour(out, Tensor(), {{"generated", s, 0x2ca02c}}, {.x_min = -2, .x_max = 2, .y_min = -2, .y_max = 2});
  std::printf("wrote %lld samples to %s\n", (long long)n, out.c_str());
  return 0;
}

int cmd_eval(int argc, char** argv) {
  if (argc < 3) usage_error("eval needs a run folder");
  train::RunOptions o = read_run(argv[2]);
  int64_t n = 2000;
  std::string judge_path;  // empty: gan::default_judge_path()
  for (int i = 3; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--n")) n = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--judge")) judge_path = argv[i + 1];
    else usage_error(std::string("unknown eval option ") + argv[i]);
  }
  if (o.model == "dqn") {  // greedy evaluation episodes (--n, at most 100)
    train::Run run(o);
    return rl::eval_dqn(run, (int)std::min<int64_t>(n, 100));
  }
  const auto& spec = gan::find_model(o.model);
  train::Run run(o);
  if (o.model == "judge") {
    auto judge = gan::load_judge(o.out_dir + "/checkpoint.duel");
    ImageDataset test = load_fashion_mnist("test");
    std::printf("judge test accuracy: %.2f%%\n", 100 * gan::judge_accuracy(*judge, test.images, test.labels));
    return 0;
  }
  Tensor fake = spec.sample(run, n);
  std::printf("run %s (model %s, step %s)\n", o.out_dir.c_str(), o.model.c_str(),
              read_checkpoint_meta(o.out_dir + "/checkpoint.duel")["step"].c_str());
  if (fake.dim() == 4) {
    auto judge = gan::load_judge(judge_path);
    ImageDataset test = load_fashion_mnist("test", "", true, n);
    ImageDataset train = load_fashion_mnist("train", "", true, n);
    Tensor f_test = gan::judge_features(*judge, test.images);
    double fcd = gan::frechet_distance(gan::judge_features(*judge, fake), f_test);
    double fcd_real = gan::frechet_distance(gan::judge_features(*judge, train.images), f_test);
    double cs = gan::classifier_score(*judge, fake), cs_real = gan::classifier_score(*judge, test.images);
    std::printf("%-18s %12s %12s\n", "metric", "generated", "real");
    std::printf("%-18s %12.3f %12.3f   (FCD to %lld test images; 'real' = %lld train images)\n", "FCD", fcd, fcd_real,
                (long long)n, (long long)n);
    std::printf("%-18s %12.3f %12.3f   (max 10)\n", "classifier score", cs, cs_real);
  } else {
    std::string data = o.get("data", std::string("8gaussians"));
    gan::DataSource src(data, 256, 0, kCPU);
    auto m = gan::toy_metrics(src, fake);
    if (m.empty()) std::printf("no mode metrics for %s\n", data.c_str());
    for (auto& [k, v] : m) std::printf("%-18s %10.4f\n", k.c_str(), v);
    auto real_m = gan::toy_metrics(src, src.evaluation_set(n));
    for (auto& [k, v] : real_m) std::printf("%-18s %10.4f   (real samples)\n", k.c_str(), v);
  }
  return 0;
}

int cmd_bench(int argc, char** argv) {
  // duel_bench (CPU, against libtorch) and duel_gpu_bench (--gpu: our CUDA kernels against
  // cuDNN/cuBLAS) live beside this binary in the build tree (build/bench/...)
  int first = 2;
  std::string program = "duel_bench";
  if (argc > 2 && !std::strcmp(argv[2], "--gpu")) {
    program = "duel_gpu_bench";
    first = 3;
  }
  std::filesystem::path self = std::filesystem::canonical("/proc/self/exe").parent_path();
  for (auto cand : {self / "bench" / program, self / program, self.parent_path() / "bench" / program}) {
    if (std::filesystem::exists(cand)) {
      std::vector<char*> args = {const_cast<char*>(cand.c_str())};
      for (int i = first; i < argc; ++i) args.push_back(argv[i]);
      args.push_back(nullptr);
      execv(cand.c_str(), args.data());
    }
  }
  std::fprintf(stderr, "duel: %s was not found next to this binary; build it with `cmake --build build --target %s`%s\n",
               program.c_str(), program.c_str(), program == "duel_gpu_bench" ? " (needs a CUDA build)" : "");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    std::printf("%s", kUsage);
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  try {
    if (cmd == "list") return cmd_list();
    if (cmd == "train") {
      if (argc < 3) usage_error("train needs a model name (see `duel list`)");
      if (std::string(argv[2]) == "dqn") {
        train::RunOptions o = parse_train_options("dqn", argc, argv, 3);
        train::Run run(o);
        std::printf("duel train dqn -> %s\n", run.dir().c_str());
        rl::train_dqn(run);
        return 0;
      }
      const auto& spec = gan::find_model(argv[2]);
      train::RunOptions o = parse_train_options(spec.name, argc, argv, 3);
      train::Run run(o);
      std::printf("duel train %s -> %s\n", spec.name.c_str(), run.dir().c_str());
      spec.train(run);
      return 0;
    }
    if (cmd == "sample") return cmd_sample(argc, argv);
    if (cmd == "eval") return cmd_eval(argc, argv);
    if (cmd == "bench") return cmd_bench(argc, argv);
    usage_error("unknown command '" + cmd + "'");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "duel: error: %s\n", e.what());
    return 1;
  }
}
