#include "kv/block_pool.h"

#include <algorithm>

#include "base/check.h"

namespace tessera {
namespace {

std::vector<KvCacheBlock> make_blocks(int32_t num_blocks) {
  TS_CHECK(num_blocks >= 2, "a block pool needs the null block and at least one more, got %d", num_blocks);
  std::vector<KvCacheBlock> blocks(static_cast<size_t>(num_blocks));
  for (int32_t i = 0; i < num_blocks; ++i) blocks[static_cast<size_t>(i)].block_id = i;
  return blocks;
}

}  // namespace

BlockPool::BlockPool(int32_t num_blocks, bool enable_caching, int32_t num_cache_groups)
    : enable_caching_(enable_caching),
      blocks_(make_blocks(num_blocks)),
      free_block_queue_(blocks_),
      cached_block_hash_to_block_(static_cast<size_t>(std::max(num_cache_groups, 1))) {
  // The null block is the first in the queue: take it out for good.
  KvCacheBlock* null = free_block_queue_.popleft();
  TS_CHECK(null->block_id == 0);
  null->is_null = true;
}

std::vector<KvCacheBlock*> BlockPool::get_new_blocks(int32_t num_blocks) {
  TS_CHECK(num_blocks <= get_num_free_blocks(), "asked for %d blocks, %d free", num_blocks, get_num_free_blocks());
  std::vector<KvCacheBlock*> new_blocks;
  new_blocks.reserve(static_cast<size_t>(std::max(num_blocks, 0)));
  for (int32_t i = 0; i < num_blocks; ++i) {
    KvCacheBlock* block = free_block_queue_.popleft();
    maybe_evict_cached_block(block);
    TS_CHECK(block->ref_cnt == 0, "free block %d has ref_cnt %d", block->block_id, block->ref_cnt);
    block->ref_cnt = 1;
    new_blocks.push_back(block);
  }
  return new_blocks;
}

KvCacheBlock* BlockPool::get_cached_block(const BlockHash& block_hash, int32_t group) const {
  const auto& map = cached_block_hash_to_block_.at(static_cast<size_t>(group));
  auto it = map.find(block_hash);
  return it == map.end() ? nullptr : it->second.front();
}

void BlockPool::cache_full_blocks(std::span<KvCacheBlock* const> blocks, std::span<const BlockHash> block_hashes,
                                  int32_t num_cached_blocks, int32_t num_full_blocks, int32_t group) {
  if (!enable_caching_ || num_cached_blocks >= num_full_blocks) return;
  TS_CHECK(static_cast<size_t>(num_full_blocks) <= blocks.size() &&
               static_cast<size_t>(num_full_blocks) <= block_hashes.size(),
           "caching %d full blocks of a table of %zu with %zu keys", num_full_blocks, blocks.size(), block_hashes.size());
  for (int32_t i = num_cached_blocks; i < num_full_blocks; ++i) {
    KvCacheBlock* block = blocks[static_cast<size_t>(i)];
    if (block->is_null) continue;  // a sliding-window block released before it was cached
    // A prefix-cache hit is already cached under this very key.
    if (block->block_hash) {
      TS_CHECK(*block->block_hash == block_hashes[static_cast<size_t>(i)] && block->cache_group == group,
               "block %d cached under another key", block->block_id);
      continue;
    }
    block->block_hash = block_hashes[static_cast<size_t>(i)];
    block->cache_group = group;
    cached_block_hash_to_block_.at(static_cast<size_t>(group))[*block->block_hash].push_back(block);
    ++num_cached_blocks_;
  }
}

void BlockPool::touch(std::span<KvCacheBlock* const> blocks) {
  for (KvCacheBlock* block : blocks) {
    TS_CHECK(!block->is_null, "touching the null block");
    if (block->ref_cnt == 0) free_block_queue_.remove(block);
    ++block->ref_cnt;
  }
}

void BlockPool::free_blocks(std::span<KvCacheBlock* const> ordered_blocks) {
  for (KvCacheBlock* block : ordered_blocks) {
    TS_CHECK(!block->is_null, "freeing the null block");
    TS_CHECK(block->ref_cnt > 0, "double free of block %d", block->block_id);
    if (--block->ref_cnt == 0) free_block_queue_.append(block);
  }
}

bool BlockPool::reset_prefix_cache() {
  if (get_num_free_blocks() != num_blocks() - 1) return false;
  for (KvCacheBlock& block : blocks_) block.block_hash.reset();
  for (auto& map : cached_block_hash_to_block_) map.clear();
  num_cached_blocks_ = 0;
  return true;
}

double BlockPool::get_usage() const {
  const int32_t num_usable = num_blocks() - 1;
  return 1.0 - static_cast<double>(get_num_free_blocks()) / static_cast<double>(num_usable);
}

void BlockPool::maybe_evict_cached_block(KvCacheBlock* block) {
  if (!block->block_hash) return;
  auto& map = cached_block_hash_to_block_.at(static_cast<size_t>(block->cache_group));
  auto it = map.find(*block->block_hash);
  TS_CHECK(it != map.end(), "cached block %d missing from the map", block->block_id);
  std::vector<KvCacheBlock*>& holders = it->second;
  holders.erase(std::find(holders.begin(), holders.end(), block));
  if (holders.empty()) map.erase(it);
  block->block_hash.reset();
  --num_cached_blocks_;
}

}  // namespace tessera
