// TS_CHECK: passes silently when true, stops the process with file, condition and message when not.
#include "base/check.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

TEST(Check, TrueConditionDoesNothing) {
  int evaluations = 0;
  TS_CHECK(++evaluations == 1, "never printed");
  TS_CHECK(evaluations == 1);
  EXPECT_EQ(evaluations, 1);  // the condition is evaluated exactly once
}

TEST(CheckDeathTest, FalseConditionAbortsWithFormattedMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const int block_id = 7;
  EXPECT_DEATH(TS_CHECK(block_id < 0, "double free of block %d", block_id),
               "check failed at .*check_test.cpp:[0-9]+: block_id < 0: double free of block 7");
}

TEST(CheckDeathTest, FalseConditionWithoutMessageNamesTheCondition) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(TS_CHECK(1 + 1 == 3), "1 \\+ 1 == 3");
}

}  // namespace
}  // namespace tessera
