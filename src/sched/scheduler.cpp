// Scheduler: each step decodes first, then chunks prompts into what is left of the token budget,
// then admits waiting requests; preemption when blocks run out. The rules are in scheduler.h.
#include "sched/scheduler.h"

#include <algorithm>
#include <string>

#include "base/check.h"

namespace tessera {

Status validate_scheduler_config(const SchedulerConfig& c) {
  if (c.max_num_batched_tokens < 1) return invalid_argument("max_num_batched_tokens must be >= 1");
  if (c.max_num_seqs < 1) return invalid_argument("max_num_seqs must be >= 1");
  if (c.block_size < 1) return invalid_argument("block_size must be >= 1");
  if (c.num_blocks < 2) return invalid_argument("num_blocks must be >= 2 (block 0 is reserved)");
  if (c.max_model_len < 1) return invalid_argument("max_model_len must be >= 1");
  if (c.long_prefill_token_threshold < 0) return invalid_argument("long_prefill_token_threshold must be >= 0");
  return Status::ok_status();
}

// The step schedule() is building.
struct Scheduler::StepState {
  SchedulerOutput output;
  int32_t token_budget = 0;           // tokens still free this step
  std::vector<Request*> scheduled;    // aligned with output.num_scheduled_tokens
  // A running prefill found no blocks it could take without preempting a request already
  // scheduled this step: no later chunk and no admission may take blocks ahead of it.
  bool prefill_blocked = false;
};

Scheduler::Scheduler(const SchedulerConfig& config)
    : config_(config), kv_cache_manager_(config.block_size, config.num_blocks, config.enable_prefix_caching,
                        config.kv_group_windows) {
  const Status status = validate_scheduler_config(config);
  TS_CHECK(status.ok(), "bad scheduler config: %s", status.message().c_str());
}

Status Scheduler::add_request(RequestParams params) {
  const std::string name = "request " + std::to_string(params.request_id);
  if (requests_.contains(params.request_id)) return invalid_argument(name + ": id already in use");
  if (params.prompt_token_ids.empty()) return invalid_argument(name + ": empty prompt");
  if (params.max_tokens < 1) return invalid_argument(name + ": max_tokens must be >= 1");
  const int64_t num_prompt_tokens = static_cast<int64_t>(params.prompt_token_ids.size());
  const int64_t max_num_tokens = num_prompt_tokens + params.max_tokens;
  if (max_num_tokens > config_.max_model_len) {
    return out_of_range(name + ": prompt of " + std::to_string(num_prompt_tokens) + " tokens + max_tokens " +
                        std::to_string(params.max_tokens) + " exceeds max_model_len " +
                        std::to_string(config_.max_model_len));
  }
  // The last sampled token never needs KV: the request ends with it.
  // NOTE: kOutOfRange, like a prompt over max_model_len: it can never run, so it must not read as
  // kResourceExhausted (a full queue: the server answers 503 and clients retry).
  const int32_t num_blocks_needed =
      kv_cache_manager_.max_blocks_needed(max_num_tokens - 1, config_.max_num_batched_tokens);
  if (num_blocks_needed > config_.num_blocks - 1) {
    return out_of_range(name + ": needs " + std::to_string(num_blocks_needed) + " KV blocks, the whole pool has " +
                        std::to_string(config_.num_blocks - 1));
  }
  const RequestId request_id = params.request_id;
  auto request = std::make_unique<Request>(std::move(params), num_arrivals_++);
  waiting_.push_back(request.get());
  requests_.emplace(request_id, std::move(request));
  return Status::ok_status();
}

Status Scheduler::abort_request(RequestId request_id) {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return not_found("request " + std::to_string(request_id) + " is not live");
  finish_request(it->second.get(), RequestStatus::kFinishedAborted);
  return Status::ok_status();
}

SchedulerOutput Scheduler::schedule() {
  StepState step;
  step.token_budget = config_.max_num_batched_tokens;
  step.output.finished_request_ids.swap(finished_request_ids_);
  schedule_running(step);
  // NOTE: a step that had to preempt admits nobody: the new request would likely be preempted next.
  if (step.output.preempted_request_ids.empty() && !step.prefill_blocked) schedule_waiting(step);

  // The tokens are as good as computed once scheduled: the next step starts after them. Drafts
  // are not: update_from_output() counts those the target model accepts.
  for (size_t i = 0; i < step.scheduled.size(); ++i) {
    Request* request = step.scheduled[i];
    const ScheduledTokens& s = step.output.num_scheduled_tokens[i];
    request->set_num_computed_tokens(request->num_computed_tokens() + s.num_tokens - s.num_spec_tokens);
  }
  step.output.total_num_scheduled_tokens = config_.max_num_batched_tokens - step.token_budget;
  return std::move(step.output);
}

int32_t Scheduler::num_spec_tokens_to_verify(const Request& request, int32_t num_new_tokens,
                                             int32_t token_budget) const {
  // Drafts follow the last known token, so they run only when this step reaches it.
  if (request.spec_token_ids().empty() || request.num_computed_tokens() + num_new_tokens != request.num_tokens()) {
    return 0;
  }
  // NOTE: k drafts yield up to k + 1 tokens; capping them so that the request's last possible
  // token still needs no slot keeps it within the blocks add_request() admitted it for.
  const int32_t max_num_tokens = request.num_prompt_tokens() + request.max_tokens();
  const int32_t room = max_num_tokens - 1 - request.num_tokens();
  return std::max(0, std::min({static_cast<int32_t>(request.spec_token_ids().size()), room,
                               token_budget - num_new_tokens}));
}

int32_t Scheduler::clamp_num_new_tokens(const Request& request, int32_t num_computed_tokens,
                                        int32_t token_budget) const {
  int32_t num_new_tokens = request.num_tokens() - num_computed_tokens;
  if (config_.long_prefill_token_threshold > 0) {
    num_new_tokens = std::min(num_new_tokens, config_.long_prefill_token_threshold);
  }
  return std::min(num_new_tokens, token_budget);
}

void Scheduler::schedule_running(StepState& step) {
  schedule_running_pass(step, RunningPass::kDecodes);
  schedule_running_pass(step, RunningPass::kPrefills);
}

bool Scheduler::is_decode(const Request& request) {
  return request.num_tokens() - request.num_computed_tokens() == 1;
}

void Scheduler::schedule_running_pass(StepState& step, RunningPass pass) {
  // NOTE: num_computed_tokens only moves at the end of schedule(), so is_decode() reads the same
  // in both passes: the prefill pass skips exactly the requests the decode pass looked at.
  // Decodes not visited yet: each keeps one token of the budget, so drafts never crowd a newer
  // request's decode out of the step (an overestimate once preemption removed some: harmless).
  int32_t num_decodes_left = 0;
  if (pass == RunningPass::kDecodes) {
    for (const Request* r : running_) num_decodes_left += is_decode(*r) ? 1 : 0;
  }
  size_t index = 0;
  while (index < running_.size() && step.token_budget > 0 && !step.prefill_blocked) {
    Request* request = running_[index];
    if (is_decode(*request) != (pass == RunningPass::kDecodes)) {
      ++index;
      continue;
    }
    if (pass == RunningPass::kDecodes) --num_decodes_left;
    const int32_t num_new_tokens = clamp_num_new_tokens(*request, request->num_computed_tokens(), step.token_budget);
    if (num_new_tokens <= 0) {  // nothing to run: the runner sampled no token for it last step
      ++index;
      continue;
    }
    const int32_t num_spec_tokens =
        num_spec_tokens_to_verify(*request, num_new_tokens, step.token_budget - num_decodes_left);
    const int32_t num_kept_block_entries = kv_cache_manager_.num_block_entries(request->request_id());
    std::optional<std::vector<int32_t>> new_block_ids;
    while (!(new_block_ids = kv_cache_manager_.allocate_slots(request->kv_view(), num_new_tokens, 0, {},
                                                              num_spec_tokens))) {
      // The newest running request yields its blocks, unless it already runs this step (a decode,
      // when a prefill chunk is short of blocks): then the chunk waits for a later step.
      if (std::find(step.scheduled.begin(), step.scheduled.end(), running_.back()) != step.scheduled.end()) {
        step.prefill_blocked = true;
        break;
      }
      if (preempt_newest(step) == request) break;
    }
    if (!new_block_ids) break;  // blocked, or it preempted itself: it was the newest, nobody is after it
    step.output.cached_requests.push_back({request->request_id(), num_kept_block_entries, std::move(*new_block_ids),
                                           request->num_computed_tokens()});
    step.output.num_scheduled_tokens.push_back({request->request_id(), num_new_tokens + num_spec_tokens, num_spec_tokens});
    const std::span<const int32_t> drafts = request->spec_token_ids().first(static_cast<size_t>(num_spec_tokens));
    step.output.scheduled_spec_decode_tokens.emplace_back(drafts.begin(), drafts.end());
    step.scheduled.push_back(request);
    step.token_budget -= num_new_tokens + num_spec_tokens;
    ++index;
  }
}

void Scheduler::schedule_waiting(StepState& step) {
  while (!waiting_.empty() && step.token_budget > 0 &&
         static_cast<int32_t>(running_.size()) < config_.max_num_seqs) {
    Request* request = waiting_.front();
    const ComputedBlocks computed = kv_cache_manager_.get_computed_blocks(request->kv_view());
    const int32_t num_new_tokens = clamp_num_new_tokens(*request, computed.num_computed_tokens, step.token_budget);
    std::optional<std::vector<int32_t>> new_block_ids = kv_cache_manager_.allocate_slots(
        request->kv_view(), num_new_tokens, computed.num_computed_tokens, computed.blocks);
    if (!new_block_ids) break;  // first come, first served: nobody overtakes the head
    waiting_.pop_front();
    running_.push_back(request);
    request->set_status(RequestStatus::kRunning);
    request->set_num_computed_tokens(computed.num_computed_tokens);
    const std::span<const int32_t> token_ids = request->all_token_ids();
    step.output.new_requests.push_back({request->request_id(), {token_ids.begin(), token_ids.end()},
                                        kv_cache_manager_.get_block_ids(request->request_id()),
                                        computed.num_computed_tokens, request->num_prompt_tokens(),
                                        request->sampling_params()});
    step.output.num_scheduled_tokens.push_back({request->request_id(), num_new_tokens});
    step.output.scheduled_spec_decode_tokens.emplace_back();
    step.scheduled.push_back(request);
    step.token_budget -= num_new_tokens;
  }
}

Request* Scheduler::preempt_newest(StepState& step) {
  TS_CHECK(!running_.empty(), "preemption with nothing running");
  Request* victim = running_.back();
  running_.pop_back();
  kv_cache_manager_.free(victim->request_id());
  victim->preempt();
  waiting_.push_front(victim);
  step.output.preempted_request_ids.push_back(victim->request_id());
  return victim;
}

std::vector<RequestUpdate> Scheduler::update_from_output(const SchedulerOutput& scheduler_output,
                                                         const RunnerOutput& runner_output) {
  const std::vector<ScheduledTokens>& scheduled = scheduler_output.num_scheduled_tokens;
  TS_CHECK(runner_output.sampled_token_ids.size() == scheduled.size(), "runner output for %zu requests, %zu ran",
           runner_output.sampled_token_ids.size(), scheduled.size());
  std::vector<RequestUpdate> updates;
  updates.reserve(scheduled.size());
  for (size_t i = 0; i < scheduled.size(); ++i) {
    auto it = requests_.find(scheduled[i].request_id);
    if (it == requests_.end()) continue;  // aborted after it was scheduled
    Request* request = it->second.get();
    RequestUpdate update{request->request_id(), {}, request->status()};
    // Tokens sampled in the middle of the known tokens (a prompt chunk) mean nothing.
    if (request->num_computed_tokens() == request->num_tokens()) {
      for (int32_t token_id : runner_output.sampled_token_ids[i]) {
        update.new_token_ids.push_back(token_id);
        if (std::optional<RequestStatus> finished = request->append_output_token(token_id)) {
          update.status = *finished;
          break;
        }
      }
    }
    if (is_finished(update.status)) {
      finish_request(request, update.status);
    } else {
      accept_spec_tokens(*request, scheduled[i].num_spec_tokens, runner_output, i);
    }
    updates.push_back(std::move(update));
  }
  return updates;
}

void Scheduler::accept_spec_tokens(Request& request, int32_t num_spec_tokens, const RunnerOutput& runner_output,
                                   size_t index) {
  if (num_spec_tokens > 0) {
    // The sampled tokens are the accepted drafts, then the target's own token: the drafts' KV is
    // kept for those accepted; the blocks that held only rejected ones go back to the pool.
    const auto num_sampled = static_cast<int32_t>(runner_output.sampled_token_ids[index].size());
    TS_CHECK(num_sampled >= 1 && num_sampled <= num_spec_tokens + 1, "request %lld: %d tokens for %d drafts",
             static_cast<long long>(request.request_id()), num_sampled, num_spec_tokens);
    request.set_num_computed_tokens(request.num_computed_tokens() + num_sampled - 1);
    kv_cache_manager_.free_tail(request.request_id(), request.num_tokens());
  }
  const bool has_drafts = index < runner_output.spec_token_ids.size();
  request.set_spec_token_ids(has_drafts ? std::span<const int32_t>(runner_output.spec_token_ids[index])
                                        : std::span<const int32_t>());
}

void Scheduler::finish_request(Request* request, RequestStatus status) {
  const RequestId request_id = request->request_id();
  if (auto it = std::find(running_.begin(), running_.end(), request); it != running_.end()) {
    running_.erase(it);
  } else if (auto wit = std::find(waiting_.begin(), waiting_.end(), request); wit != waiting_.end()) {
    waiting_.erase(wit);
  }
  kv_cache_manager_.free(request_id);
  request->set_status(status);
  finished_request_ids_.push_back(request_id);
  requests_.erase(request_id);  // destroys *request
}

std::vector<RequestId> Scheduler::waiting_request_ids() const {
  std::vector<RequestId> ids;
  for (const Request* request : waiting_) ids.push_back(request->request_id());
  return ids;
}

std::vector<RequestId> Scheduler::running_request_ids() const {
  std::vector<RequestId> ids;
  for (const Request* request : running_) ids.push_back(request->request_id());
  return ids;
}

const Request* Scheduler::find_request(RequestId request_id) const {
  auto it = requests_.find(request_id);
  return it == requests_.end() ? nullptr : it->second.get();
}

}  // namespace tessera
