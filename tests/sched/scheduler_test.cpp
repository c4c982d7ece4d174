// Scheduler without a model (block_size 4): exact block ids, queue order, chunked prefill,
// decodes served before new prompts, prefix-cache sharing, stop conditions, admission errors and
// abort in every state. The fixture checks after every test that all blocks are back.
#include "sched/scheduler.h"

#include <gtest/gtest.h>

#include "scheduler_test_util.h"

namespace tessera::testing {
namespace {

std::vector<RequestId> scheduled_ids(const SchedulerOutput& output) {
  std::vector<RequestId> ids;
  for (const ScheduledTokens& s : output.num_scheduled_tokens) ids.push_back(s.request_id);
  return ids;
}

TEST_F(SchedulerTest, NewRequestGetsBlocksOneTwoThree) {
  start();
  add(make_params(1, 10, 4));
  const SchedulerOutput output = scheduler_->schedule();
  ASSERT_EQ(output.new_requests.size(), 1u);
  EXPECT_EQ(output.new_requests[0].block_ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(output.new_requests[0].num_computed_tokens, 0);
  EXPECT_EQ(output.new_requests[0].token_ids, tokens_from(1000, 10));
  EXPECT_EQ(output.num_scheduled_tokens_for(1), 10);
  EXPECT_EQ(output.total_num_scheduled_tokens, 10);
  EXPECT_TRUE(output.cached_requests.empty());
  const std::vector<RequestUpdate> updates =
      scheduler_->update_from_output(output, fake_runner_output(*scheduler_, output, 7));
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].new_token_ids, (std::vector<int32_t>{7}));
  EXPECT_EQ(updates[0].status, RequestStatus::kRunning);

  const SchedulerOutput decode = scheduler_->schedule();  // position 10 still fits block 3
  ASSERT_EQ(decode.cached_requests.size(), 1u);
  EXPECT_TRUE(decode.cached_requests[0].new_block_ids.empty());
  EXPECT_EQ(decode.cached_requests[0].num_computed_tokens, 10);
  EXPECT_EQ(decode.num_scheduled_tokens_for(1), 1);
}

TEST_F(SchedulerTest, AdmitsInArrivalOrderAndRunsOldestFirst) {
  start();
  for (RequestId request_id : {3, 1, 2}) add(make_params(request_id, 4, 4));
  const StepResult first = step();
  EXPECT_EQ(scheduled_ids(first.output), (std::vector<RequestId>{3, 1, 2}));
  EXPECT_EQ(first.output.new_requests[0].block_ids, (std::vector<int32_t>{1}));
  EXPECT_EQ(first.output.new_requests[1].block_ids, (std::vector<int32_t>{2}));
  EXPECT_EQ(first.output.new_requests[2].block_ids, (std::vector<int32_t>{3}));
  EXPECT_EQ(scheduler_->running_request_ids(), (std::vector<RequestId>{3, 1, 2}));
  EXPECT_EQ(scheduled_ids(step().output), (std::vector<RequestId>{3, 1, 2}));
  EXPECT_EQ(request(1).arrival_index(), 1);
}

TEST_F(SchedulerTest, MaxNumSeqsCapsRunningRequests) {
  SchedulerConfig config = toy_config();
  config.max_num_seqs = 2;
  start(config);
  for (RequestId request_id : {1, 2, 3}) add(make_params(request_id, 4, 2));
  EXPECT_EQ(scheduled_ids(step().output), (std::vector<RequestId>{1, 2}));
  EXPECT_EQ(scheduler_->waiting_request_ids(), (std::vector<RequestId>{3}));
  step();  // 1 and 2 reach max_tokens
  const StepResult third = step();
  EXPECT_EQ(scheduled_ids(third.output), (std::vector<RequestId>{3}));
  EXPECT_EQ(third.output.finished_request_ids, (std::vector<RequestId>{1, 2}));
  run_to_completion();
}

TEST_F(SchedulerTest, ChunksALongPromptOverSeveralSteps) {
  SchedulerConfig config = toy_config();
  config.max_num_batched_tokens = 4;
  start(config);
  add(make_params(1, 10, 2));
  StepResult s = step();
  EXPECT_EQ(s.output.new_requests[0].block_ids, (std::vector<int32_t>{1}));
  EXPECT_EQ(s.output.num_scheduled_tokens_for(1), 4);
  EXPECT_TRUE(s.updates[0].new_token_ids.empty());  // mid-prompt: nothing sampled
  s = step();
  EXPECT_EQ(s.output.cached_requests[0].new_block_ids, (std::vector<int32_t>{2}));
  EXPECT_EQ(s.output.cached_requests[0].num_computed_tokens, 4);
  EXPECT_EQ(s.output.num_scheduled_tokens_for(1), 4);
  s = step();
  EXPECT_EQ(s.output.cached_requests[0].new_block_ids, (std::vector<int32_t>{3}));
  EXPECT_EQ(s.output.num_scheduled_tokens_for(1), 2);
  EXPECT_EQ(s.updates[0].new_token_ids, (std::vector<int32_t>{7}));  // the prompt is done: first token
  s = step();
  EXPECT_EQ(s.output.num_scheduled_tokens_for(1), 1);
  EXPECT_EQ(s.updates[0].status, RequestStatus::kFinishedLength);
}

TEST_F(SchedulerTest, DecodesAreNotStarvedByALongPrompt) {
  SchedulerConfig config = toy_config();
  config.max_num_batched_tokens = 8;
  start(config);
  add(make_params(1, 4, 10));
  step();
  add(make_params(2, 40, 1));
  for (int32_t i = 0; i < 5; ++i) {
    const StepResult s = step();
    EXPECT_EQ(scheduled_ids(s.output), (std::vector<RequestId>{1, 2}));
    EXPECT_EQ(s.output.num_scheduled_tokens_for(1), 1);
    EXPECT_EQ(s.output.num_scheduled_tokens_for(2), 7);
    EXPECT_EQ(outputs_[1].size(), static_cast<size_t>(i + 2));  // the decode gains a token every step
  }
  run_to_completion();
}

TEST_F(SchedulerTest, LongPrefillThresholdCapsTokensPerRequest) {
  SchedulerConfig config = toy_config();
  config.long_prefill_token_threshold = 3;
  start(config);
  add(make_params(1, 10, 1));
  add(make_params(2, 10, 1));
  const StepResult s = step();
  EXPECT_EQ(s.output.num_scheduled_tokens_for(1), 3);
  EXPECT_EQ(s.output.num_scheduled_tokens_for(2), 3);
  run_to_completion();
}

TEST_F(SchedulerTest, HeadOfTheWaitingQueueIsNotOvertaken) {
  SchedulerConfig config = toy_config();
  config.num_blocks = 5;  // 4 usable
  start(config);
  add(make_params(1, 8, 4));   // blocks 1, 2
  add(make_params(2, 12, 1));  // needs 3 blocks, 2 free
  add(make_params(3, 4, 1));   // would fit, but waits behind 2
  EXPECT_EQ(scheduled_ids(step().output), (std::vector<RequestId>{1}));
  EXPECT_EQ(scheduler_->waiting_request_ids(), (std::vector<RequestId>{2, 3}));
  run_to_completion();
}

TEST_F(SchedulerTest, SamePromptTwiceInOneStepSharesFullBlocks) {
  start();
  RequestParams second = make_params(2, 9, 2);
  RequestParams first = make_params(1, 9, 2);
  second.prompt_token_ids = first.prompt_token_ids;  // n = 2 on one prompt
  add(first);
  add(second);
  const StepResult s = step();
  EXPECT_EQ(s.output.new_requests[0].block_ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(s.output.new_requests[1].block_ids, (std::vector<int32_t>{1, 2, 4}));
  EXPECT_EQ(s.output.new_requests[1].num_computed_tokens, 8);
  EXPECT_EQ(s.output.num_scheduled_tokens_for(2), 1);
  EXPECT_EQ(scheduled_ids(s.output), (std::vector<RequestId>{1, 2}));  // the writer runs before the reader
  EXPECT_EQ(ref_cnt(1), 2);
  EXPECT_EQ(ref_cnt(2), 2);
  run_to_completion();
}

TEST_F(SchedulerTest, LaterRequestReusesTheBlocksOfAFinishedOne) {
  start();
  add(make_params(1, 9, 1));
  step();
  EXPECT_EQ(finished_[1], RequestStatus::kFinishedLength);
  RequestParams follow_up = make_params(2, 11, 1);
  std::copy_n(tokens_from(1000, 8).begin(), 8, follow_up.prompt_token_ids.begin());  // shares 2 blocks
  add(follow_up);
  const StepResult s = step();
  EXPECT_EQ(s.output.new_requests[0].block_ids, (std::vector<int32_t>{1, 2, 4}));
  EXPECT_EQ(s.output.new_requests[0].num_computed_tokens, 8);
  EXPECT_EQ(s.output.num_scheduled_tokens_for(2), 3);
  EXPECT_EQ(scheduler_->kv_cache_manager().prefix_cache_stats().num_hit_tokens, 8);
}

TEST_F(SchedulerTest, PrefixCachingOffComputesEveryToken) {
  SchedulerConfig config = toy_config();
  config.enable_prefix_caching = false;
  start(config);
  add(make_params(1, 9, 1));
  RequestParams twin = make_params(2, 9, 1);
  twin.prompt_token_ids = tokens_from(1000, 9);
  add(twin);
  const StepResult s = step();
  EXPECT_EQ(s.output.new_requests[1].block_ids, (std::vector<int32_t>{4, 5, 6}));
  EXPECT_EQ(s.output.new_requests[1].num_computed_tokens, 0);
}

TEST_F(SchedulerTest, StopsOnAStopTokenAndKeepsIt) {
  start();
  RequestParams params = make_params(1, 4, 10);
  params.stop_token_ids = std::make_shared<const std::vector<int32_t>>(std::vector<int32_t>{9, 7});
  add(params);
  const StepResult s = step(7);
  EXPECT_EQ(s.updates[0].status, RequestStatus::kFinishedStopped);
  EXPECT_EQ(outputs_[1], (std::vector<int32_t>{7}));
  EXPECT_EQ(scheduler_->find_request(1), nullptr);
}

TEST_F(SchedulerTest, StopsOnEosUnlessIgnored) {
  start();
  RequestParams stops = make_params(1, 4, 3);
  stops.eog_token_ids = {7};
  RequestParams ignores = make_params(2, 4, 3);
  ignores.eog_token_ids = {7};
  ignores.ignore_eos = true;
  add(stops);
  add(ignores);
  run_to_completion();
  EXPECT_EQ(finished_[1], RequestStatus::kFinishedStopped);
  EXPECT_EQ(outputs_[1].size(), 1u);
  EXPECT_EQ(finished_[2], RequestStatus::kFinishedLength);
  EXPECT_EQ(outputs_[2], (std::vector<int32_t>{7, 7, 7}));
}

TEST_F(SchedulerTest, StopsOnAnEndOfTurnIdThatIsNotEos) {
  // Llama 3 style: EOS <|end_of_text|> = 2, end of turn <|eot_id|> = 9; the chat model emits 9.
  start();
  RequestParams chat = make_params(1, 4, 5);
  chat.eog_token_ids = {2, 9};
  RequestParams ignores = make_params(2, 4, 2);
  ignores.eog_token_ids = {2, 9};
  ignores.ignore_eos = true;
  add(chat);
  add(ignores);
  const StepResult s = step(9);
  ASSERT_EQ(s.updates.size(), 2u);
  EXPECT_EQ(finished_[1], RequestStatus::kFinishedStopped);
  EXPECT_EQ(outputs_[1], (std::vector<int32_t>{9}));  // the end-of-turn id is kept as output
  EXPECT_EQ(scheduler_->find_request(1), nullptr);
  EXPECT_NE(scheduler_->find_request(2), nullptr);  // ignore_eos covers every end-of-generation id
  step(9);
  EXPECT_EQ(finished_[2], RequestStatus::kFinishedLength);
  EXPECT_EQ(outputs_[2], (std::vector<int32_t>{9, 9}));
}

TEST_F(SchedulerTest, RejectsRequestsThatCouldNeverRun) {
  SchedulerConfig config = toy_config();
  config.num_blocks = 5;  // 4 usable blocks: 16 KV slots
  start(config);
  EXPECT_EQ(scheduler_->add_request(make_params(1, 0, 1)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler_->add_request(make_params(1, 4, 0)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler_->add_request(make_params(1, 60, 10)).code(), StatusCode::kOutOfRange);
  const Status too_big = scheduler_->add_request(make_params(1, 16, 2));  // 17 slots
  EXPECT_EQ(too_big.code(), StatusCode::kOutOfRange) << "never fits: not a retryable kResourceExhausted";
  EXPECT_NE(too_big.message().find("needs 5 KV blocks"), std::string::npos) << too_big.message();
  EXPECT_FALSE(scheduler_->has_unfinished_requests());
  EXPECT_TRUE(scheduler_->add_request(make_params(1, 16, 1)).ok());  // 16 slots: the whole pool
  EXPECT_EQ(scheduler_->add_request(make_params(1, 4, 1)).code(), StatusCode::kInvalidArgument);  // id in use
  run_to_completion();
}

TEST_F(SchedulerTest, AbortsAWaitingRequest) {
  start();
  add(make_params(1, 4, 4));
  EXPECT_TRUE(scheduler_->abort_request(1).ok());
  EXPECT_EQ(scheduler_->num_waiting_requests(), 0);
  EXPECT_EQ(scheduler_->schedule().finished_request_ids, (std::vector<RequestId>{1}));
  EXPECT_EQ(scheduler_->abort_request(1).code(), StatusCode::kNotFound);
}

TEST_F(SchedulerTest, AbortsMidPrefill) {
  SchedulerConfig config = toy_config();
  config.max_num_batched_tokens = 4;
  start(config);
  add(make_params(1, 10, 4));
  step();
  EXPECT_EQ(request(1).num_computed_tokens(), 4);
  EXPECT_TRUE(scheduler_->abort_request(1).ok());
  EXPECT_EQ(scheduler_->kv_cache_manager().block_pool().get_num_free_blocks(), config.num_blocks - 1);
  const SchedulerOutput next = scheduler_->schedule();
  EXPECT_TRUE(next.empty());
  EXPECT_EQ(next.finished_request_ids, (std::vector<RequestId>{1}));
}

TEST_F(SchedulerTest, AbortsARunningDecode) {
  start();
  add(make_params(1, 4, 8));
  add(make_params(2, 4, 8));
  step();
  step();
  EXPECT_TRUE(scheduler_->abort_request(1).ok());
  EXPECT_EQ(scheduler_->running_request_ids(), (std::vector<RequestId>{2}));
  EXPECT_EQ(scheduled_ids(step().output), (std::vector<RequestId>{2}));
  run_to_completion();
  EXPECT_EQ(finished_.count(1), 0u);  // an abort is not reported as a step's update
}

TEST_F(SchedulerTest, AbortBetweenScheduleAndUpdateDropsItsTokens) {
  start();
  add(make_params(1, 4, 8));
  add(make_params(2, 4, 8));
  const SchedulerOutput output = scheduler_->schedule();
  const RunnerOutput runner_output = fake_runner_output(*scheduler_, output, 7);
  EXPECT_TRUE(scheduler_->abort_request(1).ok());
  const std::vector<RequestUpdate> updates = scheduler_->update_from_output(output, runner_output);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].request_id, 2);
}

}  // namespace
}  // namespace tessera::testing
