// Poisson arrivals: seeded, reproducible, with the requested mean rate.
#include <gtest/gtest.h>

#include <cmath>

#include "serve_bench/arrival_schedule.h"

namespace tessera::serve_bench {
namespace {

TEST(ArrivalSchedule, InfiniteRateSendsEverythingAtOnce) {
  const auto offsets = poisson_arrival_offsets_s(5, INFINITY, 0);
  ASSERT_EQ(offsets.size(), 5u);
  for (double t : offsets) EXPECT_EQ(t, 0.0);
}

TEST(ArrivalSchedule, SameSeedSameScheduleOtherSeedOtherSchedule) {
  EXPECT_EQ(poisson_arrival_offsets_s(100, 4.0, 7), poisson_arrival_offsets_s(100, 4.0, 7));
  EXPECT_NE(poisson_arrival_offsets_s(100, 4.0, 7), poisson_arrival_offsets_s(100, 4.0, 8));
}

TEST(ArrivalSchedule, GapsAreExponentialWithTheRequestedMeanRate) {
  const double rate = 8.0;
  const int n = 20001;
  const auto offsets = poisson_arrival_offsets_s(n, rate, 42);
  EXPECT_EQ(offsets.front(), 0.0);
  double sum = 0.0, sum_squares = 0.0;
  for (int i = 1; i < n; ++i) {
    const double gap = offsets[i] - offsets[i - 1];
    ASSERT_GT(gap, 0.0);
    sum += gap;
    sum_squares += gap * gap;
  }
  const double mean = sum / (n - 1);
  const double stddev = std::sqrt(sum_squares / (n - 1) - mean * mean);
  // Exponential(rate): mean = std = 1/rate; 20000 samples put the mean within ~2% (3 sigma).
  EXPECT_NEAR(mean, 1.0 / rate, 0.03 / rate);
  EXPECT_NEAR(stddev, 1.0 / rate, 0.05 / rate);
  EXPECT_NEAR(offsets.back() / (n - 1), 1.0 / rate, 0.03 / rate);
}

}  // namespace
}  // namespace tessera::serve_bench
