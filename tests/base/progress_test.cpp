// The progress line's text (a pure function of done/total/elapsed) and the bar's silence when it
// must not draw (switched off, or stderr not a terminal).
#include "base/progress.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <thread>
#include <vector>

namespace tessera {
namespace {

TEST(FormatDuration, MinutesSecondsAndHours) {
  EXPECT_EQ(format_duration(0.0), "0:00");
  EXPECT_EQ(format_duration(7.4), "0:07");
  EXPECT_EQ(format_duration(59.6), "1:00");
  EXPECT_EQ(format_duration(754.0), "12:34");
  EXPECT_EQ(format_duration(3723.0), "1:02:03");
}

TEST(FormatDuration, UnknowableTimesAreDashes) {
  EXPECT_EQ(format_duration(-1.0), "--:--");
  EXPECT_EQ(format_duration(std::numeric_limits<double>::infinity()), "--:--");
  EXPECT_EQ(format_duration(std::nan("")), "--:--");
  EXPECT_EQ(format_duration(1e300), "--:--");
}

TEST(FormatProgress, BarPercentCountRateAndTimeLeft) {
  // 120 of 240 in 4 s: 30/s, 120 left -> 4 s.
  EXPECT_EQ(format_progress("loading weights", 120, 240, 4.0, "tensors", 10),
            "loading weights [#####.....]  50%  120/240 tensors  30.0/s  0:04 left");
}

TEST(FormatProgress, StartHasNoRateAndNoEstimate) {
  EXPECT_EQ(format_progress("quantize", 0, 30, 0.0, "tensors", 4), "quantize [....]   0%  0/30 tensors");
  EXPECT_EQ(format_progress("quantize", 0, 30, 2.0, "tensors", 4), "quantize [....]   0%  0/30 tensors");
}

TEST(FormatProgress, DoneHasAFullBarAndNoTimeLeft) {
  EXPECT_EQ(format_progress("perplexity", 8, 8, 2.0, "chunks", 4), "perplexity [####] 100%  8/8 chunks  4.0/s");
}

TEST(FormatProgress, PercentRoundsDownSoItNeverShows100Early) {
  EXPECT_EQ(format_progress("x", 999, 1000, 1.0, "", 0), "x  99%  999/1000  999/s  0:00 left");
}

TEST(FormatProgress, OutOfRangeDoneIsClamped) {
  EXPECT_EQ(format_progress("x", 15, 10, 1.0, "", 2), "x [##] 100%  10/10  10.0/s");
  EXPECT_EQ(format_progress("x", -3, 10, 1.0, "", 2), "x [..]   0%  0/10");
}

TEST(FormatProgress, UnknownTotalShowsCountRateAndElapsed) {
  EXPECT_EQ(format_progress("bench-serve", 250, 0, 125.0, "requests"), "bench-serve  250 requests  2.0/s  2:05");
}

TEST(FormatProgress, FastRatesHaveNoDecimals) {
  EXPECT_EQ(format_progress("r", 5000, 10000, 10.0, "rows", 0), "r  50%  5000/10000 rows  500/s  0:10 left");
}

// Not a terminal (ctest captures stderr; here it is pointed at a file to be sure): nothing is
// written, switched on or not, from any number of threads.
TEST(ProgressBar, DrawsNothingWhenStderrIsNotATerminal) {
  std::FILE* capture = std::tmpfile();
  ASSERT_NE(capture, nullptr);
  std::fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  ASSERT_GE(saved, 0);
  ASSERT_GE(dup2(fileno(capture), STDERR_FILENO), 0);
  set_progress_enabled(true);
  {
    ProgressBar bar("work", 1000, "items");
    EXPECT_FALSE(bar.active());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 250; ++i) bar.add();
      });
    }
    for (auto& thread : threads) thread.join();
    bar.finish();
  }
  set_progress_enabled(false);
  std::fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  EXPECT_EQ(std::ftell(capture), 0);
  std::fclose(capture);
}

TEST(ProgressBar, OffByDefault) {
  EXPECT_FALSE(progress_drawable());
  ProgressBar bar("work", 10, "");
  EXPECT_FALSE(bar.active());
}

}  // namespace
}  // namespace tessera
