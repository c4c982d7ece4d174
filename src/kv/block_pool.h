// BlockPool: every KV block's id, reference count and prefix-cache key; the free queue; the
// hash -> block map of cached full blocks. Bookkeeping only: no tensors, no requests.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "kv/block_hash.h"
#include "kv/free_block_queue.h"

namespace tessera {

// Invariants:
//  - block 0 is the null block: never handed out, never in the free queue, ref_cnt stays 0;
//  - a block is in the free queue exactly when its ref_cnt is 0;
//  - a block is in cached_block_hash_to_block_ exactly when its block_hash is set. A free block
//    may keep its hash (it is still a prefix-cache hit) until get_new_blocks() reuses it.
class BlockPool {
 public:
  // num_cache_groups: KV cache groups sharing the pool (KvCacheManager); the same tokens in two
  // groups are two different blocks, so each group has its own hash -> block map.
  BlockPool(int32_t num_blocks, bool enable_caching, int32_t num_cache_groups = 1);
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // Takes `num_blocks` blocks from the head of the free queue (ref_cnt 0 -> 1), dropping the
  // cache key of any that held one. The caller checks get_num_free_blocks() first.
  std::vector<KvCacheBlock*> get_new_blocks(int32_t num_blocks);

  // A block holding `block_hash`'s KV, or nullptr. It may be free (ref_cnt 0): touch() it to use it.
  KvCacheBlock* get_cached_block(const BlockHash& block_hash, int32_t group = 0) const;

  // Makes blocks[num_cached_blocks, num_full_blocks) findable under block_hashes[same range].
  // `blocks` is one request's block table and `block_hashes` its full-block keys (at least
  // num_full_blocks of them). No-op when caching is off.
  void cache_full_blocks(std::span<KvCacheBlock* const> blocks, std::span<const BlockHash> block_hashes,
                         int32_t num_cached_blocks, int32_t num_full_blocks, int32_t group = 0);

  // Adds a reference to each block (prefix-cache hits), taking free ones out of the free queue.
  void touch(std::span<KvCacheBlock* const> blocks);

  // Drops a reference from each block; blocks reaching 0 are appended to the free queue in the
  // given order, so the first listed is evicted first. Stops the process on a double free.
  void free_blocks(std::span<KvCacheBlock* const> ordered_blocks);

  // Forgets every cached key. Only possible when no request holds a block (returns false
  // otherwise), e.g. after weights change.
  bool reset_prefix_cache();

  int32_t num_blocks() const { return static_cast<int32_t>(blocks_.size()); }
  int32_t get_num_free_blocks() const { return free_block_queue_.num_free_blocks(); }
  // Share of usable blocks (all but the null block) that some request holds, in [0, 1].
  double get_usage() const;
  bool enable_caching() const { return enable_caching_; }
  KvCacheBlock* null_block() { return &blocks_[0]; }
  const KvCacheBlock& block(int32_t block_id) const { return blocks_.at(static_cast<size_t>(block_id)); }
  std::vector<int32_t> get_free_block_ids() const { return free_block_queue_.get_all_free_block_ids(); }
  int32_t num_cached_blocks() const { return num_cached_blocks_; }

 private:
  // Removes `block` from the hash map and clears its key; no-op if it holds none.
  void maybe_evict_cached_block(KvCacheBlock* block);

  bool enable_caching_;
  std::vector<KvCacheBlock> blocks_;  // [num_blocks] indexed by block_id; never resized (queue links point in)
  FreeBlockQueue free_block_queue_;
  // NOTE: several blocks may hold the same key (two requests computed the same block before
  // either was cached); lookups return the first cached, and each is evicted on its own.
  // [num_cache_groups] maps.
  std::vector<std::unordered_map<BlockHash, std::vector<KvCacheBlock*>, BlockHashHasher>> cached_block_hash_to_block_;
  int32_t num_cached_blocks_ = 0;  // blocks that currently hold a key
};

}  // namespace tessera
