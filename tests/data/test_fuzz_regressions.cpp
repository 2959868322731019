// Replays the fuzzers' inputs through the same code as the libFuzzer harnesses (fuzz/*.h), in
// the normal test build: the committed seed corpora (fuzz/corpus/<harness>/) and every input a
// fuzzer crashed on (fuzz/regressions/<harness>/, one file per finding, named after the bug).
// A reader must answer each with a value or a duel::Error, within a memory limit like the
// fuzzers' (-malloc_limit_mb); anything else fails the test.
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iterator>

#include "fuzz/checkpoint_reader.h"
#include "fuzz/idx_reader.h"
#include "fuzz/options_parser.h"

using namespace duel;
namespace fs = std::filesystem;

namespace {

const fs::path kFuzzDir = fs::path(__FILE__).parent_path().parent_path().parent_path() / "fuzz";

std::vector<uint8_t> bytes_of(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

std::vector<fs::path> inputs(const std::string& kind, const std::string& harness) {
  std::vector<fs::path> out;
  const fs::path d = kFuzzDir / kind / harness;
  if (fs::is_directory(d))
    for (auto& e : fs::directory_iterator(d))
      if (e.is_regular_file() && e.path().filename().string()[0] != '.') out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Runs `fn` in a child process whose address space may grow by at most `extra` bytes, as
// libFuzzer's -malloc_limit_mb does for the fuzzers: a reader that believes a header and
// allocates what it claims gets std::bad_alloc there. Returns "" or what went wrong.
// (Under AddressSanitizer, whose shadow memory needs terabytes of address space, the limit is
// left out and the input simply runs here.)
std::string run_with_memory_limit(const std::function<void()>& fn, size_t extra) {
#if defined(__SANITIZE_ADDRESS__)
  (void)extra;
  fn();
  return "";
#else
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    size_t pages = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(f, "%zu", &pages) != 1) pages = 0;
      std::fclose(f);
    }
    struct rlimit lim;
    lim.rlim_cur = lim.rlim_max = pages * (size_t)::sysconf(_SC_PAGESIZE) + extra;
    if (pages == 0 || ::setrlimit(RLIMIT_AS, &lim) != 0) ::_exit(3);
    try {
      fn();
    } catch (const std::bad_alloc&) {
      ::_exit(1);
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(0);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return "waitpid failed";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
    return "std::bad_alloc: the reader tried to allocate more than " + std::to_string(extra >> 20) + " MB";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 2) return "an exception other than duel::Error";
  if (WIFEXITED(status)) return "the child could not set its memory limit";
  return "killed by signal " + std::to_string(WTERMSIG(status));
#endif
}

constexpr size_t kMemoryLimit = size_t(512) << 20;

}  // namespace

TEST_CASE("fuzz: the checkpoint_reader seeds load and its crash inputs are refused cleanly", "[data][checkpoint][fuzz]") {
  fuzz::InputFile file;
  const auto seeds = inputs("corpus", "checkpoint_reader");
  REQUIRE(seeds.size() >= 3);
  for (auto& p : seeds) {
    INFO(p.string());
    const auto b = bytes_of(p);
    REQUIRE(fuzz::run_checkpoint_input(file, b.data(), b.size()));  // valid files: they load
  }
  for (auto& p : inputs("regressions", "checkpoint_reader")) {
    INFO(p.string());
    const auto b = bytes_of(p);
    REQUIRE(run_with_memory_limit([&] { fuzz::run_checkpoint_input(file, b.data(), b.size()); }, kMemoryLimit) == "");
  }
}

TEST_CASE("fuzz: the idx_reader seeds read and its crash inputs are refused cleanly", "[data][idx][fuzz]") {
  fuzz::InputFile file;
  const auto seeds = inputs("corpus", "idx_reader");
  REQUIRE(seeds.size() >= 3);
  for (auto& p : seeds) {
    INFO(p.string());
    const auto b = bytes_of(p);
    REQUIRE(fuzz::run_idx_input(file, b.data(), b.size()));
  }
  for (auto& p : inputs("regressions", "idx_reader")) {
    INFO(p.string());
    const auto b = bytes_of(p);
    REQUIRE(run_with_memory_limit([&] { fuzz::run_idx_input(file, b.data(), b.size()); }, kMemoryLimit) == "");
  }
}

TEST_CASE("fuzz: the options_parser seeds parse as expected and its crash inputs are refused cleanly",
          "[train][options][fuzz]") {
  for (auto& p : inputs("corpus", "options_parser")) {
    INFO(p.string());
    const auto b = bytes_of(p);
    // every seed is valid except the one named config-bad (a stored lr of inf)
    CHECK(fuzz::run_options_input(b.data(), b.size()) == (p.filename() != "config-bad"));
  }
  for (auto& p : inputs("regressions", "options_parser")) {
    INFO(p.string());
    const auto b = bytes_of(p);
    REQUIRE(run_with_memory_limit([&] { fuzz::run_options_input(b.data(), b.size()); }, kMemoryLimit) == "");
  }
}
