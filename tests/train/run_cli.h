// Runs the real `duel` binary (DUEL_CLI_PATH, set by CMakeLists.txt) with a command line, for the
// tests of its exit codes and messages; and a fresh temporary folder for their runs.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <string>

namespace duel::test {

struct CliResult {
  int code = -1;
  std::string output;  // stdout and stderr
};

// Runs a shell command line, capturing its stdout and stderr and its exit code.
inline CliResult run_shell(const std::string& command) {
  CliResult r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline CliResult run_cli(const std::string& args) { return run_shell(std::string(DUEL_CLI_PATH) + " " + args); }

// <tmp>/duel_<prefix>_<name>_<pid>, emptied (not created: a test of a missing folder needs it absent).
inline std::filesystem::path fresh_dir(const std::string& prefix, const std::string& name) {
  namespace fs = std::filesystem;
  fs::path d = fs::temp_directory_path() / ("duel_" + prefix + "_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

}  // namespace duel::test
