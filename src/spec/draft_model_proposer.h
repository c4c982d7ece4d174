// DraftModelProposer: drafts from a second, smaller model with the target's vocabulary. It keeps
// its own paged KV cache (its own KvStorage and block tables) and runs one batched forward per
// draft position over every speculating request. Drafts are the draft model's argmax (as vLLM's
// EAGLE drafts): a deterministic proposal, which the rejection sampler verifies as such.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "model/forward_batch.h"
#include "model/kv_storage.h"
#include "model/model.h"
#include "spec/proposer.h"

namespace tessera {

class DraftModelProposer final : public Proposer {
 public:
  // `draft` must share the target's vocabulary (checked by the caller, which can read
  // tokenizers); num_blocks: blocks of block_size tokens in the draft's KV pool.
  DraftModelProposer(std::unique_ptr<Model> draft, int32_t num_blocks, int32_t block_size);

  void propose(std::span<const ProposalRequest> requests, ThreadPool& pool) override;
  void drop_request(int64_t request_id) override;

  int32_t num_free_blocks() const { return static_cast<int32_t>(free_block_ids_.size()); }

 private:
  struct DraftState {
    std::vector<int32_t> token_ids;   // tokens whose KV is in the draft's cache, in order
    std::vector<int32_t> block_table; // position p lives in block_table[p / block_size]
  };
  // Forgets KV past the longest common prefix of what the draft computed and the request's
  // tokens (rejected drafts), and grows the table for `num_positions`; false when out of blocks.
  bool prepare(DraftState& state, std::span<const int32_t> token_ids, int32_t num_positions);

  std::unique_ptr<Model> draft_;
  std::unique_ptr<KvStorage> kv_;
  int32_t block_size_;
  std::vector<int32_t> free_block_ids_;  // LIFO free list of the draft's own pool (block 0 unused)
  std::unordered_map<int64_t, DraftState> states_;
  ForwardBatch batch_;                   // rebuilt for each draft position, capacity reused
  std::vector<size_t> active_;           // scratch: requests still drafting in this pass
  std::vector<int32_t> num_drafts_;      // scratch: [requests] drafts each makes (within the context)
  std::vector<float> logits_;            // [rows, vocab] f32
};

}  // namespace tessera
