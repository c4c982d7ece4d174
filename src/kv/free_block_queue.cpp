#include "kv/free_block_queue.h"

#include "base/check.h"

namespace tessera {

FreeBlockQueue::FreeBlockQueue(std::vector<KvCacheBlock>& blocks) {
  head_.block_id = -1;
  tail_.block_id = -1;
  head_.next_free = &tail_;
  tail_.prev_free = &head_;
  for (KvCacheBlock& block : blocks) append(&block);
}

KvCacheBlock* FreeBlockQueue::popleft() {
  TS_CHECK(num_free_blocks_ > 0, "popleft from an empty free block queue");
  KvCacheBlock* block = head_.next_free;
  remove(block);
  return block;
}

void FreeBlockQueue::remove(KvCacheBlock* block) {
  TS_CHECK(contains(block), "block %d is not in the free queue", block->block_id);
  block->prev_free->next_free = block->next_free;
  block->next_free->prev_free = block->prev_free;
  block->prev_free = nullptr;
  block->next_free = nullptr;
  --num_free_blocks_;
}

void FreeBlockQueue::append(KvCacheBlock* block) {
  TS_CHECK(!contains(block), "block %d is already in the free queue", block->block_id);
  block->prev_free = tail_.prev_free;
  block->next_free = &tail_;
  tail_.prev_free->next_free = block;
  tail_.prev_free = block;
  ++num_free_blocks_;
}

std::vector<int32_t> FreeBlockQueue::get_all_free_block_ids() const {
  std::vector<int32_t> block_ids;
  block_ids.reserve(static_cast<size_t>(num_free_blocks_));
  for (const KvCacheBlock* block = head_.next_free; block != &tail_; block = block->next_free) {
    block_ids.push_back(block->block_id);
  }
  return block_ids;
}

}  // namespace tessera
