#include "runtime/model_runner.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "base/check.h"
#include "sampling/logprobs.h"
#include "sampling/rejection_sampler.h"

namespace tessera {

ModelRunner::ModelRunner(Model& model, KvStorage& kv, ThreadPool& pool, RunnerSpecConfig spec, int32_t num_slots)
    : model_(model), kv_(kv), pool_(pool), execution_(pool), spec_(std::move(spec)),
      slots_(static_cast<size_t>(std::max(num_slots, 1))) {
  for (StepSlot& slot : slots_) slot.batch.num_kv_groups = kv.layout().num_groups();
}

ModelRunner::StepSlot& ModelRunner::slot_at(int32_t slot) {
  TS_CHECK(slot >= 0 && static_cast<size_t>(slot) < slots_.size(), "slot %d of %zu", slot, slots_.size());
  return slots_[static_cast<size_t>(slot)];
}

void ModelRunner::append_block_ids(RequestState& state, const std::vector<int32_t>& block_ids,
                                   int32_t block_id_offset) const {
  const size_t num_groups = static_cast<size_t>(kv_.layout().num_groups());
  TS_CHECK(block_ids.size() % num_groups == 0, "%zu block ids for %zu groups", block_ids.size(), num_groups);
  state.block_tables.resize(num_groups);
  // NOTE: the one place a scheduler's block id becomes a KV storage block (virtual engines each
  // schedule their own share of the pool, ids from 0): nothing before this sees storage ids.
  for (size_t i = 0; i < block_ids.size(); ++i) {
    const int32_t block = block_ids[i] + block_id_offset;
    TS_CHECK(block >= 0 && block < kv_.num_blocks(), "block %d outside the KV storage of %d", block, kv_.num_blocks());
    state.block_tables[i % num_groups].push_back(block);
  }
}

void ModelRunner::drop_request(RequestId request_id) {
  if (requests_.erase(request_id) != 0 && spec_.proposer) spec_.proposer->drop_request(request_id);
}

void ModelRunner::update_states(const SchedulerOutput& out) {
  for (RequestId id : out.finished_request_ids) drop_request(id);
  for (RequestId id : out.preempted_request_ids) drop_request(id);
  for (const NewRequestData& r : out.new_requests) {
    drop_request(r.request_id);  // a resumed request starts over
    RequestState state{r.token_ids, {}, r.num_computed_tokens, Sampler(r.sampling_params, r.num_prompt_tokens),
                       SpecDepth(spec_.max_spec_tokens, spec_.adaptive), nullptr};
    if (r.sampling_params.grammar) {
      // A resumed request brings the tokens it generated before preemption: replay them.
      state.matcher = std::make_unique<grammar::GrammarMatcher>(r.sampling_params.grammar);
      for (size_t t = static_cast<size_t>(r.num_prompt_tokens); t < r.token_ids.size() && state.matcher; ++t) {
        if (state.matcher->is_terminated()) break;
        if (!state.matcher->accept_token(r.token_ids[t])) state.grammar_dead_end = true;  // it had ended there
      }
    }
    append_block_ids(state, r.block_ids, out.block_id_offset);
    requests_.emplace(r.request_id, std::move(state));
  }
  for (const CachedRequestData& r : out.cached_requests) {
    auto it = requests_.find(r.request_id);
    TS_CHECK(it != requests_.end(), "cached request %lld unknown to the runner", static_cast<long long>(r.request_id));
    RequestState& state = it->second;
    // Rejected drafts gave their tail blocks back (KvCacheManager::free_tail).
    for (std::vector<int32_t>& table : state.block_tables) {
      TS_CHECK(static_cast<int32_t>(table.size()) >= r.num_kept_block_entries, "request %lld keeps %d of %zu blocks",
               static_cast<long long>(r.request_id), r.num_kept_block_entries, table.size());
      table.resize(static_cast<size_t>(r.num_kept_block_entries));
    }
    append_block_ids(state, r.new_block_ids, out.block_id_offset);
    state.num_computed_tokens = r.num_computed_tokens;
  }
}

void ModelRunner::build_batch(const SchedulerOutput& out, StepSlot& step) {
  ForwardBatch& batch = step.batch;
  batch.clear();
  step.logit_row_of.assign(out.num_scheduled_tokens.size(), -1);
  // NOTE: scheduled order, never map order: a request may read prefix-cache blocks that an
  // earlier request in this very batch writes.
  for (size_t i = 0; i < out.num_scheduled_tokens.size(); ++i) {
    const ScheduledTokens& s = out.num_scheduled_tokens[i];
    RequestState& state = requests_.at(s.request_id);
    // Drafts ride at the end of the known tokens for this step; sample_request() takes them off.
    const std::vector<int32_t>& drafts = out.scheduled_spec_decode_tokens[i];
    TS_CHECK(static_cast<int32_t>(drafts.size()) == s.num_spec_tokens, "request %lld: %zu drafts, %d scheduled",
             static_cast<long long>(s.request_id), drafts.size(), s.num_spec_tokens);
    state.token_ids.insert(state.token_ids.end(), drafts.begin(), drafts.end());
    const int32_t start = state.num_computed_tokens;
    const int32_t end = start + s.num_tokens;
    TS_CHECK(end <= static_cast<int32_t>(state.token_ids.size()), "request %lld scheduled past its tokens",
             static_cast<long long>(s.request_id));
    // Logits at the last known token and at every draft: k + 1 positions to verify and sample.
    const int32_t num_logits = end == static_cast<int32_t>(state.token_ids.size()) ? 1 + s.num_spec_tokens : 0;
    if (num_logits > 0) step.logit_row_of[i] = static_cast<int32_t>(batch.logit_rows.size());
    const std::span<const int32_t> tokens(state.token_ids.data() + start, static_cast<size_t>(s.num_tokens));
    step.sequence_tables.assign(state.block_tables.begin(), state.block_tables.end());
    batch.add_sequence(tokens, start, step.sequence_tables, kv_.block_size(), num_logits);
  }
}

void ModelRunner::sample_request(const SchedulerOutput& out, StepSlot& step, size_t i, RunnerOutput& result) {
  RequestState& state = *step.scheduled_states[i];
  const int32_t num_drafts = out.num_scheduled_tokens[i].num_spec_tokens;
  const size_t vocab = static_cast<size_t>(model_.config().vocab_size);
  const size_t num_known = state.token_ids.size() - static_cast<size_t>(num_drafts);
  const int32_t num_top = state.sampler.params().logprobs;
  // Position j's logits saw the known tokens and drafts 0..j-1, so its history is the same
  // prefix; an accepted draft is already in place there, and the first rejection ends the run.
  int32_t num_accepted = 0;
  for (int32_t j = 0; j <= num_drafts; ++j) {
    const std::span<float> mutable_row(step.logits.data() + static_cast<size_t>(step.logit_row_of[i] + j) * vocab,
                                       vocab);
    // NOTE: masked in place (logprobs then describe what could be drawn): the row is this
    // request's alone, and a copy of 150k logits per token would cost as much as the mask.
    // NOTE: a matcher past its end (an end-of-generation draft was accepted) constrains nothing:
    // the scheduler ends the request at that token and drops what follows it.
    const bool constrained = state.matcher && !state.matcher->is_terminated();
    if (constrained) mask_row(state, mutable_row);
    const std::span<const float> row = mutable_row;
    const std::span<const int32_t> history(state.token_ids.data(), num_known + static_cast<size_t>(j));
    int32_t token = 0;
    bool accepted = false;
    if (j < num_drafts) {
      const DraftVerdict verdict = verify_draft_token(state.sampler.distribution(row, history),
                                                      state.token_ids[num_known + static_cast<size_t>(j)], {},
                                                      state.sampler.rng());
      token = verdict.token_id;
      accepted = verdict.accepted;
    } else {
      token = state.sampler.sample(row, history);
    }
    result.sampled_token_ids[i].push_back(token);
    // The row was masked, so the draw is allowed; a refusal is a grammar-engine bug.
    if (constrained && !state.grammar_dead_end && !state.matcher->accept_token(token)) {
      drop_grammar(state, out.num_scheduled_tokens[i].request_id);
    }
    if (num_top >= 0) result.logprobs[i].push_back(compute_logprobs(row, token, num_top));
    if (!accepted) break;
    ++num_accepted;
  }
  state.token_ids.resize(num_known);
  state.token_ids.insert(state.token_ids.end(), result.sampled_token_ids[i].begin(), result.sampled_token_ids[i].end());
  // The last known token and the accepted drafts now have KV; the new last token does not.
  state.num_computed_tokens = static_cast<int32_t>(num_known) + num_accepted;
  state.spec_depth.record(num_drafts, num_accepted);
}

void ModelRunner::drop_grammar(RequestState& state, RequestId request_id) {
  // NOTE: never reached with a correct grammar engine; if it is, the request goes on unconstrained
  // rather than taking the server down with it.
  std::fprintf(stderr, "tessera: request %lld left its grammar (a grammar-engine bug); it continues unconstrained\n",
               static_cast<long long>(request_id));
  state.matcher.reset();
}

void ModelRunner::mask_row(RequestState& state, std::span<float> row) const {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  // NOTE: thread_local on purpose: sample_request runs on pool workers, each with its own words.
  thread_local std::vector<uint32_t> words;
  words.assign((row.size() + 31) / 32, 0);
  if (!state.grammar_dead_end) {
    state.matcher->fill_next_token_bitmask(words);
    bool any = false;
    for (uint32_t allowed : words) any = any || allowed != 0;
    // A dead end: the vocabulary cannot write what the grammar needs next (a model without a "{"
    // token asked for JSON). The request ends at an end-of-generation token rather than write
    // text outside the grammar.
    state.grammar_dead_end = !any;
  }
  if (state.grammar_dead_end) {
    for (int32_t id : state.matcher->compiled().vocab().eog_ids()) {
      if (id >= 0 && size_t(id) < row.size()) words[size_t(id) / 32] |= 1u << (id % 32);
    }
  }
  for (size_t w = 0; w < words.size(); ++w) {
    const uint32_t allowed = words[w];
    if (allowed == 0xFFFFFFFFu) continue;
    const size_t base = w * 32;
    const size_t end = std::min(row.size(), base + 32);
    for (size_t id = base; id < end; ++id) {
      if (((allowed >> (id - base)) & 1u) == 0) row[id] = kNegInf;
    }
  }
}

void ModelRunner::launch(const SchedulerOutput& out, int32_t slot) {
  StepSlot& step = slot_at(slot);
  update_states(out);
  step.scheduled_states.clear();
  if (out.empty()) return;
  build_batch(out, step);

  const size_t vocab = static_cast<size_t>(model_.config().vocab_size);
  const size_t needed = step.batch.logit_rows.size() * vocab;
  if (step.logits.size() < needed) step.logits.resize(needed);
  model_.forward_launch(step.batch, kv_, step.logits.data(), execution_);
  for (const ScheduledTokens& s : out.num_scheduled_tokens) {
    RequestState& state = requests_.at(s.request_id);
    state.num_computed_tokens += s.num_tokens;
    step.scheduled_states.push_back(&state);
  }
}

RunnerOutput ModelRunner::collect(const SchedulerOutput& out, int32_t slot) {
  StepSlot& step = slot_at(slot);
  RunnerOutput result;
  const size_t num_scheduled = out.num_scheduled_tokens.size();
  result.sampled_token_ids.resize(num_scheduled);
  if (out.empty()) return result;
  TS_CHECK(step.scheduled_states.size() == num_scheduled, "slot %d collects %zu requests, launched %zu", slot,
           num_scheduled, step.scheduled_states.size());
  model_.forward_collect(step.batch, step.logits.data(), execution_);

  bool any_logprobs = false;
  for (size_t i = 0; i < num_scheduled; ++i) {
    const bool wants_logprobs = step.scheduled_states[i]->sampler.params().logprobs >= 0;
    any_logprobs = any_logprobs || (step.logit_row_of[i] >= 0 && wants_logprobs);
  }
  if (any_logprobs) result.logprobs.resize(num_scheduled);
  // Each request samples on its own (its sampler, RNG and history are its own), so the batch's
  // requests are spread over the pool: argmax or top-k / top-p over the whole vocabulary is
  // serial work per request that one thread did for all of them while the others waited.
  pool_.parallel_for_dynamic(static_cast<int64_t>(num_scheduled), 1, [&](int64_t begin, int64_t end, int) {
    for (size_t i = static_cast<size_t>(begin); i < static_cast<size_t>(end); ++i) {
      if (step.logit_row_of[i] >= 0) sample_request(out, step, i, result);
    }
  });
  if (spec_.proposer) propose(out, step, result);
  return result;
}

void ModelRunner::propose(const SchedulerOutput& out, const StepSlot& step, RunnerOutput& result) {
  const size_t num_scheduled = out.num_scheduled_tokens.size();
  result.spec_token_ids.resize(num_scheduled);
  // The step's load without its drafts: what the batch would cost if nobody speculated.
  int32_t num_step_tokens = out.total_num_scheduled_tokens;
  for (const ScheduledTokens& s : out.num_scheduled_tokens) num_step_tokens -= s.num_spec_tokens;
  proposals_.clear();
  for (size_t i = 0; i < num_scheduled; ++i) {
    if (step.logit_row_of[i] < 0) continue;
    const RequestState& state = *step.scheduled_states[i];
    const int32_t k = state.spec_depth.next_num_spec_tokens(num_step_tokens);
    if (k <= 0) continue;
    proposals_.push_back({out.num_scheduled_tokens[i].request_id, state.token_ids, k, &result.spec_token_ids[i]});
  }
  if (!proposals_.empty()) spec_.proposer->propose(proposals_, pool_);
}

}  // namespace tessera
