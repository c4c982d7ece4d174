// SpecDepth: fixed k stays fixed; adaptive k follows acceptance and falls to 0 under a full batch.
#include <gtest/gtest.h>

#include "spec/spec_depth.h"

namespace tessera {
namespace {

TEST(SpecDepth, FixedDepthIgnoresAcceptanceAndLoad) {
  SpecDepth depth(4, /*adaptive=*/false);
  depth.record(4, 0);
  EXPECT_EQ(depth.next_num_spec_tokens(1000), 4);
}

TEST(SpecDepth, AdaptiveDepthFollowsTheAcceptanceRate) {
  SpecDepth fresh(8, true);
  EXPECT_EQ(fresh.next_num_spec_tokens(1), 3);  // prior 0.5: 0.5^3 >= 0.1 > 0.5^4
  SpecDepth good(8, true);
  for (int i = 0; i < 20; ++i) good.record(4, 4);
  EXPECT_EQ(good.next_num_spec_tokens(1), 8);
  SpecDepth bad(8, true);
  for (int i = 0; i < 20; ++i) bad.record(4, 0);
  EXPECT_EQ(bad.next_num_spec_tokens(1), 0);
  // With no more evidence the decayed counts drift back to the prior, so it probes again.
  for (int i = 0; i < 30; ++i) bad.record(0, 0);
  EXPECT_GT(bad.next_num_spec_tokens(1), 0);
}

TEST(SpecDepth, AdaptiveDepthIsZeroWhenTheStepIsComputeBound) {
  SpecDepth good(8, true);
  for (int i = 0; i < 20; ++i) good.record(4, 4);
  EXPECT_EQ(good.next_num_spec_tokens(static_cast<int32_t>(SpecDepth::kComputeBoundTokens)), 0);
  EXPECT_GT(good.next_num_spec_tokens(8), 0);
}

}  // namespace
}  // namespace tessera
