// Progress for long work on a terminal: one line on stderr ("loading weights [#####.....] 52%
// 120/230 tensors  31.0/s  0:03 left"), redrawn in place with a carriage return. It draws only
// when the process turned it on (set_progress_enabled: the `tessera` binary does, unless
// --quiet) and stderr is a terminal, so pipes, logs, JSON output and library users see nothing.
// The text itself is a pure function (format_progress), tested on its own.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace tessera {

// "0:07", "12:34", "1:02:03"; "--:--" for a negative, infinite or NaN time.
std::string format_duration(double seconds);

// One progress line, without the carriage return. `total` <= 0: the total is unknown (no bar,
// no percentage, no time left). `unit` names what is counted ("tensors", "chunks", "requests");
// the rate is done / elapsed_s per second, the time left (total - done) / rate, both left out
// until there is something to estimate from. `done` is clamped to [0, total].
std::string format_progress(std::string_view label, int64_t done, int64_t total, double elapsed_s,
                            std::string_view unit, int bar_width = 24);

// The process-wide switch (default off). The binary turns it on at start unless --quiet.
void set_progress_enabled(bool enabled);
// On, and stderr is a terminal.
bool progress_drawable();

// One task's progress line. Thread-safe: workers may call add() concurrently. First drawn 100 ms
// after the start (TESSERA_PROGRESS_DELAY_MS overrides it), then redrawn at most every 100 ms; the line is erased when the work ends (finish() or the
// destructor), so what the command prints next starts on a clean line.
class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, std::string unit);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void set(int64_t done);
  void add(int64_t n = 1);
  // Text shown after the numbers ("ppl 8.1234"), from the next redraw on.
  void set_note(std::string note);
  void finish();  // erases the line; later calls do nothing
  bool active() const { return active_; }

 private:
  void draw_locked();

  const std::string label_;
  const int64_t total_;
  const std::string unit_;
  const bool active_;
  const int64_t start_us_;
  std::mutex mutex_;
  int64_t done_ = 0;
  std::string note_;
  int64_t last_draw_us_ = 0;
  bool drawn_ = false;
  bool finished_ = false;
};

}  // namespace tessera
