// KvCacheManager: which blocks each request holds (its block tables), finding a new request's
// longest cached prefix, growing tables as requests compute tokens, and releasing the blocks a
// sliding window has left behind. Knows requests only through KvRequestView; knows nothing about
// queues, budgets or tensors.
//
// KV cache groups (vLLM's hybrid allocator): the model's layers are split into groups of equal
// size, each with its own block table per request, all drawing from one block pool (a block
// holds one group's layers for block_size tokens). A full-attention group keeps every block; a
// sliding-window group of window W releases the blocks wholly before position
// num_computed_tokens - W + 1, which no later query can see: a long request then holds
// window-sized KV in its local layers. One full-attention group is the plain paged cache.
//
// Block ids cross this interface block-major: for each block index b of a request, num_groups()
// ids, group 0 first. With one group that is just the block table. A released entry is the null
// block (id 0).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "kv/block_hash.h"
#include "kv/block_pool.h"

namespace tessera {

using RequestId = int64_t;

// What the KV cache needs to know about a request; borrowed, valid for one call.
struct KvRequestView {
  RequestId request_id = 0;
  std::span<const int32_t> all_token_ids;  // prompt then outputs so far
  int32_t num_computed_tokens = 0;         // tokens whose KV is (or is being) written to its blocks
  uint64_t cache_extra_key = 0;            // mixed into every block key (adapter id, ...); 0 = none
};

// The longest cached prefix of a request: blocks to reuse and the tokens they cover.
struct ComputedBlocks {
  std::vector<KvCacheBlock*> blocks;  // block-major over groups; not yet referenced: pass them to allocate_slots
  int32_t num_computed_tokens = 0;    // blocks.size() / num_groups * block_size
};

// Counted once per admission (first allocate_slots of a request with caching on), so a request
// that waits several steps for blocks is not counted several times; a resumed preempted request
// is counted again, as its recompute is real work the cache may save.
struct PrefixCacheStats {
  int64_t num_requests = 0;      // admissions
  int64_t num_query_tokens = 0;  // tokens those requests held at admission
  int64_t num_hit_tokens = 0;    // of those, tokens found in the prefix cache
  double hit_rate() const { return num_query_tokens == 0 ? 0.0 : double(num_hit_tokens) / double(num_query_tokens); }
};

class KvCacheManager {
 public:
  // group_windows: one entry per KV cache group, its sliding window in tokens (0: full attention).
  KvCacheManager(int32_t block_size, int32_t num_blocks, bool enable_caching, std::vector<int32_t> group_windows = {0});

  // The longest run of cached full blocks at the start of the request's tokens. Never covers the
  // last token: its logits must be computed. Empty when caching is off. Changes nothing.
  ComputedBlocks get_computed_blocks(const KvRequestView& request);

  // Grows the request's block table so it can hold `num_new_tokens` more tokens after its
  // num_computed_tokens plus `num_new_computed_tokens` prefix hits (`new_computed_blocks`, from
  // get_computed_blocks). Returns the ids of the newly allocated blocks (hits not included), or
  // nullopt when the pool cannot supply them, in which case nothing changed. Full blocks up to the
  // end of the new tokens become prefix-cache entries right away.
  // NOTE: as in vLLM, a block is findable as soon as the step that writes it is scheduled, so a
  // request scheduled later in the same step may reuse it. The runner must therefore run a step's
  // requests in the scheduled order (see SchedulerOutput::num_scheduled_tokens).
  // `num_lookahead_tokens` more slots follow the new tokens for draft tokens (speculative decoding).
  // NOTE: drafts are not in all_token_ids, so no block key ever covers them: a block becomes a
  // prefix-cache entry only once every token in it is a known token of the request.
  std::optional<std::vector<int32_t>> allocate_slots(const KvRequestView& request, int32_t num_new_tokens,
                                                     int32_t num_new_computed_tokens = 0,
                                                     std::span<KvCacheBlock* const> new_computed_blocks = {},
                                                     int32_t num_lookahead_tokens = 0);

  // Rolls back rejected draft tokens: frees, last first, every block after those that hold
  // positions [0, num_tokens). Such blocks held only drafts, so none carries a prefix-cache key.
  void free_tail(RequestId request_id, int32_t num_tokens);

  // Releases every block the request holds, last block first so that a sequence's tail is
  // evicted before its head (which other requests are likelier to share). Unknown ids are a no-op.
  void free(RequestId request_id);

  // The request's block tables, block-major (empty if it holds none).
  std::vector<int32_t> get_block_ids(RequestId request_id) const;
  // Entries of each of the request's block tables (released ones included).
  int32_t num_block_entries(RequestId request_id) const;
  // Blocks (not the null block) the request holds in `group`.
  int32_t num_held_blocks(RequestId request_id, int32_t group) const;
  // Entries of a block table covering `num_tokens` tokens (per group).
  int32_t num_blocks_for(int64_t num_tokens) const {
    return static_cast<int32_t>((num_tokens + block_size_ - 1) / block_size_);
  }
  // The most blocks, over all groups, a request of `num_tokens` tokens ever holds at once when at
  // most `max_tokens_per_step` of them are computed per step.
  int32_t max_blocks_needed(int64_t num_tokens, int32_t max_tokens_per_step) const;
  int32_t num_groups() const { return static_cast<int32_t>(group_windows_.size()); }
  int32_t group_window(int32_t group) const { return group_windows_[static_cast<size_t>(group)]; }

  bool reset_prefix_cache() { return block_pool_.reset_prefix_cache(); }
  double get_usage() const { return block_pool_.get_usage(); }
  int32_t block_size() const { return block_size_; }
  int32_t num_requests() const { return static_cast<int32_t>(requests_.size()); }
  const PrefixCacheStats& prefix_cache_stats() const { return stats_; }
  const BlockPool& block_pool() const { return block_pool_; }

 private:
  struct RequestBlocks {
    // [num_groups] block tables: entry i holds tokens [i*bs, (i+1)*bs); all the same length;
    // released sliding-window entries point at the null block.
    std::vector<std::vector<KvCacheBlock*>> tables;
    std::vector<int32_t> num_released;      // [num_groups] leading entries released (sliding groups)
    std::vector<BlockHash> block_hashes;    // keys of the request's full blocks, grown as tokens arrive
    int32_t num_cached_blocks = 0;          // leading blocks already registered in the pool's cache
    size_t table_size() const { return tables.empty() ? 0 : tables[0].size(); }
  };
  RequestBlocks& request_blocks(const KvRequestView& request);
  int32_t num_blocks_to_allocate(const RequestBlocks& state, int32_t num_tokens,
                                 std::span<KvCacheBlock* const> new_computed_blocks) const;
  void cache_blocks(const KvRequestView& request, RequestBlocks& state, int32_t num_tokens);
  // Releases, in every sliding-window group, the blocks no query from `num_computed_tokens` on
  // can see.
  void release_skipped_blocks(RequestBlocks& state, int32_t num_computed_tokens);

  int32_t block_size_;
  std::vector<int32_t> group_windows_;  // [num_groups] sliding window, 0 = full attention
  BlockPool block_pool_;
  std::unordered_map<RequestId, RequestBlocks> requests_;
  PrefixCacheStats stats_;
};

}  // namespace tessera
