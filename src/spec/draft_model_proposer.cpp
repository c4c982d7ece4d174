#include "spec/draft_model_proposer.h"

#include <algorithm>

#include "base/check.h"
#include "model/kv_layout.h"

namespace tessera {

DraftModelProposer::DraftModelProposer(std::unique_ptr<Model> draft, int32_t num_blocks, int32_t block_size)
    : draft_(std::move(draft)), block_size_(block_size) {
  TS_CHECK(num_blocks >= 2 && block_size >= 1, "draft KV pool of %d blocks of %d", num_blocks, block_size);
  const ModelConfig& c = draft_->config();
  // One group: the draft keeps every block (its window, if any, is applied by attention's mask).
  kv_ = std::make_unique<KvStorage>(make_kv_layout(c, /*release_window_blocks=*/false), num_blocks, block_size,
                                    c.num_kv_heads, c.head_dim, DType::kF16);
  batch_.num_kv_groups = kv_->layout().num_groups();
  for (int32_t id = num_blocks - 1; id >= 1; --id) free_block_ids_.push_back(id);
}

void DraftModelProposer::drop_request(int64_t request_id) {
  auto it = states_.find(request_id);
  if (it == states_.end()) return;
  free_block_ids_.insert(free_block_ids_.end(), it->second.block_table.begin(), it->second.block_table.end());
  states_.erase(it);
}

bool DraftModelProposer::prepare(DraftState& state, std::span<const int32_t> token_ids, int32_t num_positions) {
  // The draft's KV stays valid up to the first token where it and the request differ (the first
  // rejected draft); at least the last known token is rerun, as its logits give the first draft.
  const auto common = static_cast<size_t>(
      std::mismatch(state.token_ids.begin(), state.token_ids.end(), token_ids.begin(), token_ids.end()).first -
      state.token_ids.begin());
  state.token_ids.resize(std::min(common, token_ids.size() - 1));
  const auto num_blocks = static_cast<size_t>((num_positions + block_size_ - 1) / block_size_);
  if (num_blocks > state.block_table.size() + free_block_ids_.size()) return false;
  while (state.block_table.size() < num_blocks) {
    state.block_table.push_back(free_block_ids_.back());
    free_block_ids_.pop_back();
  }
  return true;
}

void DraftModelProposer::propose(std::span<const ProposalRequest> requests, ThreadPool& pool) {
  active_.clear();
  num_drafts_.assign(requests.size(), 0);
  int32_t max_spec_tokens = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const ProposalRequest& r = requests[i];
    r.draft_token_ids->clear();
    const auto num_tokens = static_cast<int32_t>(r.token_ids.size());
    // NOTE: draft j runs the draft model at position num_tokens - 1 + j, which must stay inside its
    // context (the engine's max_model_len): a request near its end drafts fewer tokens, and one
    // already at the end none (the scheduler could not verify them anyway).
    const int32_t room = draft_->max_context() - num_tokens;
    const int32_t k = room <= 0 ? 0 : std::min(r.num_spec_tokens, room + 1);
    // KV for every position but the last draft's: num_tokens + k - 1.
    if (k > 0 && prepare(states_[r.request_id], r.token_ids, num_tokens + k - 1)) {
      active_.push_back(i);
      num_drafts_[i] = k;
      max_spec_tokens = std::max(max_spec_tokens, k);
    }
  }
  const size_t vocab = static_cast<size_t>(draft_->config().vocab_size);
  // Pass 0 catches each request up to its last known token; pass j > 0 runs draft j - 1. Each
  // pass is one batched forward over every request still drafting.
  for (int32_t pass = 0; pass < max_spec_tokens; ++pass) {
    batch_.clear();
    for (size_t i : active_) {
      const ProposalRequest& r = requests[i];
      if (pass >= num_drafts_[i]) continue;
      DraftState& state = states_.at(r.request_id);
      const auto start = static_cast<int32_t>(state.token_ids.size());
      if (pass == 0) {
        state.token_ids.assign(r.token_ids.begin(), r.token_ids.end());
      } else {
        state.token_ids.push_back(r.draft_token_ids->back());
      }
      const std::span<const int32_t> tokens(state.token_ids.data() + start, state.token_ids.size() - static_cast<size_t>(start));
      const std::span<const int32_t> table(state.block_table);
      batch_.add_sequence(tokens, start, std::span<const std::span<const int32_t>>(&table, 1), block_size_, 1);
    }
    if (batch_.logit_rows.empty()) break;
    if (logits_.size() < batch_.logit_rows.size() * vocab) logits_.resize(batch_.logit_rows.size() * vocab);
    kernels::ExecutionContext execution(pool);
    draft_->forward(batch_, *kv_, logits_.data(), execution);
    size_t row = 0;
    for (size_t i : active_) {
      const ProposalRequest& r = requests[i];
      if (pass >= num_drafts_[i]) continue;
      const float* logits = logits_.data() + row++ * vocab;
      r.draft_token_ids->push_back(static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits));
    }
  }
}

}  // namespace tessera
