// KvCacheManager with block_size 4: exact block tables, growth as tokens arrive, prefix-cache hits
// (shared blocks, never the whole prompt), failed allocations that change nothing, tail-first
// freeing. Every test frees every request and checks that all blocks came back.
#include "kv/kv_cache_manager.h"

#include <gtest/gtest.h>

#include <numeric>

namespace tessera {
namespace {

constexpr int32_t kBlockSize = 4;
constexpr int32_t kNumBlocks = 10;  // 9 usable

std::vector<int32_t> tokens_from(int32_t first, int32_t count) {
  std::vector<int32_t> tokens(static_cast<size_t>(count));
  std::iota(tokens.begin(), tokens.end(), first);
  return tokens;
}

KvRequestView view(RequestId request_id, const std::vector<int32_t>& tokens, int32_t num_computed_tokens = 0) {
  return {request_id, tokens, num_computed_tokens, 0};
}

class KvCacheManagerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (RequestId request_id = 0; request_id < 10; ++request_id) manager_.free(request_id);
    EXPECT_EQ(manager_.block_pool().get_num_free_blocks(), kNumBlocks - 1) << "a test leaked blocks";
    EXPECT_EQ(manager_.num_requests(), 0);
  }
  // Admits a new request the way the scheduler does: prefix hits first, then the rest.
  std::optional<std::vector<int32_t>> admit(RequestId request_id, const std::vector<int32_t>& tokens) {
    const ComputedBlocks computed = manager_.get_computed_blocks(view(request_id, tokens));
    const int32_t num_new_tokens = static_cast<int32_t>(tokens.size()) - computed.num_computed_tokens;
    return manager_.allocate_slots(view(request_id, tokens), num_new_tokens, computed.num_computed_tokens,
                                   computed.blocks);
  }
  int32_t ref_cnt(int32_t block_id) const { return manager_.block_pool().block(block_id).ref_cnt; }

  KvCacheManager manager_{kBlockSize, kNumBlocks, /*enable_caching=*/true};
};

TEST_F(KvCacheManagerTest, FirstAllocationGetsBlocksOneTwoThree) {
  const std::vector<int32_t> prompt = tokens_from(0, 10);
  EXPECT_EQ(admit(0, prompt), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(manager_.get_block_ids(0), (std::vector<int32_t>{1, 2, 3}));
}

TEST_F(KvCacheManagerTest, GrowsTheTableOnlyWhenTheLastBlockIsFull) {
  std::vector<int32_t> tokens = tokens_from(0, 8);
  EXPECT_EQ(manager_.allocate_slots(view(0, tokens), 8), (std::vector<int32_t>{1, 2}));
  tokens.push_back(100);  // sampled: its KV goes to position 8, a new block
  EXPECT_EQ(manager_.allocate_slots(view(0, tokens, 8), 1), (std::vector<int32_t>{3}));
  tokens.push_back(101);  // position 9 fits block 3
  EXPECT_EQ(manager_.allocate_slots(view(0, tokens, 9), 1), (std::vector<int32_t>{}));
  EXPECT_EQ(manager_.get_block_ids(0), (std::vector<int32_t>{1, 2, 3}));
}

TEST_F(KvCacheManagerTest, ChunkedAllocationMatchesOneShot) {
  const std::vector<int32_t> prompt = tokens_from(0, 10);
  EXPECT_EQ(manager_.allocate_slots(view(0, prompt, 0), 3), (std::vector<int32_t>{1}));
  EXPECT_EQ(manager_.allocate_slots(view(0, prompt, 3), 3), (std::vector<int32_t>{2}));
  EXPECT_EQ(manager_.allocate_slots(view(0, prompt, 6), 4), (std::vector<int32_t>{3}));
}

TEST_F(KvCacheManagerTest, RequestsSharingTwoFullBlocksGetTheSameBlockIds) {
  std::vector<int32_t> prompt_a = tokens_from(0, 10);
  std::vector<int32_t> prompt_b = tokens_from(0, 8);
  prompt_b.insert(prompt_b.end(), {50, 51, 52});
  EXPECT_EQ(admit(0, prompt_a), (std::vector<int32_t>{1, 2, 3}));
  const ComputedBlocks computed = manager_.get_computed_blocks(view(1, prompt_b));
  EXPECT_EQ(computed.num_computed_tokens, 8);
  ASSERT_EQ(computed.blocks.size(), 2u);
  EXPECT_EQ(manager_.allocate_slots(view(1, prompt_b), 3, 8, computed.blocks), (std::vector<int32_t>{4}));
  EXPECT_EQ(manager_.get_block_ids(1), (std::vector<int32_t>{1, 2, 4}));
  EXPECT_EQ(ref_cnt(1), 2);
  EXPECT_EQ(ref_cnt(2), 2);
  EXPECT_EQ(ref_cnt(3), 1);
  EXPECT_EQ(manager_.prefix_cache_stats().num_hit_tokens, 8);
  EXPECT_EQ(manager_.prefix_cache_stats().num_query_tokens, 10 + 11);
}

TEST_F(KvCacheManagerTest, SamePromptTwiceSharesEveryBlockButTheLastTokens) {
  const std::vector<int32_t> prompt = tokens_from(0, 9);
  EXPECT_EQ(admit(0, prompt), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(admit(1, prompt), (std::vector<int32_t>{4}));  // token 8 is recomputed in its own block
  EXPECT_EQ(manager_.get_block_ids(1), (std::vector<int32_t>{1, 2, 4}));
}

TEST_F(KvCacheManagerTest, NeverHitsTheWholePrompt) {
  const std::vector<int32_t> prompt = tokens_from(0, 8);  // exactly two full blocks
  EXPECT_EQ(admit(0, prompt), (std::vector<int32_t>{1, 2}));
  const ComputedBlocks computed = manager_.get_computed_blocks(view(1, prompt));
  EXPECT_EQ(computed.num_computed_tokens, 4);  // the last token needs logits: block 2 is recomputed
  EXPECT_EQ(manager_.allocate_slots(view(1, prompt), 4, 4, computed.blocks), (std::vector<int32_t>{3}));
}

TEST_F(KvCacheManagerTest, FreedBlocksStayHitsUntilReused) {
  const std::vector<int32_t> prompt = tokens_from(0, 12);
  EXPECT_EQ(admit(0, prompt), (std::vector<int32_t>{1, 2, 3}));
  manager_.free(0);
  EXPECT_EQ(manager_.block_pool().get_free_block_ids(), (std::vector<int32_t>{4, 5, 6, 7, 8, 9, 3, 2, 1}));
  EXPECT_EQ(admit(1, prompt), (std::vector<int32_t>{4}));  // hits 1, 2 out of the free queue
  EXPECT_EQ(manager_.get_block_ids(1), (std::vector<int32_t>{1, 2, 4}));
  manager_.free(1);
  // Block 3 was freed first, so it is evicted first; 1 and 2 survive a 6-block allocation.
  EXPECT_EQ(manager_.allocate_slots(view(2, tokens_from(500, 24)), 24), (std::vector<int32_t>{5, 6, 7, 8, 9, 3}));
  EXPECT_EQ(manager_.get_computed_blocks(view(3, prompt)).num_computed_tokens, 8);
}

TEST_F(KvCacheManagerTest, BlocksBecomeHitsAsDecodingFillsThem) {
  std::vector<int32_t> tokens = tokens_from(0, 6);
  EXPECT_EQ(admit(0, tokens), (std::vector<int32_t>{1, 2}));
  tokens.push_back(60);
  EXPECT_EQ(manager_.allocate_slots(view(0, tokens, 6), 1), (std::vector<int32_t>{}));
  tokens.push_back(61);
  EXPECT_EQ(manager_.allocate_slots(view(0, tokens, 7), 1), (std::vector<int32_t>{}));  // block 2 now full
  std::vector<int32_t> follow_up = tokens;
  follow_up.push_back(62);
  EXPECT_EQ(manager_.get_computed_blocks(view(1, follow_up)).num_computed_tokens, 8);
}

TEST_F(KvCacheManagerTest, FailedAllocationChangesNothing) {
  EXPECT_EQ(admit(0, tokens_from(0, 28)).value().size(), 7u);
  const std::vector<int32_t> free_before = manager_.block_pool().get_free_block_ids();
  EXPECT_EQ(admit(1, tokens_from(100, 12)), std::nullopt);  // needs 3, 2 free
  EXPECT_EQ(manager_.block_pool().get_free_block_ids(), free_before);
  EXPECT_TRUE(manager_.get_block_ids(1).empty());
  EXPECT_EQ(manager_.num_requests(), 1);
}

TEST_F(KvCacheManagerTest, HitOnAFreeBlockCostsAFreeBlock) {
  KvCacheManager manager(kBlockSize, 5, true);  // 4 usable
  const std::vector<int32_t> prompt = tokens_from(0, 9);
  ASSERT_TRUE(manager.allocate_slots(view(0, prompt), 9));  // 1, 2, 3; 1 and 2 cached
  manager.free(0);                                          // queue: 4, 3, 2, 1
  EXPECT_EQ(manager.allocate_slots(view(1, tokens_from(100, 8)), 8), (std::vector<int32_t>{4, 3}));
  // The hits 1 and 2 are free: taking them plus one new block needs 3 free blocks, only 2 are.
  const ComputedBlocks computed = manager.get_computed_blocks(view(2, prompt));
  EXPECT_EQ(computed.num_computed_tokens, 8);
  EXPECT_EQ(manager.allocate_slots(view(2, prompt), 1, 8, computed.blocks), std::nullopt);
  EXPECT_EQ(manager.block_pool().get_num_free_blocks(), 2);
  manager.free(1);
  EXPECT_EQ(manager.block_pool().get_num_free_blocks(), 4);
}

TEST_F(KvCacheManagerTest, ExtraKeySeparatesOtherwiseEqualPrompts) {
  const std::vector<int32_t> prompt = tokens_from(0, 9);
  ASSERT_TRUE(admit(0, prompt));
  KvRequestView adapter_view = view(1, prompt);
  adapter_view.cache_extra_key = 7;
  EXPECT_EQ(manager_.get_computed_blocks(adapter_view).num_computed_tokens, 0);
}

TEST_F(KvCacheManagerTest, CachingOffNeverHitsAndCountsNothing) {
  KvCacheManager manager(kBlockSize, kNumBlocks, /*enable_caching=*/false);
  const std::vector<int32_t> prompt = tokens_from(0, 9);
  ASSERT_TRUE(manager.allocate_slots(view(0, prompt), 9));
  EXPECT_EQ(manager.get_computed_blocks(view(1, prompt)).num_computed_tokens, 0);
  EXPECT_EQ(manager.allocate_slots(view(1, prompt), 9), (std::vector<int32_t>{4, 5, 6}));
  EXPECT_EQ(manager.prefix_cache_stats().num_requests, 0);
  manager.free(0);
  manager.free(1);
  EXPECT_EQ(manager.block_pool().get_num_free_blocks(), kNumBlocks - 1);
}

TEST_F(KvCacheManagerTest, StatsCountEachAdmissionOnce) {
  const std::vector<int32_t> prompt = tokens_from(0, 9);
  ASSERT_TRUE(admit(0, prompt));
  ASSERT_TRUE(admit(1, prompt));
  std::vector<int32_t> tokens = prompt;
  tokens.push_back(1);
  ASSERT_TRUE(manager_.allocate_slots(view(0, tokens, 9), 1));  // growth is not a query
  const PrefixCacheStats& stats = manager_.prefix_cache_stats();
  EXPECT_EQ(stats.num_requests, 2);
  EXPECT_EQ(stats.num_query_tokens, 18);
  EXPECT_EQ(stats.num_hit_tokens, 8);
  EXPECT_NEAR(stats.hit_rate(), 8.0 / 18.0, 1e-12);
}

// Speculative decoding: draft tokens get lookahead slots but never a prefix-cache key, and
// free_tail() gives back exactly the blocks that held only rejected drafts.
TEST(KvCacheSpec, LookaheadSlotsForDraftsAreNeverCached) {
  KvCacheManager manager(kBlockSize, kNumBlocks, /*enable_caching=*/true);
  // 6 known tokens (all prefill) + 5 drafts: 11 slots, 3 blocks; only block 0 is full of known tokens.
  std::vector<int32_t> tokens = tokens_from(100, 6);
  ASSERT_TRUE(manager.allocate_slots({1, tokens, 0, 0}, 6, 0, {}, /*num_lookahead_tokens=*/5).has_value());
  EXPECT_EQ(manager.num_block_entries(1), 3);
  EXPECT_EQ(manager.block_pool().num_cached_blocks(), 1);
  // A second request with the same 6 tokens plus the drafts' 6 more finds only block 0.
  std::vector<int32_t> longer = tokens_from(100, 12);
  EXPECT_EQ(manager.get_computed_blocks({2, longer, 0, 0}).num_computed_tokens, kBlockSize);
  manager.free(1);
  EXPECT_EQ(manager.block_pool().get_num_free_blocks(), kNumBlocks - 1);
}

TEST(KvCacheSpec, FreeTailReturnsOnlyBlocksPastTheKeptTokens) {
  KvCacheManager manager(kBlockSize, kNumBlocks, /*enable_caching=*/true);
  std::vector<int32_t> tokens = tokens_from(100, 5);
  ASSERT_TRUE(manager.allocate_slots({1, tokens, 0, 0}, 5, 0, {}, /*num_lookahead_tokens=*/7).has_value());
  EXPECT_EQ(manager.num_block_entries(1), 3);  // 12 slots
  const std::vector<int32_t> before = manager.get_block_ids(1);
  // One draft accepted and a bonus token: 7 tokens known, positions 0..6 in blocks 0 and 1.
  manager.free_tail(1, 7);
  EXPECT_EQ(manager.get_block_ids(1), std::vector<int32_t>(before.begin(), before.begin() + 2));
  EXPECT_EQ(manager.block_pool().get_num_free_blocks(), kNumBlocks - 1 - 2);
  manager.free_tail(1, 7);  // nothing more to give back
  EXPECT_EQ(manager.num_block_entries(1), 2);
  manager.free(1);
  EXPECT_EQ(manager.block_pool().get_num_free_blocks(), kNumBlocks - 1);
}

TEST(KvCacheSpec, FreeTailInEveryGroupOfASlidingWindowCache) {
  KvCacheManager manager(kBlockSize, kNumBlocks, /*enable_caching=*/false, {0, 4});
  std::vector<int32_t> tokens = tokens_from(100, 3);
  ASSERT_TRUE(manager.allocate_slots({1, tokens, 0, 0}, 3, 0, {}, /*num_lookahead_tokens=*/4).has_value());
  EXPECT_EQ(manager.num_held_blocks(1, 0), 2);
  EXPECT_EQ(manager.num_held_blocks(1, 1), 2);
  manager.free_tail(1, 4);
  EXPECT_EQ(manager.num_held_blocks(1, 0), 1);
  EXPECT_EQ(manager.num_held_blocks(1, 1), 1);
  manager.free(1);
  EXPECT_EQ(manager.block_pool().get_num_free_blocks(), kNumBlocks - 1);
}

}  // namespace
}  // namespace tessera
