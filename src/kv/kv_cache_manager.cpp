#include "kv/kv_cache_manager.h"

#include <algorithm>

#include "base/check.h"

namespace tessera {

KvCacheManager::KvCacheManager(int32_t block_size, int32_t num_blocks, bool enable_caching,
                               std::vector<int32_t> group_windows)
    : block_size_(block_size),
      group_windows_(std::move(group_windows)),
      block_pool_(num_blocks, enable_caching, static_cast<int32_t>(group_windows_.size())) {
  TS_CHECK(block_size > 0, "block_size %d", block_size);
  TS_CHECK(!group_windows_.empty(), "a KV cache needs at least one group");
  for (int32_t window : group_windows_) TS_CHECK(window >= 0, "sliding window %d", window);
}

KvCacheManager::RequestBlocks& KvCacheManager::request_blocks(const KvRequestView& request) {
  RequestBlocks& state = requests_[request.request_id];
  if (state.tables.empty()) {
    state.tables.resize(group_windows_.size());
    state.num_released.assign(group_windows_.size(), 0);
  }
  if (block_pool_.enable_caching()) {
    extend_block_hashes(state.block_hashes, request.all_token_ids, block_size_, request.cache_extra_key);
  }
  return state;
}

ComputedBlocks KvCacheManager::get_computed_blocks(const KvRequestView& request) {
  ComputedBlocks computed;
  if (!block_pool_.enable_caching()) return computed;
  const RequestBlocks& state = request_blocks(request);
  // At least the last token is recomputed, so only blocks wholly before it can hit. A block hits
  // only when every group holds it (a sliding group's early blocks may have been evicted).
  const int32_t num_tokens = static_cast<int32_t>(request.all_token_ids.size());
  const size_t max_hit_blocks = static_cast<size_t>(std::max(num_tokens - 1, 0) / block_size_);
  const size_t num_candidates = std::min(max_hit_blocks, state.block_hashes.size());
  size_t num_hits = 0;
  for (; num_hits < num_candidates; ++num_hits) {
    const size_t first = computed.blocks.size();
    for (int32_t g = 0; g < num_groups(); ++g) {
      KvCacheBlock* block = block_pool_.get_cached_block(state.block_hashes[num_hits], g);
      if (block == nullptr) break;
      computed.blocks.push_back(block);
    }
    if (computed.blocks.size() - first < group_windows_.size()) {
      computed.blocks.resize(first);
      break;
    }
  }
  computed.num_computed_tokens = static_cast<int32_t>(num_hits) * block_size_;
  return computed;
}

int32_t KvCacheManager::num_blocks_to_allocate(const RequestBlocks& state, int32_t num_tokens,
                                               std::span<KvCacheBlock* const> new_computed_blocks) const {
  const int64_t num_held = static_cast<int64_t>(state.table_size() + new_computed_blocks.size() / group_windows_.size());
  const int64_t num_new = std::max<int64_t>(num_blocks_for(num_tokens) - num_held, 0) * num_groups();
  // A hit on a free block takes it out of the free queue, so it costs a free block too.
  const int64_t num_evictable_hits =
      std::count_if(new_computed_blocks.begin(), new_computed_blocks.end(),
                    [](const KvCacheBlock* block) { return block->ref_cnt == 0; });
  return static_cast<int32_t>(num_new + num_evictable_hits);
}

std::optional<std::vector<int32_t>> KvCacheManager::allocate_slots(const KvRequestView& request, int32_t num_new_tokens,
                                                                   int32_t num_new_computed_tokens,
                                                                   std::span<KvCacheBlock* const> new_computed_blocks,
                                                                   int32_t num_lookahead_tokens) {
  TS_CHECK(num_new_tokens > 0 && num_lookahead_tokens >= 0, "allocate_slots for %d + %d tokens", num_new_tokens,
           num_lookahead_tokens);
  const size_t num_groups = group_windows_.size();
  TS_CHECK(new_computed_blocks.size() % num_groups == 0 &&
               num_new_computed_tokens == static_cast<int32_t>(new_computed_blocks.size() / num_groups) * block_size_,
           "%d computed tokens for %zu hit blocks", num_new_computed_tokens, new_computed_blocks.size());
  RequestBlocks& state = request_blocks(request);
  TS_CHECK(new_computed_blocks.empty() || state.table_size() == 0, "prefix hits for request %lld that holds blocks",
           static_cast<long long>(request.request_id));
  const int32_t num_computed_tokens = request.num_computed_tokens + num_new_computed_tokens;
  TS_CHECK(num_computed_tokens + num_new_tokens <= static_cast<int32_t>(request.all_token_ids.size()),
           "request %lld: slots for %d tokens, it has %zu", static_cast<long long>(request.request_id),
           num_computed_tokens + num_new_tokens, request.all_token_ids.size());
  const int32_t num_tokens_need_slot = num_computed_tokens + num_new_tokens + num_lookahead_tokens;

  // NOTE: blocks the window has passed are released first, so they can serve this very step;
  // they stay released even if the allocation below fails (no later query of this request can
  // see them either way).
  release_skipped_blocks(state, request.num_computed_tokens);
  if (num_blocks_to_allocate(state, num_tokens_need_slot, new_computed_blocks) > block_pool_.get_num_free_blocks()) {
    if (state.table_size() == 0) requests_.erase(request.request_id);  // leave no trace of a failed first try
    return std::nullopt;
  }
  if (block_pool_.enable_caching() && state.table_size() == 0) {
    ++stats_.num_requests;
    stats_.num_query_tokens += static_cast<int64_t>(request.all_token_ids.size());
    stats_.num_hit_tokens += num_new_computed_tokens;
  }
  block_pool_.touch(new_computed_blocks);
  for (size_t i = 0; i < new_computed_blocks.size(); ++i) state.tables[i % num_groups].push_back(new_computed_blocks[i]);

  const int32_t num_new_entries =
      std::max(num_blocks_for(num_tokens_need_slot) - static_cast<int32_t>(state.table_size()), 0);
  std::vector<KvCacheBlock*> new_blocks = block_pool_.get_new_blocks(num_new_entries * static_cast<int32_t>(num_groups));
  for (size_t i = 0; i < new_blocks.size(); ++i) state.tables[i % num_groups].push_back(new_blocks[i]);

  const int32_t num_tokens_to_cache =
      std::min(num_tokens_need_slot, static_cast<int32_t>(request.all_token_ids.size()));
  cache_blocks(request, state, num_tokens_to_cache);
  release_skipped_blocks(state, num_computed_tokens);  // prefix hits the window has already passed

  std::vector<int32_t> new_block_ids(new_blocks.size());
  std::transform(new_blocks.begin(), new_blocks.end(), new_block_ids.begin(),
                 [](const KvCacheBlock* block) { return block->block_id; });
  return new_block_ids;
}

void KvCacheManager::release_skipped_blocks(RequestBlocks& state, int32_t num_computed_tokens) {
  for (size_t g = 0; g < group_windows_.size(); ++g) {
    const int32_t window = group_windows_[g];
    if (window == 0) continue;
    // The earliest position a query at num_computed_tokens or later can see.
    const int32_t first_visible = num_computed_tokens - window + 1;
    if (first_visible <= 0) continue;
    std::vector<KvCacheBlock*>& table = state.tables[g];
    const int32_t num_skipped = std::min(first_visible / block_size_, static_cast<int32_t>(table.size()));
    for (int32_t& i = state.num_released[g]; i < num_skipped; ++i) {
      KvCacheBlock*& block = table[static_cast<size_t>(i)];
      if (block->is_null) continue;
      block_pool_.free_blocks(std::span<KvCacheBlock* const>(&block, 1));
      block = block_pool_.null_block();
    }
  }
}

void KvCacheManager::cache_blocks(const KvRequestView& request, RequestBlocks& state, int32_t num_tokens) {
  if (!block_pool_.enable_caching()) return;
  const int32_t num_full_blocks = num_tokens / block_size_;
  if (num_full_blocks <= state.num_cached_blocks) return;
  for (int32_t g = 0; g < num_groups(); ++g) {
    block_pool_.cache_full_blocks(state.tables[static_cast<size_t>(g)], state.block_hashes, state.num_cached_blocks,
                                  num_full_blocks, g);
  }
  state.num_cached_blocks = num_full_blocks;
}

void KvCacheManager::free_tail(RequestId request_id, int32_t num_tokens) {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return;
  RequestBlocks& state = it->second;
  const size_t num_kept = static_cast<size_t>(num_blocks_for(num_tokens));
  if (state.table_size() <= num_kept) return;
  TS_CHECK(static_cast<size_t>(state.num_cached_blocks) <= num_kept, "request %lld: cached block in a freed tail",
           static_cast<long long>(request_id));
  for (std::vector<KvCacheBlock*>& table : state.tables) {
    std::vector<KvCacheBlock*> tail(table.rbegin(), table.rend() - static_cast<std::ptrdiff_t>(num_kept));
    for (const KvCacheBlock* block : tail) {
      TS_CHECK(!block->is_null && !block->block_hash.has_value(), "tail block %d is null or cached", block->block_id);
    }
    block_pool_.free_blocks(tail);
    table.resize(num_kept);
  }
}

int32_t KvCacheManager::num_block_entries(RequestId request_id) const {
  auto it = requests_.find(request_id);
  return it == requests_.end() ? 0 : static_cast<int32_t>(it->second.table_size());
}

void KvCacheManager::free(RequestId request_id) {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return;
  for (std::vector<KvCacheBlock*>& table : it->second.tables) {
    std::vector<KvCacheBlock*> held;
    std::copy_if(table.rbegin(), table.rend(), std::back_inserter(held),
                 [](const KvCacheBlock* block) { return !block->is_null; });
    block_pool_.free_blocks(held);
  }
  requests_.erase(it);
}

std::vector<int32_t> KvCacheManager::get_block_ids(RequestId request_id) const {
  std::vector<int32_t> block_ids;
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return block_ids;
  const RequestBlocks& state = it->second;
  for (size_t i = 0; i < state.table_size(); ++i) {
    for (const std::vector<KvCacheBlock*>& table : state.tables) block_ids.push_back(table[i]->block_id);
  }
  return block_ids;
}

int32_t KvCacheManager::num_held_blocks(RequestId request_id, int32_t group) const {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return 0;
  const std::vector<KvCacheBlock*>& table = it->second.tables[static_cast<size_t>(group)];
  return static_cast<int32_t>(std::count_if(table.begin(), table.end(), [](const KvCacheBlock* b) { return !b->is_null; }));
}

int32_t KvCacheManager::max_blocks_needed(int64_t num_tokens, int32_t max_tokens_per_step) const {
  int64_t total = 0;
  for (int32_t window : group_windows_) {
    const int64_t full = num_blocks_for(num_tokens);
    // A sliding group holds the window behind the step's first token plus the step itself, and
    // one block more where the window's start falls inside a block.
    total += window == 0 ? full : std::min<int64_t>(full, num_blocks_for(int64_t{window} - 1 + max_tokens_per_step) + 1);
  }
  return static_cast<int32_t>(std::min<int64_t>(total, INT32_MAX));
}

}  // namespace tessera
