// Chunked prefill, decode first (block_size 4): every running decode is scheduled before any
// prompt chunk, a step never runs more tokens than the budget, a prompt chunk short of blocks
// waits instead of preempting a decode, a long prompt finishes while decodes keep arriving, and
// exact schedules on small cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "scheduler_test_util.h"

namespace tessera::testing {
namespace {

// (request id, tokens) in the order the runner lays them out.
using Schedule = std::vector<std::pair<RequestId, int32_t>>;

Schedule schedule_of(const SchedulerOutput& output) {
  Schedule schedule;
  for (const ScheduledTokens& s : output.num_scheduled_tokens) schedule.emplace_back(s.request_id, s.num_tokens);
  return schedule;
}

TEST_F(SchedulerTest, DecodesFirstThenOldestPromptChunkThenAdmissions) {
  SchedulerConfig config = toy_config();
  config.max_num_batched_tokens = 8;
  config.long_prefill_token_threshold = 4;
  start(config);
  add(make_params(1, 10, 2));  // a prompt in three chunks
  add(make_params(2, 2, 3));   // short: decodes from step 2 on
  EXPECT_EQ(schedule_of(step().output), (Schedule{{1, 4}, {2, 2}}));
  add(make_params(3, 5, 1));
  // Request 2 decodes ahead of the older request 1's chunk; the newcomer gets what is left.
  EXPECT_EQ(schedule_of(step().output), (Schedule{{2, 1}, {1, 4}, {3, 3}}));
  EXPECT_EQ(schedule_of(step().output), (Schedule{{2, 1}, {1, 2}, {3, 2}}));
  EXPECT_EQ(finished_[2], RequestStatus::kFinishedLength);
  EXPECT_EQ(finished_[3], RequestStatus::kFinishedLength);
  EXPECT_EQ(schedule_of(step().output), (Schedule{{1, 1}}));
  EXPECT_EQ(finished_[1], RequestStatus::kFinishedLength);
  EXPECT_FALSE(scheduler_->has_unfinished_requests());
}

TEST_F(SchedulerTest, APromptChunkShortOfBlocksWaitsInsteadOfPreemptingADecode) {
  SchedulerConfig config = toy_config();
  config.num_blocks = 4;  // 3 usable
  config.max_num_batched_tokens = 8;
  config.long_prefill_token_threshold = 4;
  start(config);
  add(make_params(1, 12, 1));  // 3 blocks: the whole pool
  add(make_params(2, 2, 3));   // 1 block
  EXPECT_EQ(schedule_of(step().output), (Schedule{{1, 4}, {2, 2}}));
  EXPECT_EQ(schedule_of(step().output), (Schedule{{2, 1}, {1, 4}}));
  // Request 1's last chunk needs a third block; the only one is request 2's, which decodes.
  const StepResult blocked = step();
  EXPECT_EQ(schedule_of(blocked.output), (Schedule{{2, 1}}));
  EXPECT_TRUE(blocked.output.preempted_request_ids.empty());
  EXPECT_EQ(request(1).num_computed_tokens(), 8);  // kept its KV
  EXPECT_EQ(finished_[2], RequestStatus::kFinishedLength);
  EXPECT_EQ(schedule_of(step().output), (Schedule{{1, 4}}));  // request 2's block is free now
  EXPECT_EQ(finished_[1], RequestStatus::kFinishedLength);
}

TEST_F(SchedulerTest, DraftsRideWithTheirDecodeAheadOfAnOlderPromptChunk) {
  SchedulerConfig config = toy_config();
  config.max_num_batched_tokens = 8;
  config.long_prefill_token_threshold = 6;
  start(config);
  add(make_params(1, 20, 1));
  add(make_params(2, 2, 10));
  SchedulerOutput out = scheduler_->schedule();
  EXPECT_EQ(schedule_of(out), (Schedule{{1, 6}, {2, 2}}));
  RunnerOutput runner = fake_runner_output(*scheduler_, out, 7);
  runner.spec_token_ids = {{}, {7, 7, 7}};  // request 2 proposes 3 drafts
  scheduler_->update_from_output(out, runner);
  out = scheduler_->schedule();
  EXPECT_EQ(schedule_of(out), (Schedule{{2, 4}, {1, 4}}));  // 1 + 3 drafts, then the rest of the budget
  EXPECT_EQ(out.num_scheduled_tokens[0].num_spec_tokens, 3);
  scheduler_->update_from_output(out, fake_runner_output(*scheduler_, out, 7));
}

TEST_F(SchedulerTest, DraftsNeverCrowdANewerDecodeOutOfTheStep) {
  SchedulerConfig config = toy_config();
  config.max_num_batched_tokens = 8;
  start(config);
  for (RequestId request_id : {1, 2, 3, 4}) add(make_params(request_id, 1, 20));
  SchedulerOutput out = scheduler_->schedule();
  EXPECT_EQ(schedule_of(out), (Schedule{{1, 1}, {2, 1}, {3, 1}, {4, 1}}));
  RunnerOutput runner = fake_runner_output(*scheduler_, out, 7);
  runner.spec_token_ids.assign(4, std::vector<int32_t>(7, 7));  // each proposes 7 drafts
  scheduler_->update_from_output(out, runner);
  out = scheduler_->schedule();
  // 8 tokens: one for each of the 4 decodes, the 4 others as the oldest one's drafts.
  EXPECT_EQ(schedule_of(out), (Schedule{{1, 5}, {2, 1}, {3, 1}, {4, 1}}));
  EXPECT_EQ(out.num_scheduled_tokens[0].num_spec_tokens, 4);
  scheduler_->update_from_output(out, fake_runner_output(*scheduler_, out, 7));
}

TEST_F(SchedulerTest, ALongPromptFinishesWhileDecodesTakeMostOfTheBudget) {
  SchedulerConfig config = toy_config();
  config.num_blocks = 64;
  config.max_num_batched_tokens = 8;
  start(config);
  RequestId next_id = 100;
  for (int32_t i = 0; i < 6; ++i) add(make_params(next_id++, 1, 30));  // 6 decodes for 30 steps
  add(make_params(1, 40, 2));
  int32_t num_steps = 0;
  while (!finished_.contains(1)) {
    ASSERT_LT(num_steps, 40) << "the long prompt starves";
    if (scheduler_->num_waiting_requests() < 4) add(make_params(next_id++, 1, 4));  // newcomers keep arriving
    const bool in_prompt = num_steps < 20;
    const StepResult s = step();
    ++num_steps;
    if (in_prompt) {
      // The decodes take 6 of the 8 tokens; the prompt gets the other 2; newcomers wait behind it.
      EXPECT_EQ(s.output.num_scheduled_tokens_for(1), 2) << "step " << num_steps;
      EXPECT_EQ(s.output.total_num_scheduled_tokens, 8) << "step " << num_steps;
      EXPECT_EQ(s.output.new_requests.size(), num_steps == 1 ? 7u : 0u) << "step " << num_steps;
    }
  }
  EXPECT_EQ(num_steps, 21);  // 20 chunks of 2, the first output with the last chunk, the second next step
  EXPECT_EQ(outputs_[1].size(), 2u);
  run_to_completion();
}

// A random workload (prompt lengths, max_tokens, arrivals, a tight pool, a per-request chunk cap):
// in every step each request that decoded going in is scheduled unless preempted, all decodes come
// before every prompt chunk, the tokens add up to total_num_scheduled_tokens <= the budget, and
// everything finishes.
TEST_F(SchedulerTest, RandomWorkloadKeepsDecodeFirstAndTheBudget) {
  for (const int32_t threshold : {0, 5}) {
    SchedulerConfig config = toy_config();
    config.num_blocks = 24;
    config.max_num_batched_tokens = 12;
    config.max_num_seqs = 6;
    config.long_prefill_token_threshold = threshold;
    start(config);
    outputs_.clear();
    finished_.clear();
    std::mt19937 rng(1234 + static_cast<uint32_t>(threshold));
    RequestId next_id = 1;
    int32_t num_steps = 0;
    while (next_id <= 40 || scheduler_->has_unfinished_requests()) {
      ASSERT_LT(num_steps, 3000) << "no progress";
      if (next_id <= 40 && rng() % 2 == 0) {
        add(make_params(next_id++, static_cast<int32_t>(rng() % 30 + 1), static_cast<int32_t>(rng() % 8 + 1)));
      }
      std::set<RequestId> decoding;
      for (RequestId id : scheduler_->running_request_ids()) {
        if (request(id).num_tokens() - request(id).num_computed_tokens() == 1) decoding.insert(id);
      }
      const StepResult s = step();
      ++num_steps;
      const std::set<RequestId> preempted(s.output.preempted_request_ids.begin(), s.output.preempted_request_ids.end());
      int32_t total = 0;
      bool seen_chunk = false;
      for (const ScheduledTokens& t : s.output.num_scheduled_tokens) {
        total += t.num_tokens;
        if (decoding.contains(t.request_id)) {
          EXPECT_FALSE(seen_chunk) << "step " << num_steps << ": decode " << t.request_id << " after a prompt chunk";
        } else {
          seen_chunk = true;
        }
      }
      EXPECT_EQ(total, s.output.total_num_scheduled_tokens);
      EXPECT_LE(total, config.max_num_batched_tokens);
      for (RequestId id : decoding) {
        if (!preempted.contains(id)) {
          EXPECT_EQ(s.output.num_scheduled_tokens_for(id), 1) << "step " << num_steps << ": decode " << id;
        }
      }
    }
    EXPECT_EQ(finished_.size(), 40u) << "threshold " << threshold;
    for (const auto& [id, status] : finished_) EXPECT_EQ(status, RequestStatus::kFinishedLength) << id;
  }
}

}  // namespace
}  // namespace tessera::testing
