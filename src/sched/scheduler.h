// Scheduler: continuous batching. Owns the waiting and running queues and the KV block tables;
// each step decides which requests run how many tokens. Knows nothing about tensors or models:
// tests drive it with fake sampled tokens.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "kv/kv_cache_manager.h"
#include "sched/request.h"
#include "sched/scheduler_output.h"

namespace tessera {

struct SchedulerConfig {
  int32_t max_num_batched_tokens = 2048;     // token budget of one step, over all requests, decodes included
  int32_t max_num_seqs = 64;                 // running requests at most
  int32_t block_size = 16;                   // tokens per KV block
  int32_t num_blocks = 0;                    // KV blocks in the pool, the null block included
  // One entry per KV cache group (KvCacheManager): its sliding window, 0 = full attention.
  std::vector<int32_t> kv_group_windows = {0};
  int32_t max_model_len = 4096;              // prompt + output tokens of one request at most
  bool enable_prefix_caching = true;
  int32_t long_prefill_token_threshold = 0;  // tokens of one request per step at most; 0 = no cap
};

// Checks a config built from user flags.
Status validate_scheduler_config(const SchedulerConfig& config);

// What a step did to one request it ran.
struct RequestUpdate {
  RequestId request_id = 0;
  std::vector<int32_t> new_token_ids;  // tokens appended this step (empty mid-prompt)
  RequestStatus status = RequestStatus::kRunning;  // a finished status means the scheduler dropped it
};

// Scheduling rules (vLLM's chunked prefill, decode first): there is no prefill or decode phase,
// and every step runs at most max_num_batched_tokens tokens. First the running requests that
// decode (one known token left), oldest first, each with its drafts when speculating (drafts only
// from what the budget keeps beyond one token for every decode); then the
// running requests still in a prompt (or recomputing after preemption), oldest first, each
// min(tokens left, long_prefill_token_threshold, remaining budget); then waiting requests are
// admitted in order, chunked the same way, while budget, max_num_seqs and blocks allow. So a
// burst of prompts never stalls the decodes behind it by more than one budget's worth of tokens,
// and the oldest prompt always gets the budget the decodes leave, so it finishes.
// When blocks run out, the newest running request is preempted (blocks freed, recomputed later)
// until the current one fits or is itself the one preempted; a prompt chunk never preempts a
// request already scheduled this step: it waits, and nobody is admitted in that step. No request
// is admitted in a step that preempted either. Speculative decoding is the same rule: a running
// request's draft tokens (from the runner) are scheduled after its last known token, within the
// budget; only those the target accepts become computed tokens.
class Scheduler {
 public:
  explicit Scheduler(const SchedulerConfig& config);  // config must pass validate_scheduler_config
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request. Rejects (and forgets) one that is malformed or could never run: longer than
  // max_model_len, or needing more blocks than the whole pool even alone.
  Status add_request(RequestParams params);
  // Drops a request in any state and frees its blocks. NotFound when unknown or already finished.
  Status abort_request(RequestId request_id);

  SchedulerOutput schedule();
  // Appends the sampled tokens of the step `scheduler_output` described, finishes requests that
  // stop, and frees their blocks. Returns one update per request that ran.
  std::vector<RequestUpdate> update_from_output(const SchedulerOutput& scheduler_output,
                                                const RunnerOutput& runner_output);

  bool has_unfinished_requests() const { return !requests_.empty(); }
  int32_t num_waiting_requests() const { return static_cast<int32_t>(waiting_.size()); }
  int32_t num_running_requests() const { return static_cast<int32_t>(running_.size()); }
  std::vector<RequestId> waiting_request_ids() const;  // front first
  std::vector<RequestId> running_request_ids() const;  // oldest first
  const Request* find_request(RequestId request_id) const;
  const KvCacheManager& kv_cache_manager() const { return kv_cache_manager_; }
  const SchedulerConfig& config() const { return config_; }

 private:
  struct StepState;  // the step being built by schedule()
  enum class RunningPass { kDecodes, kPrefills };
  void schedule_running(StepState& step);  // both passes: decodes, then prompt chunks
  void schedule_running_pass(StepState& step, RunningPass pass);
  // One known token left to run: a decode step (its drafts aside).
  static bool is_decode(const Request& request);
  void schedule_waiting(StepState& step);
  // Preempts the newest running request; returns it.
  Request* preempt_newest(StepState& step);
  int32_t clamp_num_new_tokens(const Request& request, int32_t num_computed_tokens, int32_t token_budget) const;
  // Drafts of `request` to verify after its num_new_tokens known tokens this step (0: none).
  int32_t num_spec_tokens_to_verify(const Request& request, int32_t num_new_tokens, int32_t token_budget) const;
  // After a step that verified `num_spec_tokens` drafts: counts the accepted ones as computed, rolls
  // back the rejected ones' blocks, and keeps the runner's next drafts (runner_output entry `index`).
  void accept_spec_tokens(Request& request, int32_t num_spec_tokens, const RunnerOutput& runner_output, size_t index);
  void finish_request(Request* request, RequestStatus status);

  SchedulerConfig config_;
  KvCacheManager kv_cache_manager_;
  std::unordered_map<RequestId, std::unique_ptr<Request>> requests_;  // every live request, owned
  std::deque<Request*> waiting_;                                       // admission order, front first
  std::vector<Request*> running_;                                      // oldest first; preemption pops the back
  std::vector<RequestId> finished_request_ids_;                        // for the next SchedulerOutput
  int64_t num_arrivals_ = 0;
};

}  // namespace tessera
