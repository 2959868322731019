// Helpers for tests that train a model into a folder and read what it wrote.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace duel::test {

// A fresh directory under the system's temporary directory, removed with the object.
struct TempDir {
  std::filesystem::path dir;
  explicit TempDir(const std::string& prefix) {
    dir = std::filesystem::temp_directory_path() / (prefix + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// Every value of `key` logged in a run folder's metrics.jsonl, in order.
inline std::vector<double> metric_series(const std::filesystem::path& run, const std::string& key) {
  std::ifstream in(run / "metrics.jsonl");
  std::vector<double> v;
  const std::string k = "\"" + key + "\": ";
  for (std::string line; std::getline(in, line);)
    if (size_t i = line.find(k); i != std::string::npos) v.push_back(std::stod(line.substr(i + k.size())));
  return v;
}

}  // namespace duel::test
