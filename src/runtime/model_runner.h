// ModelRunner: the worker side of the scheduler/worker split. Keeps each running request's token
// ids, block table and Sampler; turns one SchedulerOutput into one ForwardBatch, runs the model
// and samples. With speculative decoding it also verifies the scheduled draft tokens (rejection
// sampling over the k + 1 positions' logits) and asks its Proposer for the next drafts. Knows
// nothing about queues, budgets or how blocks were chosen.
// Under pipeline parallelism a step is launched and collected apart (launch / collect), so that
// up to one step per slot (the engine's virtual engines) runs at once; execute() is both at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "base/thread_pool.h"
#include "grammar/grammar_matcher.h"
#include "model/forward_batch.h"
#include "model/kv_storage.h"
#include "model/model.h"
#include "sampling/sampler.h"
#include "sched/scheduler_output.h"
#include "spec/proposer.h"
#include "spec/spec_depth.h"

namespace tessera {

// Speculative decoding as the runner runs it.
struct RunnerSpecConfig {
  std::unique_ptr<Proposer> proposer;  // null: no speculation
  int32_t max_spec_tokens = 0;         // drafts per request per step at most (fixed k, or the adaptive ceiling)
  bool adaptive = false;               // SpecDepth's rule picks k per request and step
};

class ModelRunner {
 public:
  // `model`, `kv` and `pool` are borrowed and must outlive the runner. num_slots: steps that may
  // be in flight at once (launched, not yet collected), one per virtual engine.
  ModelRunner(Model& model, KvStorage& kv, ThreadPool& pool, RunnerSpecConfig spec = {}, int32_t num_slots = 1);

  // Runs one step. Returns one entry per scheduled request, in scheduled order.
  RunnerOutput execute(const SchedulerOutput& scheduler_output) {
    launch(scheduler_output, 0);
    return collect(scheduler_output, 0);
  }
  // The two halves of execute(): launch takes the step's request updates, lays out its batch and
  // starts the forward pass (Model::forward_launch); collect finishes it and samples. Between
  // them other slots' steps may be launched or collected, each of requests no other slot holds;
  // a slot's steps are collected in launch order, with the same SchedulerOutput, which must stay
  // unchanged in between. launch runs even when nothing is scheduled (finished requests' state is
  // dropped then).
  void launch(const SchedulerOutput& scheduler_output, int32_t slot);
  RunnerOutput collect(const SchedulerOutput& scheduler_output, int32_t slot);

  int32_t num_requests() const { return static_cast<int32_t>(requests_.size()); }
  bool has_request(RequestId request_id) const { return requests_.count(request_id) != 0; }

 private:
  struct RequestState {
    std::vector<int32_t> token_ids;  // prompt then every sampled token (drafts only while a step runs)
    // [num_kv_groups] block tables: position p lives in block_tables[g][p / block_size]
    std::vector<std::vector<int32_t>> block_tables;
    int32_t num_computed_tokens = 0; // tokens whose KV is written (after the last executed step)
    Sampler sampler;                 // per-request RNG and scratch
    SpecDepth spec_depth;            // drafts to ask for next
    // Structured output: where the request stands in its grammar (after its last sampled token);
    // null when unconstrained.
    std::unique_ptr<grammar::GrammarMatcher> matcher;
    bool grammar_dead_end = false;   // the vocabulary could not continue the grammar: EOG only
  };
  // What one step in flight needs from its launch to its collect (one per slot).
  struct StepSlot {
    ForwardBatch batch;                 // rebuilt each step, capacity reused
    std::vector<std::span<const int32_t>> sequence_tables;  // [num_kv_groups] one sequence's tables
    std::vector<int32_t> logit_row_of;  // [num scheduled] first row in logits of each request, -1 = none
    std::vector<RequestState*> scheduled_states;  // [num scheduled] each request's state, for sampling
    std::vector<float> logits;          // [num logit rows, vocab_size] f32, grown on demand
  };
  void update_states(const SchedulerOutput& scheduler_output);
  void drop_request(RequestId request_id);
  // Appends block-major ids (num_kv_groups per block, as the KV cache manager hands them out),
  // moved by `block_id_offset` from the scheduler's pool into the KV storage (SchedulerOutput).
  void append_block_ids(RequestState& state, const std::vector<int32_t>& block_ids, int32_t block_id_offset) const;
  // Lays out the scheduled requests in scheduled order into the slot's batch and logit_row_of.
  void build_batch(const SchedulerOutput& scheduler_output, StepSlot& step);
  // Samples request i of the step (its drafts verified first) into result.
  void sample_request(const SchedulerOutput& scheduler_output, StepSlot& step, size_t i, RunnerOutput& result);
  // Sets every logit of `row` the request's grammar forbids next to -inf (at a dead end, every
  // logit but the end-of-generation ids').
  void mask_row(RequestState& state, std::span<float> row) const;
  // Ends a request's grammar (it continues unconstrained) after the engine broke its contract.
  static void drop_grammar(RequestState& state, RequestId request_id);
  // Asks the proposer for the next drafts of every request that sampled.
  void propose(const SchedulerOutput& scheduler_output, const StepSlot& step, RunnerOutput& result);
  StepSlot& slot_at(int32_t slot);

  Model& model_;
  KvStorage& kv_;
  ThreadPool& pool_;
  kernels::ExecutionContext execution_;  // runs the forward passes on pool_
  RunnerSpecConfig spec_;
  // Every request the schedulers have running. Ids are unique across virtual engines (the engine
  // hands them out), so one map serves every slot; a slot's step touches only its own requests.
  std::unordered_map<RequestId, RequestState> requests_;
  std::vector<StepSlot> slots_;
  std::vector<ProposalRequest> proposals_;  // scratch of propose()
};

}  // namespace tessera
