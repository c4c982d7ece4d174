// KV cache groups (block_size 4): a full-attention group next to a sliding-window group of
// window 6. Exact block ids, block-major exchange, release of blocks the window has passed,
// prefix hits that need every group, and the admission bound.
#include <gtest/gtest.h>

#include <numeric>

#include "kv/kv_cache_manager.h"

namespace tessera {
namespace {

constexpr int32_t kBlockSize = 4;
constexpr int32_t kWindow = 6;  // a query at p sees p - 5 ... p

std::vector<int32_t> tokens_from(int32_t first, int32_t count) {
  std::vector<int32_t> tokens(static_cast<size_t>(count));
  std::iota(tokens.begin(), tokens.end(), first);
  return tokens;
}

KvRequestView view(RequestId id, const std::vector<int32_t>& tokens, int32_t num_computed) {
  return {id, tokens, num_computed, 0};
}

TEST(KvCacheGroups, NewBlocksComeBlockMajorOnePerGroup) {
  KvCacheManager manager(kBlockSize, 20, /*enable_caching=*/false, {0, kWindow});
  const std::vector<int32_t> tokens = tokens_from(0, 10);
  // Three table entries, each a (full, sliding) pair.
  EXPECT_EQ(manager.allocate_slots(view(0, tokens, 0), 10), (std::vector<int32_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(manager.num_held_blocks(0, 0), 3);
  EXPECT_EQ(manager.num_held_blocks(0, 1), 3);
  manager.free(0);
  EXPECT_EQ(manager.block_pool().get_num_free_blocks(), 19);
}

TEST(KvCacheGroups, SlidingGroupReleasesBlocksTheWindowHasPassed) {
  KvCacheManager manager(kBlockSize, 30, /*enable_caching=*/false, {0, kWindow});
  std::vector<int32_t> tokens = tokens_from(0, 9);
  ASSERT_TRUE(manager.allocate_slots(view(0, tokens, 0), 9).has_value());  // positions 0-8: 3 entries
  // Decoding from position 9: the query sees 4..9, so entry 0 (positions 0-3) is passed.
  tokens.push_back(100);
  ASSERT_TRUE(manager.allocate_slots(view(0, tokens, 9), 1).has_value());
  std::vector<int32_t> ids = manager.get_block_ids(0);
  ASSERT_EQ(ids.size(), 6u);
  EXPECT_NE(ids[0], 0);  // the full group keeps every block
  EXPECT_EQ(ids[1], 0);  // the sliding group's first entry is the null block now
  EXPECT_EQ(manager.num_held_blocks(0, 0), 3);
  EXPECT_EQ(manager.num_held_blocks(0, 1), 2);
  // A long run: the sliding group never holds more than the window's blocks plus one.
  for (int32_t p = 10; p < 60; ++p) {
    tokens.push_back(100 + p);
    ASSERT_TRUE(manager.allocate_slots(view(0, tokens, p), 1).has_value());
    EXPECT_LE(manager.num_held_blocks(0, 1), (kWindow - 1) / kBlockSize + 2) << "position " << p;
  }
  EXPECT_EQ(manager.num_held_blocks(0, 0), 15);
  manager.free(0);
  EXPECT_EQ(manager.block_pool().get_num_free_blocks(), 29);
}

TEST(KvCacheGroups, PrefixHitNeedsEveryGroupAndReleasesWhatTheWindowPassed) {
  KvCacheManager manager(kBlockSize, 40, /*enable_caching=*/true, {0, kWindow});
  const std::vector<int32_t> prompt = tokens_from(0, 13);
  ASSERT_TRUE(manager.allocate_slots(view(0, prompt, 0), 13).has_value());
  // The same 13-token prompt: entries 0-2 (12 tokens) hit in both groups, the last token runs.
  const ComputedBlocks hit = manager.get_computed_blocks(view(1, prompt, 0));
  EXPECT_EQ(hit.num_computed_tokens, 12);
  EXPECT_EQ(hit.blocks.size(), 6u);
  ASSERT_TRUE(manager.allocate_slots(view(1, prompt, 0), 1, hit.num_computed_tokens, hit.blocks).has_value());
  // Computing from position 12 sees 7..12: the sliding group's entry 0 (0-3) is released at once.
  const std::vector<int32_t> first = manager.get_block_ids(0), second = manager.get_block_ids(1);
  EXPECT_EQ(second[0], first[0]);  // shared full-group block
  EXPECT_EQ(second[1], 0);
  EXPECT_EQ(second[2], first[2]);  // shared full-group block
  EXPECT_EQ(second[3], first[3]);  // shared sliding-group block, still in the window
  manager.free(0);
  manager.free(1);
  EXPECT_EQ(manager.block_pool().get_num_free_blocks(), 39);
}

TEST(KvCacheGroups, AdmissionBoundCountsTheWindowNotTheLength) {
  KvCacheManager manager(kBlockSize, 8, /*enable_caching=*/false, {0, kWindow});
  // 100 tokens, 4 per step: the full group needs 25 entries, the sliding one (6 - 1 + 4) / 4 + 1.
  EXPECT_EQ(manager.max_blocks_needed(100, 4), 25 + 3 + 1);
  KvCacheManager full(kBlockSize, 8, false, {0, 0});
  EXPECT_EQ(full.max_blocks_needed(100, 4), 50);
}

}  // namespace
}  // namespace tessera
