// Runs are resumable: an interrupted run (Ctrl-C, or kill -9 at any moment)
// continues from its last checkpoint and ends exactly where an uninterrupted
// run ends (same parameters, bit for bit).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "train/fit.h"
#include "tensor/serialize.h"

using namespace duel;

namespace {

train::RunOptions small_gan(const std::string& dir, int64_t steps) {
  train::RunOptions o;
  o.model = "gan";
  o.out_dir = dir;
  o.steps = steps;
  o.seed = 5;
  o.log_every = 5;
  o.sample_every = 1000000;  // no pictures
  o.checkpoint_every = 4;
  o.extra = {{"data", "8gaussians"}, {"hidden", "16"}, {"batch", "32"}};
  return o;
}

std::map<std::string, Tensor> final_state(const std::string& dir) {
  return load_checkpoint(dir + "/checkpoint.duel").tensors;
}

void require_same(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  REQUIRE(a.size() == b.size());
  for (auto& [k, t] : a) {
    INFO(k);
    REQUIRE(b.count(k));
    REQUIRE(t.to_vector<double>() == b.at(k).to_vector<double>());
  }
}

std::string fresh_dir(const std::string& name) {
  std::string d = (std::filesystem::temp_directory_path() / ("duel_resume_" + name + "_" + std::to_string(getpid()))).string();
  std::filesystem::remove_all(d);
  return d;
}

}  // namespace

TEST_CASE("an interrupted run resumes to the same result as an uninterrupted one", "[train][resume]") {
  std::string a = fresh_dir("full"), b = fresh_dir("interrupted");
  {
    train::Run run(small_gan(a, 30));
    train::fit(run);
  }
  {
    train::Run::set_stop_after(13);  // as if Ctrl-C arrived at step 13: checkpoint and return
    train::Run run(small_gan(b, 30));
    train::fit(run);
    train::Run::set_stop_after(-1);
  }
  REQUIRE(read_checkpoint_meta(b + "/checkpoint.duel")["step"] == "13");
  {
    train::Run run(small_gan(b, 30));
    train::fit(run);
  }
  REQUIRE(read_checkpoint_meta(b + "/checkpoint.duel")["step"] == "30");
  require_same(final_state(a), final_state(b));
  std::filesystem::remove_all(a);
  std::filesystem::remove_all(b);
}

TEST_CASE("a run of the duel command killed with SIGKILL resumes from its last checkpoint", "[train][resume]") {
  std::string a = fresh_dir("ref"), b = fresh_dir("killed");
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // the real command line, training "forever" (checkpointing every 4 steps) until it is killed
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    execl(DUEL_CLI_PATH, DUEL_CLI_PATH, "train", "gan", "--data", "8gaussians", "--hidden", "16", "--batch", "32",
          "--seed", "5", "--steps", "1000000", "--log-every", "5", "--sample-every", "1000000", "--checkpoint-every",
          "4", "--out", b.c_str(), (char*)nullptr);
    _exit(127);
  }
  // wait until a checkpoint exists, then kill -9 at an arbitrary moment
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!std::filesystem::exists(b + "/checkpoint.duel") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(137));
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);
  // the checkpoint it left is complete and verifies (writes are atomic)
  int64_t step = std::stoll(read_checkpoint_meta(b + "/checkpoint.duel")["step"]);
  REQUIRE(step > 0);
  INFO("the killed run had checkpointed step " << step);
  // resuming to step + 20 ends exactly where an uninterrupted run of step + 20 steps ends
  {
    train::Run run(small_gan(a, step + 20));
    train::fit(run);
  }
  {
    train::Run run(small_gan(b, step + 20));
    train::fit(run);
  }
  REQUIRE(read_checkpoint_meta(b + "/checkpoint.duel")["step"] == std::to_string(step + 20));
  require_same(final_state(a), final_state(b));
  // the lines the killed run logged past its checkpoint were dropped on resume: the resumed
  // run's log equals the uninterrupted run's
  auto loss_lines = [](const std::string& dir) {
    std::ifstream in(dir + "/metrics.jsonl");
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);)
      if (l.find("loss_D") != std::string::npos) out.push_back(l);
    return out;
  };
  CHECK(loss_lines(b) == loss_lines(a));
  CHECK(loss_lines(a).size() == size_t((step + 20) / 5 + ((step + 20) % 5 != 0)));  // every 5th and the last
  std::filesystem::remove_all(a);
  std::filesystem::remove_all(b);
}
