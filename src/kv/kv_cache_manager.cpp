#include "kv/kv_cache_manager.h"

#include <algorithm>

#include "base/check.h"

namespace tessera {

KvCacheManager::KvCacheManager(int32_t block_size, int32_t num_blocks, bool enable_caching)
    : block_size_(block_size), block_pool_(num_blocks, enable_caching) {
  TS_CHECK(block_size > 0, "block_size %d", block_size);
}

KvCacheManager::RequestBlocks& KvCacheManager::request_blocks(const KvRequestView& request) {
  RequestBlocks& state = requests_[request.request_id];
  if (block_pool_.enable_caching()) {
    extend_block_hashes(state.block_hashes, request.all_token_ids, block_size_, request.cache_extra_key);
  }
  return state;
}

ComputedBlocks KvCacheManager::get_computed_blocks(const KvRequestView& request) {
  ComputedBlocks computed;
  if (!block_pool_.enable_caching()) return computed;
  const RequestBlocks& state = request_blocks(request);
  // At least the last token is recomputed, so only blocks wholly before it can hit.
  const int32_t num_tokens = static_cast<int32_t>(request.all_token_ids.size());
  const size_t max_hit_blocks = static_cast<size_t>(std::max(num_tokens - 1, 0) / block_size_);
  for (size_t i = 0; i < std::min(max_hit_blocks, state.block_hashes.size()); ++i) {
    KvCacheBlock* block = block_pool_.get_cached_block(state.block_hashes[i]);
    if (block == nullptr) break;
    computed.blocks.push_back(block);
  }
  computed.num_computed_tokens = static_cast<int32_t>(computed.blocks.size()) * block_size_;
  return computed;
}

int32_t KvCacheManager::num_blocks_to_allocate(const RequestBlocks& state, int32_t num_tokens,
                                               std::span<KvCacheBlock* const> new_computed_blocks) const {
  const int64_t num_held = static_cast<int64_t>(state.blocks.size() + new_computed_blocks.size());
  const int64_t num_new = std::max<int64_t>(num_blocks_for(num_tokens) - num_held, 0);
  // A hit on a free block takes it out of the free queue, so it costs a free block too.
  const int64_t num_evictable_hits =
      std::count_if(new_computed_blocks.begin(), new_computed_blocks.end(),
                    [](const KvCacheBlock* block) { return block->ref_cnt == 0; });
  return static_cast<int32_t>(num_new + num_evictable_hits);
}

std::optional<std::vector<int32_t>> KvCacheManager::allocate_slots(const KvRequestView& request, int32_t num_new_tokens,
                                                                   int32_t num_new_computed_tokens,
                                                                   std::span<KvCacheBlock* const> new_computed_blocks) {
  TS_CHECK(num_new_tokens > 0, "allocate_slots for %d tokens", num_new_tokens);
  TS_CHECK(num_new_computed_tokens == static_cast<int32_t>(new_computed_blocks.size()) * block_size_,
           "%d computed tokens for %zu hit blocks", num_new_computed_tokens, new_computed_blocks.size());
  RequestBlocks& state = request_blocks(request);
  TS_CHECK(new_computed_blocks.empty() || state.blocks.empty(), "prefix hits for request %lld that holds blocks",
           static_cast<long long>(request.request_id));
  const int32_t num_computed_tokens = request.num_computed_tokens + num_new_computed_tokens;
  const int32_t num_tokens_need_slot = num_computed_tokens + num_new_tokens;
  TS_CHECK(num_tokens_need_slot <= static_cast<int32_t>(request.all_token_ids.size()),
           "request %lld: slots for %d tokens, it has %zu", static_cast<long long>(request.request_id),
           num_tokens_need_slot, request.all_token_ids.size());

  if (num_blocks_to_allocate(state, num_tokens_need_slot, new_computed_blocks) > block_pool_.get_num_free_blocks()) {
    if (state.blocks.empty()) requests_.erase(request.request_id);  // leave no trace of a failed first try
    return std::nullopt;
  }
  if (block_pool_.enable_caching() && state.blocks.empty()) {
    ++stats_.num_requests;
    stats_.num_query_tokens += static_cast<int64_t>(request.all_token_ids.size());
    stats_.num_hit_tokens += num_new_computed_tokens;
  }
  block_pool_.touch(new_computed_blocks);
  state.blocks.insert(state.blocks.end(), new_computed_blocks.begin(), new_computed_blocks.end());

  const int32_t num_new_blocks = std::max(num_blocks_for(num_tokens_need_slot) - static_cast<int32_t>(state.blocks.size()), 0);
  std::vector<KvCacheBlock*> new_blocks = block_pool_.get_new_blocks(num_new_blocks);
  state.blocks.insert(state.blocks.end(), new_blocks.begin(), new_blocks.end());

  const int32_t num_tokens_to_cache =
      std::min(num_tokens_need_slot, static_cast<int32_t>(request.all_token_ids.size()));
  cache_blocks(request, state, num_tokens_to_cache);

  std::vector<int32_t> new_block_ids(new_blocks.size());
  std::transform(new_blocks.begin(), new_blocks.end(), new_block_ids.begin(),
                 [](const KvCacheBlock* block) { return block->block_id; });
  return new_block_ids;
}

void KvCacheManager::cache_blocks(const KvRequestView& request, RequestBlocks& state, int32_t num_tokens) {
  if (!block_pool_.enable_caching()) return;
  const int32_t num_full_blocks = num_tokens / block_size_;
  if (num_full_blocks <= state.num_cached_blocks) return;
  block_pool_.cache_full_blocks(state.blocks, state.block_hashes, state.num_cached_blocks, num_full_blocks);
  state.num_cached_blocks = num_full_blocks;
}

void KvCacheManager::free(RequestId request_id) {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return;
  std::vector<KvCacheBlock*>& blocks = it->second.blocks;
  std::reverse(blocks.begin(), blocks.end());
  block_pool_.free_blocks(blocks);
  requests_.erase(it);
}

std::vector<int32_t> KvCacheManager::get_block_ids(RequestId request_id) const {
  std::vector<int32_t> block_ids;
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return block_ids;
  for (const KvCacheBlock* block : it->second.blocks) block_ids.push_back(block->block_id);
  return block_ids;
}

}  // namespace tessera
