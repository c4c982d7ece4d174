// Preemption under a tiny pool (block_size 4, 4 usable blocks): the newest running request goes
// first, it is recomputed later with its outputs kept, and a long random-ish workload always
// finishes with consistent block tables and no leaked blocks.
#include <gtest/gtest.h>

#include <map>

#include "scheduler_test_util.h"

namespace tessera::testing {
namespace {

SchedulerConfig tiny_pool_config() {
  SchedulerConfig config = toy_config();
  config.num_blocks = 5;  // 4 usable
  return config;
}

TEST_F(SchedulerTest, PreemptsTheNewestRunningRequestFirst) {
  start(tiny_pool_config());
  for (RequestId request_id : {1, 2, 3}) add(make_params(request_id, 3, 3));
  StepResult s = step();  // blocks 1, 2, 3
  EXPECT_EQ(s.output.new_requests[2].block_ids, (std::vector<int32_t>{3}));
  step();  // position 3 fits every first block
  s = step();  // position 4 needs a second block each: only one is free
  EXPECT_EQ(s.output.preempted_request_ids, (std::vector<RequestId>{3}));
  ASSERT_EQ(s.output.cached_requests.size(), 2u);
  EXPECT_EQ(s.output.cached_requests[0].new_block_ids, (std::vector<int32_t>{4}));
  EXPECT_EQ(s.output.cached_requests[1].new_block_ids, (std::vector<int32_t>{3}));  // taken from request 3
  EXPECT_TRUE(s.output.new_requests.empty());
  const Request& preempted = request(3);
  EXPECT_EQ(preempted.status(), RequestStatus::kPreempted);
  EXPECT_EQ(preempted.num_computed_tokens(), 0);
  EXPECT_EQ(preempted.num_preemptions(), 1);
  EXPECT_EQ(preempted.num_output_tokens(), 2);
  EXPECT_EQ(scheduler_->waiting_request_ids(), (std::vector<RequestId>{3}));
  EXPECT_EQ(finished_[1], RequestStatus::kFinishedLength);
  EXPECT_EQ(finished_[2], RequestStatus::kFinishedLength);

  // Resumed: it comes back as a new request and recomputes prompt and outputs in one go.
  s = step();
  ASSERT_EQ(s.output.new_requests.size(), 1u);
  const NewRequestData& resumed = s.output.new_requests[0];
  EXPECT_EQ(resumed.request_id, 3);
  EXPECT_EQ(resumed.token_ids.size(), 5u);
  EXPECT_EQ(resumed.num_computed_tokens, 0);
  EXPECT_EQ(resumed.block_ids, (std::vector<int32_t>{4, 1}));  // freed tail-first by 1, then 2
  EXPECT_EQ(s.output.num_scheduled_tokens_for(3), 5);
  EXPECT_EQ(finished_[3], RequestStatus::kFinishedLength);
  EXPECT_EQ(outputs_[3].size(), 3u);
}

TEST_F(SchedulerTest, RequestPreemptsItselfWhenItIsTheNewest) {
  start(tiny_pool_config());
  add(make_params(1, 6, 4));  // blocks 1, 2 with room for two more tokens
  add(make_params(2, 8, 4));  // blocks 3, 4, both full
  step();
  const StepResult s = step();  // request 2 needs a fifth block; it is the newest, so it yields
  EXPECT_EQ(s.output.preempted_request_ids, (std::vector<RequestId>{2}));
  EXPECT_EQ(s.output.num_scheduled_tokens.size(), 1u);
  EXPECT_EQ(s.output.num_scheduled_tokens_for(1), 1);
  EXPECT_EQ(scheduler_->running_request_ids(), (std::vector<RequestId>{1}));
  EXPECT_EQ(scheduler_->waiting_request_ids(), (std::vector<RequestId>{2}));
  run_to_completion();
  EXPECT_EQ(outputs_[1].size(), 4u);
  EXPECT_EQ(outputs_[2].size(), 4u);
}

TEST_F(SchedulerTest, AbortsAPreemptedRequest) {
  start(tiny_pool_config());
  add(make_params(1, 6, 4));
  add(make_params(2, 8, 4));
  step();
  step();
  ASSERT_EQ(request(2).status(), RequestStatus::kPreempted);
  EXPECT_TRUE(scheduler_->abort_request(2).ok());
  EXPECT_TRUE(scheduler_->waiting_request_ids().empty());
  run_to_completion();
}

// The runner's view of the contract: it tracks each request's block table from the deltas alone
// and checks that every scheduled token has a slot.
class FakeRunner {
 public:
  void apply(const SchedulerOutput& output) {
    for (RequestId request_id : output.finished_request_ids) tables_.erase(request_id);
    for (RequestId request_id : output.preempted_request_ids) tables_.erase(request_id);
    for (const NewRequestData& data : output.new_requests) {
      EXPECT_FALSE(tables_.contains(data.request_id));
      tables_[data.request_id] = data.block_ids;
    }
    for (const CachedRequestData& data : output.cached_requests) {
      ASSERT_TRUE(tables_.contains(data.request_id));
      std::vector<int32_t>& table = tables_[data.request_id];
      table.insert(table.end(), data.new_block_ids.begin(), data.new_block_ids.end());
    }
    int32_t total = 0;
    for (const ScheduledTokens& s : output.num_scheduled_tokens) {
      EXPECT_GT(s.num_tokens, 0);
      total += s.num_tokens;
    }
    EXPECT_EQ(total, output.total_num_scheduled_tokens);
  }
  const std::vector<int32_t>& table(RequestId request_id) { return tables_.at(request_id); }

 private:
  std::map<RequestId, std::vector<int32_t>> tables_;
};

TEST_F(SchedulerTest, ManyRequestsUnderATinyPoolAllFinishWithConsistentTables) {
  SchedulerConfig config = toy_config();
  config.num_blocks = 12;
  config.max_num_batched_tokens = 16;
  config.max_num_seqs = 4;
  start(config);
  std::map<RequestId, int32_t> max_tokens;
  for (RequestId request_id = 1; request_id <= 20; ++request_id) {
    RequestParams params = make_params(request_id, static_cast<int32_t>(request_id * 7 % 17 + 1),
                                       static_cast<int32_t>(request_id * 5 % 9 + 1));
    if (request_id % 2 == 0 && params.prompt_token_ids.size() > 8) {
      std::copy_n(tokens_from(0, 8).begin(), 8, params.prompt_token_ids.begin());  // a shared prefix
    }
    max_tokens[request_id] = params.max_tokens;
    add(params);
  }
  FakeRunner runner;
  int32_t num_preemptions = 0;
  for (int32_t num_steps = 0; scheduler_->has_unfinished_requests(); ++num_steps) {
    ASSERT_LT(num_steps, 2000) << "no progress";
    const SchedulerOutput output = scheduler_->schedule();
    runner.apply(output);
    num_preemptions += static_cast<int32_t>(output.preempted_request_ids.size());
    for (const ScheduledTokens& s : output.num_scheduled_tokens) {
      const Request& r = request(s.request_id);  // already advanced by schedule()
      EXPECT_LE(r.num_computed_tokens(), r.num_tokens());
      EXPECT_GE(static_cast<int32_t>(runner.table(s.request_id).size()) * config.block_size, r.num_computed_tokens());
      EXPECT_EQ(runner.table(s.request_id), scheduler_->kv_cache_manager().get_block_ids(s.request_id));
    }
    for (const RequestUpdate& update : scheduler_->update_from_output(output, fake_runner_output(*scheduler_, output, 7))) {
      if (is_finished(update.status)) finished_[update.request_id] = update.status;
      outputs_[update.request_id].insert(outputs_[update.request_id].end(), update.new_token_ids.begin(),
                                         update.new_token_ids.end());
    }
  }
  EXPECT_GT(num_preemptions, 0) << "the workload should exercise preemption";
  EXPECT_GT(scheduler_->kv_cache_manager().prefix_cache_stats().num_hit_tokens, 0);
  for (const auto& [request_id, num_max_tokens] : max_tokens) {
    EXPECT_EQ(finished_[request_id], RequestStatus::kFinishedLength) << request_id;
    EXPECT_EQ(outputs_[request_id].size(), static_cast<size_t>(num_max_tokens)) << request_id;
  }
}

}  // namespace
}  // namespace tessera::testing
