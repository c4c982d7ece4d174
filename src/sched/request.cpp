#include "sched/request.h"

#include <algorithm>

#include "base/check.h"

namespace tessera {

bool is_finished(RequestStatus status) {
  return status == RequestStatus::kFinishedStopped || status == RequestStatus::kFinishedLength ||
         status == RequestStatus::kFinishedAborted;
}

const char* to_string(RequestStatus status) {
  switch (status) {
    case RequestStatus::kWaiting: return "waiting";
    case RequestStatus::kRunning: return "running";
    case RequestStatus::kPreempted: return "preempted";
    case RequestStatus::kFinishedStopped: return "finished_stopped";
    case RequestStatus::kFinishedLength: return "finished_length";
    case RequestStatus::kFinishedAborted: return "finished_aborted";
  }
  return "unknown";
}

Request::Request(RequestParams params, int64_t arrival_index)
    : request_id_(params.request_id),
      arrival_index_(arrival_index),
      all_token_ids_(std::move(params.prompt_token_ids)),
      num_prompt_tokens_(static_cast<int32_t>(all_token_ids_.size())),
      max_tokens_(params.max_tokens),
      stop_token_ids_(std::move(params.stop_token_ids)),
      eog_token_ids_(std::move(params.eog_token_ids)),
      ignore_eos_(params.ignore_eos),
      cache_extra_key_(params.cache_extra_key),
      sampling_params_(std::move(params.sampling_params)) {
  all_token_ids_.reserve(all_token_ids_.size() + static_cast<size_t>(std::max(max_tokens_, 0)));
}

void Request::set_num_computed_tokens(int32_t num_computed_tokens) {
  TS_CHECK(num_computed_tokens >= 0 && num_computed_tokens <= num_tokens(), "request %lld: %d computed of %d tokens",
           static_cast<long long>(request_id_), num_computed_tokens, num_tokens());
  num_computed_tokens_ = num_computed_tokens;
}

void Request::preempt() {
  status_ = RequestStatus::kPreempted;
  num_computed_tokens_ = 0;
  spec_token_ids_.clear();
  ++num_preemptions_;
}

std::optional<RequestStatus> Request::append_output_token(int32_t token_id) {
  all_token_ids_.push_back(token_id);
  // NOTE: a stop token wins over the length limit when both apply, so clients learn the model
  // chose to stop (vLLM reports length first).
  const auto listed = [token_id](const std::vector<int32_t>& ids) {
    return std::find(ids.begin(), ids.end(), token_id) != ids.end();
  };
  if ((stop_token_ids_ != nullptr && listed(*stop_token_ids_)) || (!ignore_eos_ && listed(eog_token_ids_))) {
    return RequestStatus::kFinishedStopped;
  }
  if (num_output_tokens() >= max_tokens_) return RequestStatus::kFinishedLength;
  return std::nullopt;
}

}  // namespace tessera
