// Scheduler with draft tokens (speculative decoding): drafts are scheduled after the last known
// token within budget and max_tokens, only accepted drafts become computed tokens, and the blocks
// that held rejected drafts go back to the pool.
#include <gtest/gtest.h>

#include "sched/scheduler_test_util.h"

namespace tessera {
namespace {

using testing::make_params;
using testing::toy_config;

// One step: the runner accepts `num_accepted` of the scheduled drafts, then adds `bonus`, and
// proposes `next_drafts`.
std::vector<RequestUpdate> verify_step(Scheduler& scheduler, const SchedulerOutput& out, int32_t num_accepted,
                                       int32_t bonus, const std::vector<int32_t>& next_drafts) {
  RunnerOutput runner;
  for (size_t i = 0; i < out.num_scheduled_tokens.size(); ++i) {
    const std::vector<int32_t>& drafts = out.scheduled_spec_decode_tokens[i];
    std::vector<int32_t> sampled(drafts.begin(), drafts.begin() + std::min<size_t>(drafts.size(), num_accepted));
    sampled.push_back(bonus);
    runner.sampled_token_ids.push_back(sampled);
    runner.spec_token_ids.push_back(next_drafts);
  }
  return scheduler.update_from_output(out, runner);
}

TEST(SchedulerSpec, DraftsRideAfterTheLastTokenAndOnlyAcceptedOnesCount) {
  Scheduler scheduler(toy_config());
  ASSERT_TRUE(scheduler.add_request(make_params(1, 6, 20)).ok());
  SchedulerOutput out = scheduler.schedule();  // the prompt
  ASSERT_EQ(out.num_scheduled_tokens_for(1), 6);
  verify_step(scheduler, out, 0, 500, {501, 502, 503, 504, 505});
  out = scheduler.schedule();
  ASSERT_EQ(out.num_scheduled_tokens_for(1), 6);  // last known token + 5 drafts
  EXPECT_EQ(out.num_scheduled_tokens[0].num_spec_tokens, 5);
  EXPECT_EQ(out.scheduled_spec_decode_tokens[0], (std::vector<int32_t>{501, 502, 503, 504, 505}));
  // 12 slots: 3 blocks of 4.
  EXPECT_EQ(scheduler.kv_cache_manager().num_block_entries(1), 3);
  const auto updates = verify_step(scheduler, out, 2, 900, {});
  EXPECT_EQ(updates[0].new_token_ids, (std::vector<int32_t>{501, 502, 900}));
  const Request* request = scheduler.find_request(1);
  EXPECT_EQ(request->num_tokens(), 10);
  EXPECT_EQ(request->num_computed_tokens(), 9);  // the bonus token 900 has no KV yet
  EXPECT_EQ(scheduler.kv_cache_manager().num_block_entries(1), 3);  // positions 0..9 need 3 blocks
  out = scheduler.schedule();
  EXPECT_EQ(out.num_scheduled_tokens_for(1), 1);  // no drafts proposed: a plain decode
  EXPECT_EQ(out.cached_requests[0].num_kept_block_entries, 3);
  ASSERT_TRUE(scheduler.abort_request(1).ok());
  EXPECT_EQ(scheduler.kv_cache_manager().block_pool().get_num_free_blocks(), toy_config().num_blocks - 1);
}

TEST(SchedulerSpec, RejectedDraftsGiveTheirBlocksBack) {
  Scheduler scheduler(toy_config());
  ASSERT_TRUE(scheduler.add_request(make_params(1, 4, 30)).ok());
  SchedulerOutput out = scheduler.schedule();
  verify_step(scheduler, out, 0, 500, std::vector<int32_t>(9, 7));
  out = scheduler.schedule();  // 4 known + 9 drafts: 14 slots, 4 blocks
  EXPECT_EQ(scheduler.kv_cache_manager().num_block_entries(1), 4);
  const int32_t free_before = scheduler.kv_cache_manager().block_pool().get_num_free_blocks();
  verify_step(scheduler, out, 0, 900, {});  // all rejected: 6 tokens, 2 blocks
  EXPECT_EQ(scheduler.kv_cache_manager().num_block_entries(1), 2);
  EXPECT_EQ(scheduler.kv_cache_manager().block_pool().get_num_free_blocks(), free_before + 2);
  out = scheduler.schedule();
  EXPECT_EQ(out.cached_requests[0].num_kept_block_entries, 2);
  ASSERT_TRUE(scheduler.abort_request(1).ok());
}

TEST(SchedulerSpec, DraftsAreCappedByMaxTokensAndBudget) {
  SchedulerConfig config = toy_config();
  config.max_num_batched_tokens = 4;
  Scheduler scheduler(config);
  ASSERT_TRUE(scheduler.add_request(make_params(1, 3, 4)).ok());
  SchedulerOutput out = scheduler.schedule();
  verify_step(scheduler, out, 0, 500, std::vector<int32_t>(8, 7));
  out = scheduler.schedule();
  // 4 known tokens; max 3 + 4 = 7 tokens, the last needs no slot: 2 drafts at most.
  EXPECT_EQ(out.num_scheduled_tokens[0].num_spec_tokens, 2);
  const auto updates = verify_step(scheduler, out, 2, 900, std::vector<int32_t>(8, 7));
  EXPECT_EQ(updates[0].status, RequestStatus::kFinishedLength);
  EXPECT_EQ(scheduler.kv_cache_manager().block_pool().get_num_free_blocks(), config.num_blocks - 1);
}

TEST(SchedulerSpec, DraftsWaitOnTheRequestForItsNextStep) {
  Scheduler scheduler(toy_config());
  ASSERT_TRUE(scheduler.add_request(make_params(1, 4, 30)).ok());
  SchedulerOutput out = scheduler.schedule();
  verify_step(scheduler, out, 0, 500, {7, 7});
  EXPECT_EQ(scheduler.find_request(1)->spec_token_ids().size(), 2u);
  ASSERT_TRUE(scheduler.abort_request(1).ok());
}

}  // namespace
}  // namespace tessera
