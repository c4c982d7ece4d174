// The two plain contracts between the scheduler and the model runner: SchedulerOutput (what to run
// this step) and RunnerOutput (what was sampled). Data only, so the runner needs no scheduler code.
#pragma once

#include <cstdint>
#include <vector>

#include "kv/kv_cache_manager.h"
#include "tessera/request.h"
#include "tessera/sampling_params.h"

namespace tessera {

// A request the runner does not hold state for: new, or resumed after preemption.
struct NewRequestData {
  RequestId request_id = 0;
  std::vector<int32_t> token_ids;   // all known tokens: the prompt, plus earlier outputs when resumed
  std::vector<int32_t> block_ids;   // its whole block table; position p lives in block_ids[p / block_size]
  int32_t num_computed_tokens = 0;  // tokens whose KV is already in those blocks (prefix-cache hits)
  int32_t num_prompt_tokens = 0;    // leading token_ids that are prompt (penalties look past them)
  SamplingParams sampling_params;   // from RequestParams, for the request's Sampler
};

// A request the runner already holds (its tokens, block table and sampler state).
struct CachedRequestData {
  RequestId request_id = 0;
  // Entries per KV cache group of its block table to keep before appending new_block_ids: fewer
  // than the runner holds when rejected draft tokens gave their tail blocks back.
  int32_t num_kept_block_entries = 0;
  std::vector<int32_t> new_block_ids;  // appended to its block table this step (often none)
  int32_t num_computed_tokens = 0;     // tokens with KV before this step; this step runs from here
};

struct ScheduledTokens {
  RequestId request_id = 0;
  int32_t num_tokens = 0;  // tokens of this request to run this step, from its num_computed_tokens on
  // Of num_tokens, the last ones are draft tokens to verify (SchedulerOutput::scheduled_spec_decode_tokens).
  int32_t num_spec_tokens = 0;
};

// NOTE: the runner samples a token for a request only when this step reaches its last known token
// (num_computed_tokens + num_tokens == its token count); a chunk in the middle of a prompt, or of
// recomputing a preempted request, produces none. A speculating request runs its last known token
// plus k drafts and gets 1 to k + 1 tokens: the drafts the target model accepts, then one of its own.
struct SchedulerOutput {
  std::vector<NewRequestData> new_requests;        // first time on the runner, or back after preemption
  std::vector<CachedRequestData> cached_requests;  // already on the runner: only what changed
  // Every scheduled request, in the order the runner must lay them out in the batch: a request may
  // reuse prefix-cache blocks that an earlier one in this list writes in this same step.
  std::vector<ScheduledTokens> num_scheduled_tokens;
  int32_t total_num_scheduled_tokens = 0;         // sum over num_scheduled_tokens, <= max_num_batched_tokens
  // Aligned with num_scheduled_tokens: the draft tokens each request verifies this step, after its
  // last known token (empty: not speculating). The runner asks for logits at all k + 1 positions.
  std::vector<std::vector<int32_t>> scheduled_spec_decode_tokens;
  std::vector<RequestId> preempted_request_ids;    // lost their blocks this step: the runner drops their state
  std::vector<RequestId> finished_request_ids;     // finished or aborted since the previous step: drop state
  // Added to every block id above to address the KV storage: under pipeline parallelism each
  // virtual engine's scheduler hands out ids 0.. of its own share of one storage (set by the
  // engine; the scheduler never sees it). 0 with one scheduler.
  int32_t block_id_offset = 0;

  bool empty() const { return num_scheduled_tokens.empty(); }
  // Tokens scheduled for `request_id` this step (0 when not scheduled); linear, for tests and logs.
  int32_t num_scheduled_tokens_for(RequestId request_id) const {
    for (const ScheduledTokens& s : num_scheduled_tokens) {
      if (s.request_id == request_id) return s.num_tokens;
    }
    return 0;
  }
};

struct RunnerOutput {
  // [num_scheduled_tokens.size()] aligned with SchedulerOutput::num_scheduled_tokens: the tokens
  // sampled for each request this step; empty for a request that sampled none (mid-prompt chunk).
  std::vector<std::vector<int32_t>> sampled_token_ids;
  // Aligned like sampled_token_ids: one entry per sampled token for requests that asked for
  // logprobs, empty otherwise (and empty altogether when no request asked).
  std::vector<std::vector<SampledLogprobs>> logprobs;
  // Aligned like sampled_token_ids: draft tokens proposed for each request's next step (empty:
  // none). The scheduler keeps them on the request until that step.
  std::vector<std::vector<int32_t>> spec_token_ids;
};

}  // namespace tessera
