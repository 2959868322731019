// A one-line progress bar for long runs: step, named values (losses), steps
// per second and ETA, redrawn in place on a terminal and printed as plain
// periodic lines when stdout is not a terminal (logs, CI).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace duel::train {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, int64_t start = 0);
  // Sets the current step and the values shown next to it; redraws at most ~10 times a second.
  void update(int64_t step, const std::vector<std::pair<std::string, double>>& values = {});
  void finish();  // final line with the total time
  void print_line(const std::string& text);  // a message above the bar

 private:
  void draw(bool force);
  std::string label_;
  int64_t total_, start_, step_;
  std::vector<std::pair<std::string, double>> values_;
  std::chrono::steady_clock::time_point t0_, last_draw_;
  bool tty_;
  int64_t last_logged_ = -1;
  int64_t printed_step_ = -1;  // step of the last plain line (not a tty): finish() does not repeat it
};

}  // namespace duel::train
