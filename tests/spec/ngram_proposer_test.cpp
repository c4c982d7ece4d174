// NgramProposer: longest suffix first, most recent match, at most k drafts, nothing without a match.
#include <gtest/gtest.h>

#include "spec/ngram_proposer.h"

namespace tessera {
namespace {

std::vector<int32_t> propose(const NgramProposer& proposer, const std::vector<int32_t>& tokens, int32_t k) {
  std::vector<int32_t> drafts = {99};  // cleared by the proposer
  proposer.propose_one(tokens, k, drafts);
  return drafts;
}

TEST(NgramProposer, ProposesWhatFollowedTheLastEarlierMatch) {
  NgramProposer proposer(1, 3);
  // Suffix (5, 6) occurred at 1 and 6: the most recent is followed by 9, 5.
  EXPECT_EQ(propose(proposer, {1, 5, 6, 7, 8, 2, 5, 6, 9, 5, 6}, 2), (std::vector<int32_t>{9, 5}));
}

TEST(NgramProposer, PrefersTheLongestSuffix) {
  NgramProposer proposer(1, 3);
  // 1-gram (3) last occurs at 5 (followed by 8); the 3-gram (1, 2, 3) occurs at 0 (followed by 4).
  EXPECT_EQ(propose(proposer, {1, 2, 3, 4, 9, 3, 8, 1, 2, 3}, 1), (std::vector<int32_t>{4}));
}

TEST(NgramProposer, StopsAtTheEndOfTheTokensAndAtK) {
  NgramProposer proposer(2, 2);
  EXPECT_EQ(propose(proposer, {4, 5, 6, 7, 4, 5}, 8), (std::vector<int32_t>{6, 7, 4, 5}));
  EXPECT_EQ(propose(proposer, {4, 5, 6, 7, 4, 5}, 3), (std::vector<int32_t>{6, 7, 4}));
}

TEST(NgramProposer, ProposesNothingWithoutAMatchOfTheMinimumLength) {
  NgramProposer proposer(2, 4);
  EXPECT_TRUE(propose(proposer, {1, 2, 3, 4, 5, 3}, 4).empty());  // only a 1-gram repeats
  EXPECT_TRUE(propose(proposer, {7}, 4).empty());
  EXPECT_TRUE(propose(proposer, {}, 4).empty());
}

}  // namespace
}  // namespace tessera
