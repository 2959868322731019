#include "train/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace duel::train {
namespace {
std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--";
  char buf[32];
  int h = (int)(s / 3600), m = (int)(s / 60) % 60, sec = (int)s % 60;
  if (h) std::snprintf(buf, sizeof buf, "%d:%02d:%02d", h, m, sec);
  else std::snprintf(buf, sizeof buf, "%02d:%02d", m, sec);
  return buf;
}
}  // namespace

ProgressBar::ProgressBar(std::string label, int64_t total, int64_t start)
    : label_(std::move(label)), total_(total), start_(start), step_(start),
      t0_(std::chrono::steady_clock::now()), last_draw_(t0_), tty_(isatty(fileno(stdout))) {}

void ProgressBar::update(int64_t step, const std::vector<std::pair<std::string, double>>& values) {
  step_ = step;
  values_ = values;
  draw(false);
}

void ProgressBar::draw(bool force) {
  auto now = std::chrono::steady_clock::now();
  double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  double elapsed = std::chrono::duration<double>(now - t0_).count();
  double rate = elapsed > 0 ? (step_ - start_) / elapsed : 0;
  double eta = rate > 0 ? (total_ - step_) / rate : NAN;
  if (!tty_) {
    // plain lines: about 20 per run, plus the last one
    int64_t every = std::max<int64_t>(1, total_ / 20);
    if (!force && step_ / every == last_logged_) return;
    last_logged_ = step_ / every;
  } else if (!force && since_draw < 0.1) {
    return;
  }
  last_draw_ = now;
  char head[160];
  double frac = total_ > 0 ? (double)step_ / total_ : 0;
  std::string bar;
  if (tty_) {
    const int width = 20;
    int filled = (int)std::round(frac * width);
    bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
  }
  std::snprintf(head, sizeof head, "%s %s%lld/%lld (%3.0f%%)", label_.c_str(), bar.c_str(), (long long)step_,
                (long long)total_, 100 * frac);
  std::string line = head;
  for (auto& [k, v] : values_) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "  %s %.4g", k.c_str(), v);
    line += buf;
  }
  char tail[96];
  std::snprintf(tail, sizeof tail, "  %.1f it/s  elapsed %s  eta %s", rate, format_duration(elapsed).c_str(),
                format_duration(eta).c_str());
  line += tail;
  if (tty_) std::printf("\r\033[K%s", line.c_str());
  else std::printf("%s\n", line.c_str());
  printed_step_ = step_;
  std::fflush(stdout);
}

void ProgressBar::print_line(const std::string& text) {
  if (!tty_) {  // plain lines: the message alone (the next periodic line shows the progress)
    std::printf("%s\n", text.c_str());
    std::fflush(stdout);
    return;
  }
  std::printf("\r\033[K%s\n", text.c_str());
  draw(true);
}

void ProgressBar::finish() {
  if (tty_ || printed_step_ != step_) draw(true);
  if (tty_) std::printf("\n");
  std::fflush(stdout);
}

}  // namespace duel::train
