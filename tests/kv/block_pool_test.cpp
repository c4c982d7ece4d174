// BlockPool: exact block ids, the reserved null block, LRU eviction of freed cached blocks,
// reference counting and double-free detection. Every test returns every block.
#include "kv/block_pool.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace tessera {
namespace {

constexpr int32_t kNumBlocks = 8;  // block 0 is null: 7 usable

std::vector<int32_t> ids_of(const std::vector<KvCacheBlock*>& blocks) {
  std::vector<int32_t> ids;
  for (const KvCacheBlock* block : blocks) ids.push_back(block->block_id);
  return ids;
}

BlockHash key(int32_t token) { return hash_block_tokens(nullptr, std::vector<int32_t>{token, token}, 0); }

class BlockPoolTest : public ::testing::Test {
 protected:
  void TearDown() override {
    EXPECT_EQ(pool_.get_num_free_blocks(), kNumBlocks - 1) << "a test leaked blocks";
    EXPECT_DOUBLE_EQ(pool_.get_usage(), 0.0);
  }
  // Caches each block under its own one-block key key(100 + block_id).
  void cache_each(const std::vector<KvCacheBlock*>& blocks) {
    std::vector<BlockHash> keys;
    for (const KvCacheBlock* block : blocks) keys.push_back(key(100 + block->block_id));
    pool_.cache_full_blocks(blocks, keys, 0, static_cast<int32_t>(blocks.size()));
  }
  BlockPool pool_{kNumBlocks, /*enable_caching=*/true};
};

TEST_F(BlockPoolTest, NullBlockIsReservedAndNeverHandedOut) {
  EXPECT_TRUE(pool_.block(0).is_null);
  EXPECT_EQ(pool_.get_num_free_blocks(), kNumBlocks - 1);
  std::vector<KvCacheBlock*> all = pool_.get_new_blocks(kNumBlocks - 1);
  EXPECT_EQ(ids_of(all), (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(pool_.get_num_free_blocks(), 0);
  EXPECT_DOUBLE_EQ(pool_.get_usage(), 1.0);
  pool_.free_blocks(all);
}

TEST_F(BlockPoolTest, FirstAllocationGetsBlocksOneTwoThree) {
  std::vector<KvCacheBlock*> blocks = pool_.get_new_blocks(3);
  EXPECT_EQ(ids_of(blocks), (std::vector<int32_t>{1, 2, 3}));
  for (const KvCacheBlock* block : blocks) EXPECT_EQ(block->ref_cnt, 1);
  EXPECT_EQ(pool_.get_num_free_blocks(), 4);
  EXPECT_NEAR(pool_.get_usage(), 3.0 / 7.0, 1e-12);
  pool_.free_blocks(blocks);
}

TEST_F(BlockPoolTest, ReusesNeverUsedBlocksBeforeFreedOnes) {
  std::vector<KvCacheBlock*> first = pool_.get_new_blocks(2);  // 1, 2
  pool_.free_blocks(std::vector<KvCacheBlock*>{first[1], first[0]});  // tail first, as a request frees
  EXPECT_EQ(pool_.get_free_block_ids(), (std::vector<int32_t>{3, 4, 5, 6, 7, 2, 1}));
  std::vector<KvCacheBlock*> second = pool_.get_new_blocks(6);
  EXPECT_EQ(ids_of(second), (std::vector<int32_t>{3, 4, 5, 6, 7, 2}));
  pool_.free_blocks(second);
}

TEST_F(BlockPoolTest, EvictsLeastRecentlyFreedCachedBlockFirst) {
  std::vector<KvCacheBlock*> blocks = pool_.get_new_blocks(7);
  cache_each(blocks);
  EXPECT_EQ(pool_.num_cached_blocks(), 7);
  // Free 3, then 1, then 2: 3 is the least recently freed.
  for (int32_t id : {3, 1, 2}) pool_.free_blocks(std::vector<KvCacheBlock*>{blocks[static_cast<size_t>(id - 1)]});
  EXPECT_EQ(pool_.get_free_block_ids(), (std::vector<int32_t>{3, 1, 2}));
  std::vector<KvCacheBlock*> reused = pool_.get_new_blocks(2);
  EXPECT_EQ(ids_of(reused), (std::vector<int32_t>{3, 1}));
  EXPECT_EQ(pool_.get_cached_block(key(103)), nullptr);  // evicted on reuse
  EXPECT_EQ(pool_.get_cached_block(key(101)), nullptr);
  EXPECT_EQ(pool_.get_cached_block(key(102)), blocks[1]);  // still free and findable
  EXPECT_FALSE(reused[0]->block_hash.has_value());
  EXPECT_EQ(pool_.num_cached_blocks(), 5);
  pool_.free_blocks(reused);
  for (int32_t id : {4, 5, 6, 7}) pool_.free_blocks(std::vector<KvCacheBlock*>{blocks[static_cast<size_t>(id - 1)]});
}

TEST_F(BlockPoolTest, TouchTakesAFreeCachedBlockBackOutOfTheQueue) {
  std::vector<KvCacheBlock*> blocks = pool_.get_new_blocks(1);  // block 1
  cache_each(blocks);
  pool_.free_blocks(blocks);
  KvCacheBlock* hit = pool_.get_cached_block(key(101));
  ASSERT_EQ(hit, blocks[0]);
  EXPECT_EQ(hit->ref_cnt, 0);
  pool_.touch(std::vector<KvCacheBlock*>{hit});
  EXPECT_EQ(hit->ref_cnt, 1);
  EXPECT_EQ(pool_.get_num_free_blocks(), kNumBlocks - 2);
  const std::vector<int32_t> free_ids = pool_.get_free_block_ids();
  EXPECT_EQ(std::count(free_ids.begin(), free_ids.end(), 1), 0);
  pool_.free_blocks(std::vector<KvCacheBlock*>{hit});
}

TEST_F(BlockPoolTest, SharedBlockReturnsToTheQueueOnlyAtRefCountZero) {
  std::vector<KvCacheBlock*> blocks = pool_.get_new_blocks(1);
  pool_.touch(blocks);  // a second request shares it
  EXPECT_EQ(blocks[0]->ref_cnt, 2);
  pool_.free_blocks(blocks);
  EXPECT_EQ(blocks[0]->ref_cnt, 1);
  EXPECT_EQ(pool_.get_num_free_blocks(), kNumBlocks - 2);
  pool_.free_blocks(blocks);
  EXPECT_EQ(blocks[0]->ref_cnt, 0);
}

TEST_F(BlockPoolTest, DuplicateKeysAreEvictedOneByOne) {
  std::vector<KvCacheBlock*> blocks = pool_.get_new_blocks(2);  // 1, 2: same content computed twice
  const std::vector<BlockHash> keys = {key(7)};
  pool_.cache_full_blocks(std::span<KvCacheBlock* const>(blocks).first(1), keys, 0, 1);
  pool_.cache_full_blocks(std::span<KvCacheBlock* const>(blocks).subspan(1), keys, 0, 1);
  EXPECT_EQ(pool_.get_cached_block(key(7)), blocks[0]);  // the first cached wins
  pool_.free_blocks(blocks);                                // queue: 3..7, 1, 2
  std::vector<KvCacheBlock*> reused = pool_.get_new_blocks(6);  // evicts block 1's entry
  EXPECT_EQ(pool_.get_cached_block(key(7)), blocks[1]);
  pool_.free_blocks(reused);
}

TEST_F(BlockPoolTest, CachingOffRegistersNothing) {
  BlockPool pool(4, /*enable_caching=*/false);
  std::vector<KvCacheBlock*> blocks = pool.get_new_blocks(1);
  const std::vector<BlockHash> keys = {key(1)};
  pool.cache_full_blocks(blocks, keys, 0, 1);
  EXPECT_EQ(pool.get_cached_block(key(1)), nullptr);
  pool.free_blocks(blocks);
}

TEST_F(BlockPoolTest, ResetPrefixCacheOnlyWhenNothingIsHeld) {
  std::vector<KvCacheBlock*> blocks = pool_.get_new_blocks(2);
  cache_each(blocks);
  EXPECT_FALSE(pool_.reset_prefix_cache());
  EXPECT_NE(pool_.get_cached_block(key(101)), nullptr);
  pool_.free_blocks(blocks);
  EXPECT_TRUE(pool_.reset_prefix_cache());
  EXPECT_EQ(pool_.get_cached_block(key(101)), nullptr);
  EXPECT_EQ(pool_.num_cached_blocks(), 0);
}

TEST(BlockPoolDeathTest, DoubleFreeStopsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  BlockPool pool(4, true);
  std::vector<KvCacheBlock*> blocks = pool.get_new_blocks(1);
  pool.free_blocks(blocks);
  EXPECT_DEATH(pool.free_blocks(blocks), "double free of block 1");
}

TEST(FreeBlockQueue, RemovesFromTheMiddleAndKeepsOrder) {
  std::vector<KvCacheBlock> blocks(5);
  for (int32_t i = 0; i < 5; ++i) blocks[static_cast<size_t>(i)].block_id = i;
  FreeBlockQueue queue(blocks);
  queue.remove(&blocks[2]);
  EXPECT_EQ(queue.get_all_free_block_ids(), (std::vector<int32_t>{0, 1, 3, 4}));
  queue.append(&blocks[2]);
  EXPECT_EQ(queue.popleft()->block_id, 0);
  queue.remove(&blocks[4]);
  EXPECT_EQ(queue.get_all_free_block_ids(), (std::vector<int32_t>{1, 3, 2}));
  EXPECT_EQ(queue.num_free_blocks(), 3);
}

}  // namespace
}  // namespace tessera
