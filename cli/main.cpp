// The duel command line. It names no model: everything model-specific comes from the zoo's
// registry (train/registry.h).
//
//   duel list [--markdown]                     every model with its survey section and paper
//   duel train <model> [options]               train (resumes from --out if a checkpoint is there)
//   duel train <model> --help                  the model's options, symbols, defaults and ranges
//   duel options [--markdown]                  every model's options (docs/options.md)
//   duel sample <run-dir> [--n 64] [--out F]   draw samples from a trained run
//   duel eval <run-dir> [--n N] [--judge F]    evaluate a trained run
//   duel eval <run-dir> --birthday             the birthday-paradox support estimate
//   duel bench [args]                          kernel benchmarks (runs duel_bench)
//   duel report <run-dir>... --out FILE.html   one self-contained HTML page comparing runs
//   duel impl                                  which implementation runs each op (kernels/impl.h)
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "dist/dist.h"
#include "kernels/impl.h"
#include "tensor/serialize.h"
#include "train/fit.h"
#include "train/registry.h"
#include "train/report.h"

using namespace duel;

namespace {

const char* kUsage = R"(usage: duel <command> [options]

commands:
  list [--markdown]             the models: name, survey section, paper, summary
  train <model> [options]       train a model; a run resumes from its folder's checkpoint
  train <model> --help          the model's options with the papers' symbols, defaults and ranges
  mpirun -np N duel train ...   data-parallel on N processes: gradients averaged every step, --batch
                                per rank, rank 0 writes (docs/distributed.md)
  options [--markdown]          the options of every model
  sample <run-dir> [--n N] [--out FILE]
                                draw N samples from a trained run into a PNG (text models: a text file)
  eval <run-dir> [--n N] [--judge FILE] [--birthday [--batches B] [--s-max S] [--out FILE]]
                                evaluate a trained run (FCD and classifier score for images, mode
                                coverage for toy mixtures, greedy episodes for agents; the judge's
                                weights come from FILE, $DUEL_JUDGE or the checkout's gan/judge.duel);
                                --birthday: the birthday-paradox estimate of G's support size
  bench [duel_bench options]    run the CPU benchmarks (duel against libtorch)
  bench --gpu [options]         run the GPU kernel benchmarks (our kernels against cuDNN/cuBLAS)
  report <run-dir>... --out FILE.html
                                one self-contained HTML page comparing runs (training folders or
                                docs/runs records): table, options, samples, metric plots, eval
  impl                          the ops with several implementations (our kernels, cuDNN, cuBLAS, CPU
                                GEMM variants): the choices and the current one (set with DUEL_IMPL)

Exit status: 0 done, 1 error (the message says what and why), 2 bad command line,
130/143 interrupted by Ctrl-C/SIGTERM (a checkpoint was written; rerun to resume).
)";

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "duel: %s\n(`duel --help` lists the commands)\n", msg.c_str());
  std::exit(2);
}

// A bad option of a command: the message names the option, the value and what is expected.
[[noreturn]] void option_error(const std::string& msg, const std::string& help_command) {
  std::fprintf(stderr, "duel: %s\n(see `%s`)\n", msg.c_str(), help_command.c_str());
  std::exit(2);
}

std::vector<std::string> args_from(int argc, char** argv, int first) {
  return std::vector<std::string>(argv + std::min(first, argc), argv + argc);
}

bool has_help(const std::vector<std::string>& args) {
  for (auto& a : args)
    if (a == "--help" || a == "-h") return true;
  return false;
}

int cmd_list(const std::vector<std::string>& args) {
  const bool md = !args.empty() && args[0] == "--markdown";
  if (!args.empty() && !md) usage_error("list takes no options but --markdown");
  if (md) {
    std::printf("| model | section | paper | what |\n|---|---|---|---|\n");
    for (auto& m : train::models())
      std::printf("| `%s` | %s | %s | %s |\n", m.name.c_str(), m.section.c_str(), m.paper.c_str(), m.summary.c_str());
    return 0;
  }
  int w = 5;  // the widest model name sets the first column
  for (auto& m : train::models()) w = std::max(w, (int)m.name.size());
  std::printf("%-*s %-8s %s\n", w, "model", "section", "paper");
  for (auto& m : train::models()) std::printf("%-*s %-8s %s\n", w, m.name.c_str(), m.section.c_str(), m.paper.c_str());
  std::printf("\n");
  for (auto& m : train::models()) std::printf("  %-*s %s\n", w, m.name.c_str(), m.summary.c_str());
  std::printf("\n`duel train <model> --help` lists a model's options. The survey's models not listed here\n"
              "(docs/models.md) are not implemented yet.\n");
  return 0;
}

void print_model_help(const train::ModelInfo& m) {
  std::printf("duel train %s [options]\n\n%s (survey section %s)\n%s\n\noptions:\n%s", m.name.c_str(), m.paper.c_str(),
              m.section.c_str(), m.summary.c_str(), m.options.help_text().c_str());
}

int cmd_options(const std::vector<std::string>& args) {
  const bool md = !args.empty() && args[0] == "--markdown";
  if (!args.empty() && !md) usage_error("options takes no options but --markdown");
  if (!md) {
    for (auto& m : train::models()) {
      print_model_help(m);
      std::printf("\n");
    }
    return 0;
  }
  std::printf(
      "# Options of every model\n\nGenerated by `duel options --markdown` from the models' declarations "
      "(a test checks that this file is current).\nEvery value is checked before anything runs: a bad one is "
      "refused with the option, the value and what is expected.\n");
  for (auto& m : train::models())
    std::printf("\n## `%s`: %s\n\n%s (survey section %s).\n\n%s", m.name.c_str(), m.summary.c_str(), m.paper.c_str(),
                m.section.c_str(), m.options.markdown().c_str());
  return 0;
}

int cmd_train(const std::vector<std::string>& args) {
  if (args.empty() || args[0].rfind("-", 0) == 0) usage_error("train needs a model name (see `duel list`)");
  const train::ModelInfo* found = nullptr;
  try {
    found = &train::find_model(args[0]);
  } catch (const Error& e) {
    usage_error(e.what());
  }
  const train::ModelInfo& info = *found;
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (has_help(rest)) {
    print_model_help(info);
    return 0;
  }
  std::map<std::string, std::string> given;
  try {
    given = train::parse_arguments(info.options, rest, info.name);
    info.options.resolve(given, {}, info.name);  // every value checked before anything is touched
  } catch (const Error& e) {
    option_error(e.what(), "duel train " + info.name + " --help");
  }
  train::RunOptions o;
  o.model = info.name;
  if (given.count("out")) o.out_dir = given["out"];
  o.resume = !given.count("no-resume");
  o.quiet = given.count("quiet") != 0 || !dist::is_root();  // one progress bar: rank 0's
  o.sync_batch_norm = given.count("sync-bn") != 0;
  o.flush_denormal = given.count("keep-denormals") == 0;
  for (const char* k : {"out", "no-resume", "quiet", "sync-bn", "keep-denormals"}) given.erase(k);
  o.extra = given;
  train::Run run(o);
  if (!o.quiet)
    std::printf("duel train %s -> %s%s\n", info.name.c_str(), run.dir().c_str(),
                dist::is_distributed()
                    ? (" (" + std::to_string(dist::world_size()) + " data-parallel ranks)").c_str()
                    : "");
  train::FitResult r = train::fit(run);
  return r.signal ? 128 + r.signal : 0;
}

// A trained run: its model comes from the checkpoint (the folder is only read).
train::Run open_run(const std::string& dir) {
  const std::string ck = dir + "/checkpoint.duel";
  if (!std::filesystem::exists(ck))
    usage_error("'" + dir + "' holds no checkpoint.duel: not a trained run (train one with `duel train <model> --out " +
                dir + "`)");
  train::RunOptions o;
  o.out_dir = dir;
  o.model = read_checkpoint_meta(ck)["model"];
  return train::Run(o);
}

int cmd_sample(const std::vector<std::string>& args) {
  if (args.empty() || args[0].rfind("-", 0) == 0) usage_error("sample needs a run folder");
  const train::OptionTable table = {
      train::Option::integer("n", "", 64, 1, 100000, "number of samples"),
      train::Option::text("out", "", "", "output file (default <run>/samples_cli.png; .txt for text models)"),
  };
  train::Options opt;
  try {
    opt = table.resolve(train::parse_arguments(table, {args.begin() + 1, args.end()}, "sample"), {}, "sample");
  } catch (const Error& e) {
    usage_error(e.what());
  }
  train::Run run = open_run(args[0]);
  const train::ModelInfo& info = train::find_model(run.options().model);
  if (!info.generator) usage_error("model '" + info.name + "' does not generate samples; try `duel eval " + args[0] + "`");
  std::unique_ptr<train::Model> model = train::load_trained_model(run);
  const int64_t n = opt.integer("n");
  const std::string out =
      opt.text("out").empty() ? run.path("samples_cli" + model->sample_file_extension()) : opt.text("out");
  Generator gen(run.options().seed + 12345);
  model->write_samples(n, gen, out);
  std::printf("wrote %lld samples to %s\n", (long long)n, out.c_str());
  return 0;
}

int cmd_eval(const std::vector<std::string>& args) {
  if (args.empty() || args[0].rfind("-", 0) == 0) usage_error("eval needs a run folder");
  const train::OptionTable table = {
      train::Option::integer("n", "", 0, 0, 1000000, "samples (generators; 0 = 2000) or episodes (agents; 0 = 100)"),
      train::Option::text("judge", "", "", "judge weights (default $DUEL_JUDGE, else the checkout's gan/judge.duel)"),
      train::Option::flag("birthday", "the birthday-paradox support estimate (image generators) instead"),
      train::Option::integer("batches", "", 0, 0, 100000, "--birthday: batches per batch size s (0 = 20)"),
      train::Option::integer("s-max", "", 0, 0, 1000000, "--birthday: the largest batch size tried (0 = 1600)"),
      train::Option::text("out", "", "", "--birthday: picture of the closest pairs (default <run>/birthday_pairs.png)"),
  };
  train::Options opt;
  try {
    opt = table.resolve(train::parse_arguments(table, {args.begin() + 1, args.end()}, "eval"), {}, "eval");
  } catch (const Error& e) {
    usage_error(e.what());
  }
  train::Run run = open_run(args[0]);
  if (opt.boolean("birthday") && !train::find_model(run.options().model).generator)
    usage_error("--birthday needs a generator; model '" + run.options().model + "' does not generate samples");
  std::unique_ptr<train::Model> model = train::load_trained_model(run);
  model->evaluate(run, {.n = opt.integer("n"),
                        .judge_path = opt.text("judge"),
                        .birthday = opt.boolean("birthday"),
                        .birthday_batches = opt.integer("batches"),
                        .birthday_s_max = opt.integer("s-max"),
                        .birthday_out = opt.text("out")});
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

int cmd_report(const std::vector<std::string>& args) {
  if (has_help(args)) {
    std::printf("usage: duel report <run-dir>... --out FILE.html\n"
                "Writes one self-contained HTML page: a table comparing the runs, then per run its\n"
                "options, command, sample grid, metrics plot and eval.txt. A run is a training folder\n"
                "(runs/NAME) or a committed record (docs/runs/NAME, pictures in docs/images/).\n");
    return 0;
  }
  std::vector<std::filesystem::path> runs;
  std::string out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--out") {
      if (i + 1 == args.size()) usage_error("report: --out needs a file name (e.g. --out report.html)");
      out = args[++i];
    } else if (args[i].rfind("-", 0) == 0) {
      usage_error("report: unknown option " + args[i] + "; valid: --out FILE.html");
    } else {
      runs.push_back(args[i]);
    }
  }
  if (runs.empty()) usage_error("report needs run folders (e.g. `duel report runs/* --out report.html`)");
  if (out.empty()) usage_error("report needs --out FILE.html (the page to write)");
  train::write_report(runs, out);
  std::printf("wrote %s (%zu run%s)\n", out.c_str(), runs.size(), runs.size() == 1 ? "" : "s");
  return 0;
}

// The implementation switch's table (kernels/impl.h), as DUEL_IMPL resolves it now.
int cmd_impl(const std::vector<std::string>& args) {
  if (!args.empty()) usage_error("impl takes no arguments (set a choice with DUEL_IMPL=op=choice,...)");
  std::printf("%-16s %-10s %-36s %s\n", "op", "current", "choices (the first is the default)", "covers");
  for (const ImplInfo& i : impl_table()) {
    std::string choices;
    for (const std::string& c : i.choices) choices += (choices.empty() ? "" : ", ") + c;
    std::printf("%-16s %-10s %-36s %s\n", i.op.c_str(), i.current.c_str(), choices.c_str(), i.what.c_str());
  }
  std::printf("\nchoose with DUEL_IMPL=\"op=choice,...\" (e.g. DUEL_IMPL=cpu:gemm=eigen duel train ...), or\n"
              "duel::set_impl(op, choice) in C++; docs/architecture.md explains the switch.\n");
  return 0;
}

int run_command(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "help")) {
    std::printf("%s", kUsage);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  const std::vector<std::string> args = args_from(argc, argv, 2);
  try {
    if (cmd == "list") return cmd_list(args);
    if (cmd == "options") return cmd_options(args);
    if (cmd == "train") return cmd_train(args);
    if (cmd == "sample") return cmd_sample(args);
    if (cmd == "eval") return cmd_eval(args);
    if (cmd == "bench") return cmd_bench(argc, argv);
    if (cmd == "report") return cmd_report(args);
    if (cmd == "impl") return cmd_impl(args);
    usage_error("unknown command '" + cmd + "'");
  } catch (const std::exception& e) {
    // under mpirun the other ranks would wait for this one: stop the whole job
    if (dist::is_distributed()) dist::abort_job(std::string("error: ") + e.what(), 1);
    std::fprintf(stderr, "duel: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  dist::init(&argc, &argv);  // under mpirun: MPI, rank and world size (dist/dist.h)
  const int rc = run_command(argc, argv);
  dist::finalize();
  return rc;
}
