// StopStringMatcher: stop strings are cut (never shown), may span pieces, and only a tail that
// could still start a stop string is held back.
#include "serve/stop_matcher.h"

#include <gtest/gtest.h>

namespace tessera::serve {
namespace {

TEST(StopStringMatcher, CutsAtTheStopStringAndHidesIt) {
  StopStringMatcher m({"END"});
  EXPECT_EQ(m.push("hello END world"), "hello ");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.push("more"), "");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopStringMatcher, FindsAStopStringSpanningPieces) {
  StopStringMatcher m({"\n\n"});
  EXPECT_EQ(m.push("one"), "one");
  EXPECT_EQ(m.push(".\n"), ".");  // "\n" may start the stop string: held back
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.push("\nTwo"), "");
  EXPECT_TRUE(m.stopped());
}

TEST(StopStringMatcher, ReleasesAHeldTailThatTurnsOutNotToMatch) {
  StopStringMatcher m({"STOP"});
  EXPECT_EQ(m.push("a ST"), "a ");
  EXPECT_EQ(m.push("AR"), "STAR");
  EXPECT_EQ(m.push("S"), "");
  EXPECT_EQ(m.flush(), "S");  // generation ended: the tail never completed a stop string
}

TEST(StopStringMatcher, EarliestOfSeveralStopStringsWins) {
  StopStringMatcher m({"world", "lo w"});
  EXPECT_EQ(m.push("hello world"), "hel");
}

TEST(StopStringMatcher, HoldsTheLongestPossiblePrefixAcrossStopStrings) {
  StopStringMatcher m({"abcd", "cx"});
  EXPECT_EQ(m.push("zzabc"), "zz");  // "abc" may start "abcd"; "c" alone may start "cx"
  EXPECT_EQ(m.push("x"), "ab");
  EXPECT_TRUE(m.stopped());
}

TEST(StopStringMatcher, NoStopStringsPassesEverythingThrough) {
  StopStringMatcher m({"", ""});
  EXPECT_EQ(m.push("anything"), "anything");
  EXPECT_EQ(m.flush(), "");
}

}  // namespace
}  // namespace tessera::serve
