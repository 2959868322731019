// Helpers shared by the tests in tests/rl: fixture lookup, the splitmix64 action stream
// and the trajectory hash of scripts/record_env_stats.py.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace duel::rl::test {

// tests/rl/fixtures/<name>, found next to this source file (CMake compiles with absolute
// paths) or relative to the repository root (ctest's working directory).
inline std::filesystem::path fixture_path(const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path here = fs::path(__FILE__).parent_path() / "fixtures" / name;
  if (fs::exists(here)) return here;
  return fs::path("tests") / "rl" / "fixtures" / name;
}

// Non-comment lines of a fixture file.
inline std::vector<std::string> fixture_lines(const std::string& name) {
  std::ifstream in(fixture_path(name));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') lines.push_back(line);
  return lines;
}

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// Rolling hash of (observation, reward, terminal), as TraceHash in record_env_stats.py.
class TraceHash {
 public:
  explicit TraceHash(size_t n_cells) {
    SplitMix64 g(0);
    for (size_t i = 0; i < n_cells; ++i) weights_.push_back(g.next());
  }
  void update(const uint8_t* obs, int64_t reward, bool terminal) {
    uint64_t digest = 0;
    for (size_t i = 0; i < weights_.size(); ++i)
      if (obs[i]) digest += weights_[i];
    for (uint64_t v : {digest, static_cast<uint64_t>(reward + 1000), static_cast<uint64_t>(terminal)})
      h_ = (h_ ^ v) * 0x100000001B3ull;
  }
  uint64_t value() const { return h_; }

 private:
  std::vector<uint64_t> weights_;
  uint64_t h_ = 0xCBF29CE484222325ull;
};

}  // namespace duel::rl::test
