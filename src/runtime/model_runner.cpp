#include "runtime/model_runner.h"

#include "base/check.h"
#include "sampling/logprobs.h"

namespace tessera {

ModelRunner::ModelRunner(Model& model, KvStorage& kv, ThreadPool& pool)
    : model_(model), kv_(kv), pool_(pool), execution_(pool) {
  batch_.num_kv_groups = kv.layout().num_groups();
}

void ModelRunner::append_block_ids(RequestState& state, const std::vector<int32_t>& block_ids) const {
  const size_t num_groups = static_cast<size_t>(batch_.num_kv_groups);
  TS_CHECK(block_ids.size() % num_groups == 0, "%zu block ids for %zu groups", block_ids.size(), num_groups);
  state.block_tables.resize(num_groups);
  for (size_t i = 0; i < block_ids.size(); ++i) state.block_tables[i % num_groups].push_back(block_ids[i]);
}

void ModelRunner::update_states(const SchedulerOutput& out) {
  for (RequestId id : out.finished_request_ids) requests_.erase(id);
  for (RequestId id : out.preempted_request_ids) requests_.erase(id);
  for (const NewRequestData& r : out.new_requests) {
    TS_CHECK(r.sampling_params != nullptr, "request %lld has no sampling params", static_cast<long long>(r.request_id));
    const auto* params = static_cast<const SamplingParams*>(r.sampling_params.get());
    requests_.erase(r.request_id);  // a resumed request starts over
    RequestState state{r.token_ids, {}, r.num_computed_tokens, Sampler(*params)};
    append_block_ids(state, r.block_ids);
    requests_.emplace(r.request_id, std::move(state));
  }
  for (const CachedRequestData& r : out.cached_requests) {
    auto it = requests_.find(r.request_id);
    TS_CHECK(it != requests_.end(), "cached request %lld unknown to the runner", static_cast<long long>(r.request_id));
    RequestState& state = it->second;
    append_block_ids(state, r.new_block_ids);
    state.num_computed_tokens = r.num_computed_tokens;
  }
}

void ModelRunner::build_batch(const SchedulerOutput& out) {
  batch_.clear();
  logit_row_of_.assign(out.num_scheduled_tokens.size(), -1);
  // NOTE: scheduled order, never map order: a request may read prefix-cache blocks that an
  // earlier request in this very batch writes.
  for (size_t i = 0; i < out.num_scheduled_tokens.size(); ++i) {
    const ScheduledTokens& s = out.num_scheduled_tokens[i];
    RequestState& state = requests_.at(s.request_id);
    const int32_t start = state.num_computed_tokens;
    const int32_t end = start + s.num_tokens;
    TS_CHECK(end <= static_cast<int32_t>(state.token_ids.size()), "request %lld scheduled past its tokens",
             static_cast<long long>(s.request_id));
    const bool want_logits = end == static_cast<int32_t>(state.token_ids.size());
    if (want_logits) logit_row_of_[i] = static_cast<int32_t>(batch_.logit_rows.size());
    const std::span<const int32_t> tokens(state.token_ids.data() + start, static_cast<size_t>(s.num_tokens));
    sequence_tables_.assign(state.block_tables.begin(), state.block_tables.end());
    batch_.add_sequence(tokens, start, sequence_tables_, kv_.block_size(), want_logits);
  }
}

RunnerOutput ModelRunner::execute(const SchedulerOutput& out) {
  update_states(out);
  RunnerOutput result;
  result.sampled_token_ids.resize(out.num_scheduled_tokens.size());
  if (out.empty()) return result;
  build_batch(out);

  const size_t vocab = static_cast<size_t>(model_.config().vocab_size);
  const size_t needed = batch_.logit_rows.size() * vocab;
  if (logits_.size() < needed) logits_.resize(needed);
  model_.forward(batch_, kv_, logits_.data(), execution_);

  const size_t num_scheduled = out.num_scheduled_tokens.size();
  std::vector<RequestState*>& states = scheduled_states_;
  states.clear();
  bool any_logprobs = false;
  for (size_t i = 0; i < num_scheduled; ++i) {
    RequestState& state = requests_.at(out.num_scheduled_tokens[i].request_id);
    state.num_computed_tokens += out.num_scheduled_tokens[i].num_tokens;
    states.push_back(&state);
    any_logprobs = any_logprobs || (logit_row_of_[i] >= 0 && state.sampler.params().logprobs >= 0);
  }
  if (any_logprobs) result.logprobs.resize(num_scheduled);
  // Each request samples on its own (its sampler, RNG and history are its own), so the batch's
  // requests are spread over the pool: argmax or top-k / top-p over the whole vocabulary is
  // serial work per request that one thread did for all of them while the others waited.
  pool_.parallel_for_dynamic(static_cast<int64_t>(num_scheduled), 1, [&](int64_t begin, int64_t end, int) {
    for (size_t i = static_cast<size_t>(begin); i < static_cast<size_t>(end); ++i) {
      if (logit_row_of_[i] < 0) continue;
      RequestState& state = *states[i];
      const std::span<const float> row(logits_.data() + static_cast<size_t>(logit_row_of_[i]) * vocab, vocab);
      const int32_t token = state.sampler.sample(row, state.token_ids);
      state.token_ids.push_back(token);
      result.sampled_token_ids[i].push_back(token);
      if (const int32_t num_top = state.sampler.params().logprobs; num_top >= 0) {
        result.logprobs[i].push_back(compute_logprobs(row, token, num_top));
      }
    }
  });
  return result;
}

}  // namespace tessera
