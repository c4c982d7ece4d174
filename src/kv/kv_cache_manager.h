// KvCacheManager: which blocks each request holds (its block table), finding a new request's
// longest cached prefix, and growing tables as requests compute tokens. Knows requests only
// through KvRequestView; knows nothing about queues, budgets or tensors.
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
  std::vector<KvCacheBlock*> blocks;  // in order; not yet referenced: pass them to allocate_slots
  int32_t num_computed_tokens = 0;    // blocks.size() * block_size
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
  KvCacheManager(int32_t block_size, int32_t num_blocks, bool enable_caching);

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
  std::optional<std::vector<int32_t>> allocate_slots(const KvRequestView& request, int32_t num_new_tokens,
                                                     int32_t num_new_computed_tokens = 0,
                                                     std::span<KvCacheBlock* const> new_computed_blocks = {});

  // Releases every block the request holds, last block first so that a sequence's tail is
  // evicted before its head (which other requests are likelier to share). Unknown ids are a no-op.
  void free(RequestId request_id);

  // The request's block table (empty if it holds none).
  std::vector<int32_t> get_block_ids(RequestId request_id) const;
  // Blocks needed to hold `num_tokens` tokens.
  int32_t num_blocks_for(int64_t num_tokens) const {
    return static_cast<int32_t>((num_tokens + block_size_ - 1) / block_size_);
  }

  bool reset_prefix_cache() { return block_pool_.reset_prefix_cache(); }
  double get_usage() const { return block_pool_.get_usage(); }
  int32_t block_size() const { return block_size_; }
  int32_t num_requests() const { return static_cast<int32_t>(requests_.size()); }
  const PrefixCacheStats& prefix_cache_stats() const { return stats_; }
  const BlockPool& block_pool() const { return block_pool_; }

 private:
  struct RequestBlocks {
    std::vector<KvCacheBlock*> blocks;      // the block table: block i holds tokens [i*bs, (i+1)*bs)
    std::vector<BlockHash> block_hashes;    // keys of the request's full blocks, grown as tokens arrive
    int32_t num_cached_blocks = 0;          // leading blocks already registered in the pool's cache
  };
  RequestBlocks& request_blocks(const KvRequestView& request);
  int32_t num_blocks_to_allocate(const RequestBlocks& state, int32_t num_tokens,
                                 std::span<KvCacheBlock* const> new_computed_blocks) const;
  void cache_blocks(const KvRequestView& request, RequestBlocks& state, int32_t num_tokens);

  int32_t block_size_;
  BlockPool block_pool_;
  std::unordered_map<RequestId, RequestBlocks> requests_;
  PrefixCacheStats stats_;
};

}  // namespace tessera
