// Request: one generation request as the scheduler sees it: its tokens, how many of them have KV,
// its state and when it must stop. Knows nothing about queues, blocks or sampling math.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "kv/kv_cache_manager.h"
#include "tessera/sampling_params.h"

namespace tessera {

enum class RequestStatus : uint8_t {
  kWaiting,           // queued, holds no blocks
  kRunning,           // holds blocks, scheduled every step until it finishes or is preempted
  kPreempted,         // blocks taken back; queued again at the front of waiting, recomputed from token 0
  kFinishedStopped,   // sampled a stop token id or an end-of-generation id
  kFinishedLength,    // reached max_tokens (or max_model_len)
  kFinishedAborted,   // aborted by the caller
};

bool is_finished(RequestStatus status);
const char* to_string(RequestStatus status);

// What add_request() needs; the scheduler validates it.
struct RequestParams {
  RequestId request_id = 0;                      // unique among live requests
  std::vector<int32_t> prompt_token_ids;         // non-empty
  int32_t max_tokens = 16;                       // output tokens at most, >= 1
  // Any of these ends the request (it is kept as output). Shared by a request's n completions:
  // null = none.
  std::shared_ptr<const std::vector<int32_t>> stop_token_ids;
  // The model's end-of-generation ids (EOS, end of turn, ...: Tokenizer::eog_ids()); any of them
  // ends the request unless ignore_eos. Kept apart from stop_token_ids because ignore_eos skips them.
  std::vector<int32_t> eog_token_ids;
  bool ignore_eos = false;                       // keep generating past end-of-generation ids (benchmarks)
  uint64_t cache_extra_key = 0;                  // mixed into prefix-cache keys (adapter id, ...); 0 = none
  SamplingParams sampling_params;                // read by the runner's Sampler, never here
};

class Request {
 public:
  Request(RequestParams params, int64_t arrival_index);

  RequestId request_id() const { return request_id_; }
  int64_t arrival_index() const { return arrival_index_; }
  RequestStatus status() const { return status_; }
  void set_status(RequestStatus status) { status_ = status; }

  std::span<const int32_t> all_token_ids() const { return all_token_ids_; }
  std::span<const int32_t> prompt_token_ids() const { return all_token_ids().first(static_cast<size_t>(num_prompt_tokens_)); }
  std::span<const int32_t> output_token_ids() const { return all_token_ids().subspan(static_cast<size_t>(num_prompt_tokens_)); }
  int32_t num_tokens() const { return static_cast<int32_t>(all_token_ids_.size()); }
  int32_t num_prompt_tokens() const { return num_prompt_tokens_; }
  int32_t num_output_tokens() const { return num_tokens() - num_prompt_tokens_; }

  // Tokens whose KV is written (or scheduled to be written this step). Catching up with
  // num_tokens() is all a request ever does: prefill, chunked prefill and decode alike.
  int32_t num_computed_tokens() const { return num_computed_tokens_; }
  void set_num_computed_tokens(int32_t num_computed_tokens);
  int32_t num_preemptions() const { return num_preemptions_; }
  // Back to waiting with no KV: everything is recomputed when it is scheduled again.
  void preempt();

  // Appends one sampled token; returns the finished status it causes, if any.
  std::optional<RequestStatus> append_output_token(int32_t token_id);

  int32_t max_tokens() const { return max_tokens_; }
  const SamplingParams& sampling_params() const { return sampling_params_; }

  // Draft tokens the runner proposed after its last sample, to be verified in the next step that
  // runs this request (vLLM's spec_token_ids). They are not tokens of the request: a step that
  // schedules them appends only those the target model accepts.
  std::span<const int32_t> spec_token_ids() const { return spec_token_ids_; }
  void set_spec_token_ids(std::span<const int32_t> ids) { spec_token_ids_.assign(ids.begin(), ids.end()); }
  KvRequestView kv_view() const { return {request_id_, all_token_ids_, num_computed_tokens_, cache_extra_key_}; }

 private:
  RequestId request_id_;
  int64_t arrival_index_;                  // order of add_request() calls, 0-based
  std::vector<int32_t> all_token_ids_;     // prompt then outputs
  int32_t num_prompt_tokens_;
  int32_t num_computed_tokens_ = 0;
  int32_t num_preemptions_ = 0;
  RequestStatus status_ = RequestStatus::kWaiting;
  int32_t max_tokens_;
  std::shared_ptr<const std::vector<int32_t>> stop_token_ids_;  // null = none
  std::vector<int32_t> eog_token_ids_;  // RequestParams::eog_token_ids
  bool ignore_eos_;
  uint64_t cache_extra_key_;
  SamplingParams sampling_params_;
  std::vector<int32_t> spec_token_ids_;  // drafts waiting for verification; cleared on preemption
};

}  // namespace tessera
