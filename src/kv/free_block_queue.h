// KvCacheBlock (one block's bookkeeping) and FreeBlockQueue (the blocks no request holds, in
// eviction order). Owns no KV memory: a block is an id into the model's KvStorage.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "kv/block_hash.h"

namespace tessera {

struct KvCacheBlock {
  int32_t block_id = 0;                   // index into KvStorage's block axis; 0 is the null block
  int32_t ref_cnt = 0;                    // number of requests whose block table holds this block
  std::optional<BlockHash> block_hash;    // set while the block is full and findable by prefix caching
  int32_t cache_group = 0;                // the KV cache group whose map holds block_hash (see BlockPool)
  bool is_null = false;                   // the reserved null block: never allocated, freed or cached
  KvCacheBlock* prev_free = nullptr;      // FreeBlockQueue links; both null when not in the queue
  KvCacheBlock* next_free = nullptr;
};

// Intrusive doubly linked list over KvCacheBlock's prev_free/next_free links, between two sentinels.
// popleft() takes the next block to reuse; append() puts a freed block last, so blocks are evicted
// least recently freed first. O(1) for every operation, including remove() from the middle, which
// a prefix-cache hit on a free block needs.
// NOTE: built from the blocks in id order, so never-used blocks are handed out (in id order)
// before any freed one, keeping freed cached blocks findable as long as possible.
class FreeBlockQueue {
 public:
  // `blocks` must outlive the queue and not move.
  explicit FreeBlockQueue(std::vector<KvCacheBlock>& blocks);
  FreeBlockQueue(const FreeBlockQueue&) = delete;
  FreeBlockQueue& operator=(const FreeBlockQueue&) = delete;

  KvCacheBlock* popleft();
  void remove(KvCacheBlock* block);
  void append(KvCacheBlock* block);
  bool contains(const KvCacheBlock* block) const { return block->next_free != nullptr; }
  int32_t num_free_blocks() const { return num_free_blocks_; }
  // The free block ids from head (next to reuse) to tail; for tests and debugging.
  std::vector<int32_t> get_all_free_block_ids() const;

 private:
  KvCacheBlock head_;  // sentinel: head_.next_free is the first free block
  KvCacheBlock tail_;  // sentinel: tail_.prev_free is the last free block
  int32_t num_free_blocks_ = 0;
};

}  // namespace tessera
