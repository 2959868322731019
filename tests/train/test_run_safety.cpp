// Bad input and faults around a training run, each case with the exact error expected:
// options refused before anything runs or is written, resumes that would mix two
// configurations, a data set smaller than a batch, a diverging run, crafted checkpoints,
// a second trainer on the same folder, interrupts (exit 130/143), stale temporary files.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "autograd/grad_mode.h"
#include "data/idx.h"
#include "nn/nn.h"
#include "tensor/serialize.h"
#include "train/fit.h"
#include "train/registry.h"
#include "tests/train/run_cli.h"

using namespace duel;
namespace fs = std::filesystem;
using Catch::Contains;
using test::CliResult;
using test::run_cli;

namespace {

fs::path fresh_dir(const std::string& name) { return test::fresh_dir("safety", name); }

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("cli: bad options are refused with the option, the value and the valid range, before anything is written",
          "[train][options]") {
  const fs::path out = fresh_dir("cli_options");
  struct Case {
    std::string args, error;
  };
  const std::vector<Case> cases = {
      {"train wgan-gp --lamda 3", "wgan-gp: unknown option --lamda (did you mean --lambda?); valid options: --batch,"},
      {"train gan --steps 0", "gan: --steps expects an integer >= 1, got '0'"},
      {"train gan --steps -5", "gan: --steps expects an integer >= 1, got '-5'"},
      {"train gan --steps 10abc", "gan: --steps expects an integer >= 1, got '10abc'"},
      {"train gan --steps 1e3", "gan: --steps expects an integer >= 1, got '1e3'"},
      {"train gan --steps 99999999999999999999", "gan: --steps expects an integer >= 1, got '99999999999999999999'"},
      {"train gan --seed -1", "gan: --seed expects an integer >= 0, got '-1'"},
      {"train infogan --continuous 17", "infogan: --continuous expects an integer in [0, 16], got '17'"},
      {"train infogan --lambda nan", "infogan: --lambda expects a finite number in [0, 1000000], got 'nan'"},
      {"train infogan --lr-g 0", "infogan: --lr-g expects a finite number in (0, 1], got '0'"},
      {"train ssl-baseline --labels-per-class 0", "ssl-baseline: --labels-per-class expects an integer in [1, 6000], got '0'"},
      {"train ssl-baseline --subset-seed -1", "ssl-baseline: --subset-seed expects an integer in [0, 1000000], got '-1'"},
      {"train improved-gan --label-smoothing 0.7", "improved-gan: --label-smoothing expects a finite number in [0, 0.5], got '0.7'"},
      {"train improved-gan --vbn maybe", "improved-gan: --vbn expects 0, 1, true or false, got 'maybe'"},
      {"train improved-gan --minibatch-kernels -3", "improved-gan: --minibatch-kernels expects an integer in [0, 4096], got '-3'"},
      {"train triple-gan --alpha 1.5", "triple-gan: --alpha expects a finite number in [0, 1], got '1.5'"},
      {"train bad-gan --lambda-pt -1", "bad-gan: --lambda-pt expects a finite number in [0, 100], got '-1'"},
      {"train improved-gan --historical-averaging -0.1", "improved-gan: --historical-averaging expects a finite number in [0, 100], got '-0.1'"},
      {"train triple-gan --alpha-p 11", "triple-gan: --alpha-p expects a finite number in [0, 10], got '11'"},
      {"train triple-gan --pseudo-after -1", "triple-gan: --pseudo-after expects an integer in [0, 1073741824], got '-1'"},
      {"train bad-gan --lambda-ent nan", "bad-gan: --lambda-ent expects a finite number in [0, 100], got 'nan'"},
      {"train sgan --subset-seed x", "sgan: --subset-seed expects an integer in [0, 1000000], got 'x'"},
      {"train wgan-gp --lr inf", "wgan-gp: --lr expects a finite number in (0, 1], got 'inf'"},
      {"train wgan-gp --lr 0", "wgan-gp: --lr expects a finite number in (0, 1], got '0'"},
      {"train wgan-gp --lambda nan", "wgan-gp: --lambda expects a finite number in [0, 1000000], got 'nan'"},
      {"train gan --batch 0", "gan: --batch expects an integer in [1, 1048576], got '0'"},
      {"train gan --k 0", "gan: --k expects an integer in [1, 100], got '0'"},
      {"train gan --k -1", "gan: --k expects an integer in [1, 100], got '-1'"},
      {"train wgan-gp --n-critic 0", "wgan-gp: --n-critic expects an integer in [1, 100], got '0'"},
      {"train wgan-gp --critic-bn yes", "wgan-gp: --critic-bn expects 0, 1, true or false, got 'yes'"},
      {"train gan --data mnist",
       "gan: --data expects one of fashion-mnist, 8gaussians, 25gaussians, swissroll, got 'mnist'"},
      {"train dcgan --device gpu", "dcgan: --device expects one of cpu, sim, cuda, got 'gpu'"},
      {"train dqn --env pong", "dqn: --env expects one of cartpole,"},
      {"train gan --steps", "gan: --steps needs a value (an integer >= 1)"},
      {"train gan --no-resume=1", "gan: --no-resume takes no value"},
      {"train gan --steps 5 --steps 6", "gan: --steps is given twice"},
      {"train gan foo", "gan: unexpected argument 'foo' (options look like --name value)"},
      {"train char-rnn --cell lstn", "char-rnn: --cell expects one of lstm, gru, got 'lstn'"},
      {"train char-rnn --bptt 0", "char-rnn: --bptt expects an integer in [1, 10000], got '0'"},
      {"train char-rnn --clip -1", "char-rnn: --clip expects a finite number in [0, 1000000], got '-1'"},
      {"train seqgan --mode adversarial", "seqgan: --mode expects one of seqgan, mle, got 'adversarial'"},
      {"train seqgan --rollouts 0", "seqgan: --rollouts expects an integer in [1, 1024], got '0'"},
      {"train seqgan --rollout-update 1.5", "seqgan: --rollout-update expects a finite number in [0, 1], got '1.5'"},
      {"train seqgan --d-epochs 0", "seqgan: --d-epochs expects an integer in [1, 1000], got '0'"},
      {"train seqgan --pg-optimizer fresh", "seqgan: --pg-optimizer expects one of own, shared, got 'fresh'"},
      {"train seqgan --pg-loss avg", "seqgan: --pg-loss expects one of sum, mean, got 'avg'"},
      {"train seqgan --grad-clip -1", "seqgan: --grad-clip expects a finite number in [0, 1000000], got '-1'"},
      {"train chess-style --target carlsen", "chess-style: --target expects one of strong, weak, got 'carlsen'"},
      {"train chess-style --mode rl", "chess-style: --mode expects one of gan, supervised, got 'rl'"},
      {"train chess-style --tau 0", "chess-style: --tau expects a finite number in (0, 100], got '0'"},
      {"train segan --mode wiener", "segan: --mode expects one of gan, l1, got 'wiener'"},
      {"train segan --layers 12", "segan: --layers expects an integer in [1, 11], got '12'"},
      {"train segan --window 8", "segan: --window expects an integer in [16, 1048576], got '8'"},
      {"train gann", "unknown model 'gann'; available: vae, char-rnn, gan,"},
  };
  for (const Case& c : cases) {
    INFO("duel " << c.args);
    CliResult r = run_cli(c.args + " --out " + out.string());
    CHECK(r.code == 2);
    CHECK_THAT(r.output, Contains(c.error));
    CHECK_FALSE(fs::exists(out));  // nothing written
  }
  CliResult s = run_cli("sample " + out.string() + " --n 0");
  CHECK(s.code == 2);
  CHECK_THAT(s.output, Contains("sample: --n expects an integer in [1, 100000], got '0'"));
  CliResult impl_args = run_cli("impl cpu:gemm=eigen");
  CHECK(impl_args.code == 2);
  CHECK_THAT(impl_args.output, Contains("impl takes no arguments (set a choice with DUEL_IMPL=op=choice,...)"));
  CliResult no_run = run_cli("eval " + out.string());
  CHECK(no_run.code == 2);
  CHECK_THAT(no_run.output, Contains("'" + out.string() + "' holds no checkpoint.duel: not a trained run"));
}

TEST_CASE("options: presets, stored values and canonical text", "[train][options]") {
  const train::ModelInfo& gan = train::find_model("gan");
  train::Options toy = gan.options.resolve({});
  CHECK(toy.integer("batch") == 256);
  CHECK(toy.integer("steps") == 5000);
  train::Options img = gan.options.resolve({{"data", "fashion-mnist"}});
  CHECK(img.integer("batch") == 64);  // the preset
  CHECK(img.integer("z-dim") == 100);
  train::Options given = gan.options.resolve({{"data", "fashion-mnist"}, {"batch", "32"}});
  CHECK(given.integer("batch") == 32);  // a given value beats the preset
  // a resumed run's stored values fill what is not given; presets do not override them
  train::Options resumed = gan.options.resolve({}, {{"data", "fashion-mnist"}, {"batch", "16"}, {"lr", "0.001"}});
  CHECK(resumed.integer("batch") == 16);
  CHECK(resumed.real("lr") == 0.001);
  CHECK(resumed.integer("hidden") == 512);
  CHECK(gan.options.resolve({{"lr", "2.0e-4"}}).text("lr") == gan.options.resolve({}).text("lr"));
  CHECK_THROWS_WITH(gan.options.resolve({{"lr", "0.5x"}}), Contains("--lr expects a finite number in (0, 1], got '0.5x'"));
}

TEST_CASE("resume: options given with other values are refused, config.txt is left intact", "[train][options]") {
  const fs::path dir = fresh_dir("resume_mismatch");
  const std::string common = " --data 8gaussians --hidden 8 --batch 16 --steps 6 --quiet --out " + dir.string();
  REQUIRE(run_cli("train gan" + common).code == 0);
  const std::string config = read_file(dir / "config.txt");
  CliResult r = run_cli("train gan --lr 0.001 --k 2 --data 8gaussians --hidden 8 --batch 16 --steps 9 --out " +
                        dir.string());
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Contains("gan: the run in '" + dir.string() + "' was trained with other options"));
  CHECK_THAT(r.output, Contains("--k 2 (the run has 1)"));
  CHECK_THAT(r.output, Contains("--lr 0.001 (the run has 0.0002)"));
  CHECK(read_file(dir / "config.txt") == config);
  CHECK(read_checkpoint_meta((dir / "checkpoint.duel").string())["step"] == "6");
  // options not given are taken from the run; --steps may change
  CliResult ok = run_cli("train gan --steps 8 --quiet --out " + dir.string());
  CHECK(ok.code == 0);
  CHECK(read_checkpoint_meta((dir / "checkpoint.duel").string())["step"] == "8");
  CHECK_THAT(read_file(dir / "config.txt"), Contains("hidden = 8"));
  // read-only commands work on the intact run and write nothing into it
  auto before = fs::last_write_time(dir / "config.txt");
  CliResult ev = run_cli("eval " + dir.string() + " --n 200");
  CHECK(ev.code == 0);
  CHECK_THAT(ev.output, Contains("modes_covered"));
  CHECK(fs::last_write_time(dir / "config.txt") == before);
  fs::remove_all(dir);
}

namespace {

// A model whose loss or weight turns non-finite at a chosen step (for the divergence checks).
class Diverging : public train::Model {
 public:
  explicit Diverging(const train::Options& o) : bad_loss_at(o.integer("bad-loss-at")), bad_weight_at(o.integer("bad-weight-at")) {
    net.emplace_back<nn::Linear>(2, 1);
  }
  void state(train::Checkpointable& s) override { s.add("net", net); }
  void step(int64_t step) override {
    loss = step + 1 == bad_loss_at ? std::nan("") : 1.0 / (step + 1);
    if (step + 1 == bad_weight_at) {
      NoGradGuard ng;
      net.parameters()[0].fill_(INFINITY);
    }
  }
  train::Metrics values() override { return {{"loss", loss}}; }
  void evaluate(train::Run&, const train::EvalRequest&) override {}
  int64_t bad_loss_at, bad_weight_at;
  nn::Sequential net;
  double loss = 0;
};

train::ModelInfo diverging_info() {
  train::ModelInfo info;
  info.name = "diverging";
  info.generator = false;
  info.defaults = {.steps = 10, .log_every = 1, .sample_every = 100, .checkpoint_every = 2};
  info.options = {train::Option::integer("bad-loss-at", "", -1, -1, 100, "step whose loss is NaN"),
                  train::Option::integer("bad-weight-at", "", -1, -1, 100, "step after which a weight is inf")};
  info.make = [](const train::Options& o) { return std::make_unique<Diverging>(o); };
  return train::with_common_options(info);
}

}  // namespace

TEST_CASE("fit: a diverging run stops naming the step and the value, and keeps its last good checkpoint",
          "[train][divergence]") {
  const train::ModelInfo info = diverging_info();
  const fs::path dir = fresh_dir("diverging");
  {
    train::RunOptions o{.model = "diverging", .out_dir = dir.string(), .quiet = true};
    o.extra = {{"bad-loss-at", "7"}};
    train::Run run(o);
    CHECK_THROWS_WITH(train::fit(run, info),
                      Contains("diverging: training diverged: loss = nan at iteration 7 (loss = nan); the last good "
                               "checkpoint (6) is kept in " +
                               dir.string() + "/checkpoint.duel"));
  }
  CHECK(read_checkpoint_meta((dir / "checkpoint.duel").string())["step"] == "6");
  fs::remove_all(dir);
  {
    // a weight that turns infinite after step 5 (losses finite) is caught before the checkpoint of step 6
    train::RunOptions o{.model = "diverging", .out_dir = dir.string(), .quiet = true};
    o.extra = {{"bad-weight-at", "5"}};
    train::Run run(o);
    CHECK_THROWS_WITH(train::fit(run, info),
                      Contains("diverging: training diverged: net.0.weight is not finite at iteration 6; the last good "
                               "checkpoint (4) is kept"));
  }
  CHECK(read_checkpoint_meta((dir / "checkpoint.duel").string())["step"] == "4");
  fs::remove_all(dir);
}

TEST_CASE("run folder: one trainer at a time, stale temporary files removed, metrics cut back on resume",
          "[train][runfolder]") {
  const train::ModelInfo info = diverging_info();
  const fs::path dir = fresh_dir("runfolder");
  {
    train::RunOptions o{.model = "diverging", .out_dir = dir.string(), .steps = 6, .quiet = true};
    train::Run run(o);
    train::fit(run, info);
  }
  // a writer killed mid-write left a temporary file; metrics.jsonl has lines past the checkpoint
  std::ofstream(dir / ".checkpoint.duel.tmp.99999.0") << "partial";
  {
    std::ofstream m(dir / "metrics.jsonl", std::ios::app);
    m << "{\"step\": 7, \"loss\": 0.1}\n{\"step\": 8, \"lo";  // and a torn last line
  }
  {
    train::RunOptions o{.model = "diverging", .out_dir = dir.string(), .steps = 8, .quiet = true};
    train::Run run(o);
    train::Run second(o);
    // while `run` trains, a second trainer on the folder is refused
    train::Run::set_stop_after(7);
    CHECK(train::fit(run, info).step == 7);
    train::Run::set_stop_after(-1);
    CHECK_THROWS_WITH(train::fit(second, info), Contains("another `duel train` is using '" + dir.string() + "'"));
  }
  CHECK_FALSE(fs::exists(dir / ".checkpoint.duel.tmp.99999.0"));
  std::ifstream in(dir / "metrics.jsonl");
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);)
    if (l.find("\"loss\"") != std::string::npos) lines.push_back(l);
  REQUIRE(lines.size() == 7);  // steps 1..7, each once: the old 7 and the torn 8 were dropped
  CHECK(lines.back() == "{\"step\": 7, \"loss\": 0.142857143}");
  fs::remove_all(dir);
}

TEST_CASE("checkpoint: crafted fields with valid checksums are refused with the field named", "[train][checkpoint]") {
  const train::ModelInfo info = diverging_info();
  const fs::path dir = fresh_dir("crafted");
  auto train_to = [&](int64_t steps) {
    train::RunOptions o{.model = "diverging", .out_dir = dir.string(), .steps = steps, .quiet = true};
    train::Run run(o);
    return train::fit(run, info);
  };
  train_to(4);
  const std::string file = (dir / "checkpoint.duel").string();
  const Checkpoint good = load_checkpoint(file);
  auto craft = [&](auto change) {
    Checkpoint c = good;
    change(c);
    save_checkpoint(file, c.tensors, c.meta);  // valid checksums, crafted content
  };
  craft([](Checkpoint& c) { c.meta["step"] = "-3"; });
  CHECK_THROWS_WITH(train_to(6), Contains("invalid step '-3' (expected an integer >= 0)"));
  craft([](Checkpoint& c) { c.meta["step"] = "4x"; });
  CHECK_THROWS_WITH(train_to(6), Contains("invalid step '4x'"));
  craft([](Checkpoint& c) { c.meta["model"] = "gan"; });
  CHECK_THROWS_WITH(train_to(6), Contains("is a checkpoint of model 'gan', not 'diverging'"));
  craft([](Checkpoint& c) { c.tensors["net.0.weight"] = zeros({3, 2}); });
  CHECK_THROWS_WITH(train_to(6), Contains("weight"));
  craft([](Checkpoint& c) { c.meta["step"] = "99"; });
  CHECK_THROWS_WITH(train_to(6), Contains("is at iteration 99, past --steps 6"));
  fs::remove_all(dir);

  // the DQN's named counters are range-checked, its lists length-checked
  const fs::path qdir = fresh_dir("crafted_dqn");
  auto dqn_to = [&](int64_t steps) {
    train::RunOptions o{.model = "dqn", .out_dir = qdir.string(), .steps = steps, .quiet = true};
    o.extra = {{"learning-starts", "10"}, {"replay-size", "50"}, {"batch", "8"},
               {"hidden", "8"},          {"sample-every", "1000"}, {"eval-episodes", "1"}};
    train::Run run(o);
    return train::fit(run);
  };
  dqn_to(30);
  const std::string qfile = (qdir / "checkpoint.duel").string();
  const Checkpoint qgood = load_checkpoint(qfile);
  auto qcraft = [&](auto change) {
    Checkpoint c = qgood;
    change(c);
    save_checkpoint(qfile, c.tensors, c.meta);
  };
  qcraft([](Checkpoint& c) { c.tensors["int.frame"] = from_vector(std::vector<int64_t>{-5}, {1}, TensorOptions(kInt64)); });
  CHECK_THROWS_WITH(dqn_to(40), Contains("'frame' is -5, outside [0, "));
  qcraft([](Checkpoint& c) { c.tensors["rng.act"] = from_vector(std::vector<int64_t>{1}, {1}, TensorOptions(kInt64)); });
  CHECK_THROWS_WITH(dqn_to(40), Contains("'rng.act' should be int64 [2], is int64 [1]"));
  qcraft([](Checkpoint& c) {
    c.tensors["episode.actions"] = from_vector(std::vector<int64_t>{5, 0, 1}, {3}, TensorOptions(kInt64));
  });
  CHECK_THROWS_WITH(dqn_to(40), Contains("episode.actions holds 2 actions but says 5"));
  qcraft([](Checkpoint& c) {
    c.tensors["episode.actions"] = from_vector(std::vector<int64_t>{1, 7}, {2}, TensorOptions(kInt64));
  });
  CHECK_THROWS_WITH(dqn_to(40), Contains("episode action 7 is not an action of cartpole"));
  qcraft([](Checkpoint& c) { c.tensors.erase("int.updates"); });
  CHECK_THROWS_WITH(dqn_to(40), Contains("int.updates"));
  fs::remove_all(qdir);
}

TEST_CASE("cli: Ctrl-C and SIGTERM checkpoint and exit with 130 and 143", "[train][signals]") {
  for (int sig : {SIGINT, SIGTERM}) {
    const fs::path dir = fresh_dir("signal" + std::to_string(sig));
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      execl(DUEL_CLI_PATH, DUEL_CLI_PATH, "train", "gan", "--hidden", "8", "--batch", "16", "--steps", "100000000",
            "--checkpoint-every", "5", "--out", dir.c_str(), (char*)nullptr);
      _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!fs::exists(dir / "checkpoint.duel") && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    kill(child, sig);
    int status = 0;
    waitpid(child, &status, 0);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 128 + sig);
    int64_t step = std::stoll(read_checkpoint_meta((dir / "checkpoint.duel").string())["step"]);
    CHECK(step > 0);
    fs::remove_all(dir);
  }
}

TEST_CASE("data: a batch larger than the data set is refused with the sizes", "[train][data]") {
  const fs::path d = fresh_dir("small_data");
  fs::create_directories(d);
  std::vector<uint8_t> images(10 * 28 * 28, 7), labels(10, 3);
  write_idx((d / "train-images-idx3-ubyte").string(), {10, 28, 28}, images);
  write_idx((d / "train-labels-idx1-ubyte").string(), {10}, labels);
  ::setenv("DUEL_FASHION_MNIST_DIR", d.c_str(), 1);
  CliResult small = run_cli("train dcgan --steps 2 --quiet --out " + (d / "run").string());
  ::unsetenv("DUEL_FASHION_MNIST_DIR");
  CHECK(small.code == 1);
  CHECK_THAT(small.output, Contains("data: --batch 64 is larger than the data set (10 images in " + d.string() +
                                    "); use a batch of at most 10"));
  fs::remove_all(d);
}

TEST_CASE("run folder: a failed write of metrics.jsonl stops the run with the file named", "[train][runfolder]") {
  const fs::path dir = fresh_dir("metrics-full");
  train::RunOptions o{.model = "diverging", .out_dir = dir.string(), .steps = 1, .quiet = true};
  train::Run run(o);
  run.open_for_training("", 0);
  run.log_metrics(1, {{"loss", 1.0}});
  // the file may not grow past its size now (as on a full disk): in a child process, so that
  // the limit ends with it
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);  // get EFBIG from write() instead of the signal
    struct rlimit limit {};
    limit.rlim_cur = limit.rlim_max = (rlim_t)fs::file_size(dir / "metrics.jsonl");
    setrlimit(RLIMIT_FSIZE, &limit);
    try {
      run.log_metrics(2, {{"loss", 0.5}});
    } catch (const Error& e) {
      const std::string m = e.what();
      _exit(m.find("writing " + (dir / "metrics.jsonl").string() + " failed at step 2") != std::string::npos ? 0 : 3);
    }
    _exit(4);  // the failed write went unnoticed
  }
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  fs::remove_all(dir);
}
