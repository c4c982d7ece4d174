#include "base/progress.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "base/timer.h"

namespace tessera {
namespace {

std::atomic<bool> g_enabled{false};
constexpr int64_t kRedrawIntervalUs = 100'000;

// How long a bar waits before its first draw (work that ends sooner never flashes one): 100 ms,
// or TESSERA_PROGRESS_DELAY_MS (tests set 0 so short work draws too).
int64_t first_draw_delay_us() {
  static const int64_t delay = [] {
    const char* text = std::getenv("TESSERA_PROGRESS_DELAY_MS");
    return text != nullptr ? std::clamp<int64_t>(std::atoll(text), 0, 60'000) * 1000 : kRedrawIntervalUs;
  }();
  return delay;
}

std::string printf_string(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), format, value);
  return buffer;
}

std::string format_rate(double per_second) {
  return printf_string(per_second >= 100.0 ? "%.0f/s" : "%.1f/s", per_second);
}

}  // namespace

std::string format_duration(double seconds) {
  if (!(seconds >= 0.0) || std::isinf(seconds) || seconds > 3.6e8) return "--:--";
  const auto total = static_cast<int64_t>(std::llround(seconds));
  const int64_t h = total / 3600, m = total / 60 % 60, s = total % 60;
  char buffer[48];
  if (h > 0) {
    std::snprintf(buffer, sizeof(buffer), "%lld:%02lld:%02lld", static_cast<long long>(h), static_cast<long long>(m),
                  static_cast<long long>(s));
  } else {
    std::snprintf(buffer, sizeof(buffer), "%lld:%02lld", static_cast<long long>(m), static_cast<long long>(s));
  }
  return buffer;
}

std::string format_progress(std::string_view label, int64_t done, int64_t total, double elapsed_s,
                            std::string_view unit, int bar_width) {
  std::string line(label);
  done = std::max<int64_t>(done, 0);
  const bool known = total > 0;
  if (known) done = std::min(done, total);
  const double fraction = known ? static_cast<double>(done) / static_cast<double>(total) : 0.0;
  if (known && bar_width > 0) {
    const int filled = static_cast<int>(fraction * bar_width);
    line += " [";
    line.append(size_t(filled), '#').append(size_t(bar_width - filled), '.') += ']';
  }
  if (known) line += printf_string(" %3.0f%%", std::floor(fraction * 100.0));
  line.append("  ").append(std::to_string(done));
  if (known) line.append("/").append(std::to_string(total));
  if (!unit.empty()) line.append(" ").append(unit);
  const double rate = elapsed_s > 0.0 && done > 0 ? static_cast<double>(done) / elapsed_s : 0.0;
  if (rate > 0.0) line.append("  ").append(format_rate(rate));
  if (known && rate > 0.0 && done < total) {
    line.append("  ").append(format_duration(static_cast<double>(total - done) / rate)).append(" left");
  } else if (!known && elapsed_s > 0.0) {
    line.append("  ").append(format_duration(elapsed_s));
  }
  return line;
}

void set_progress_enabled(bool enabled) { g_enabled = enabled; }

bool progress_drawable() { return g_enabled && isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), total_(total), unit_(std::move(unit)), active_(progress_drawable()), start_us_(now_us()) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::set(int64_t done) {
  if (!active_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  done_ = done;
  draw_locked();
}

void ProgressBar::add(int64_t n) {
  if (!active_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  done_ += n;
  draw_locked();
}

void ProgressBar::set_note(std::string note) {
  if (!active_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  note_ = std::move(note);
}

void ProgressBar::finish() {
  if (!active_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (drawn_) std::fputs("\r\033[K", stderr);  // erase the line: what follows starts clean
  std::fflush(stderr);
}

void ProgressBar::draw_locked() {
  if (finished_) return;
  const int64_t now = now_us();
  if (drawn_ ? now - last_draw_us_ < kRedrawIntervalUs : now - start_us_ < first_draw_delay_us()) return;
  last_draw_us_ = now;
  drawn_ = true;
  std::string line = format_progress(label_, done_, total_, static_cast<double>(now - start_us_) / 1e6, unit_);
  if (!note_.empty()) line += "  " + note_;
  std::fprintf(stderr, "\r%s\033[K", line.c_str());
  std::fflush(stderr);
}

}  // namespace tessera
