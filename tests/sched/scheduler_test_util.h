// Helpers for scheduler tests: toy requests, a fake runner that "samples" a fixed token, and a
// fixture that checks after every test that every KV block is back in the pool.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <numeric>
#include <vector>

#include "sched/scheduler.h"

namespace tessera::testing {

inline std::vector<int32_t> tokens_from(int32_t first, int32_t count) {
  std::vector<int32_t> tokens(static_cast<size_t>(count));
  std::iota(tokens.begin(), tokens.end(), first);
  return tokens;
}

// Request `request_id` with a prompt no other request shares (tokens request_id * 1000 + i).
inline RequestParams make_params(RequestId request_id, int32_t num_prompt_tokens, int32_t max_tokens) {
  RequestParams params;
  params.request_id = request_id;
  params.prompt_token_ids = tokens_from(static_cast<int32_t>(request_id) * 1000, num_prompt_tokens);
  params.max_tokens = max_tokens;
  return params;
}

// What a runner would return: `token_id` for every request whose step reached its last known token.
inline RunnerOutput fake_runner_output(const Scheduler& scheduler, const SchedulerOutput& output, int32_t token_id) {
  RunnerOutput runner_output;
  for (const ScheduledTokens& scheduled : output.num_scheduled_tokens) {
    const Request* request = scheduler.find_request(scheduled.request_id);
    const bool samples = request != nullptr && request->num_computed_tokens() == request->num_tokens();
    runner_output.sampled_token_ids.push_back(samples ? std::vector<int32_t>{token_id} : std::vector<int32_t>{});
  }
  return runner_output;
}

struct StepResult {
  SchedulerOutput output;
  std::vector<RequestUpdate> updates;
};

// block_size 4, 15 usable blocks, a budget of 64 tokens.
inline SchedulerConfig toy_config() {
  SchedulerConfig config;
  config.max_num_batched_tokens = 64;
  config.max_num_seqs = 8;
  config.block_size = 4;
  config.num_blocks = 16;
  config.max_model_len = 64;
  return config;
}

class SchedulerTest : public ::testing::Test {
 protected:
  Scheduler& start(const SchedulerConfig& config = toy_config()) {
    scheduler_ = std::make_unique<Scheduler>(config);
    return *scheduler_;
  }
  void add(const RequestParams& params) { ASSERT_TRUE(scheduler_->add_request(params).ok()); }
  StepResult step(int32_t token_id = 7) {
    StepResult result{scheduler_->schedule(), {}};
    // Invariants of every step.
    EXPECT_LE(result.output.total_num_scheduled_tokens, scheduler_->config().max_num_batched_tokens);
    EXPECT_LE(scheduler_->num_running_requests(), scheduler_->config().max_num_seqs);
    result.updates = scheduler_->update_from_output(result.output,
                                                    fake_runner_output(*scheduler_, result.output, token_id));
    for (const RequestUpdate& update : result.updates) {
      std::vector<int32_t>& outputs = outputs_[update.request_id];
      outputs.insert(outputs.end(), update.new_token_ids.begin(), update.new_token_ids.end());
      if (is_finished(update.status)) finished_[update.request_id] = update.status;
    }
    return result;
  }
  // Steps until nothing is left; returns the number of steps.
  int32_t run_to_completion(int32_t max_steps = 1000) {
    int32_t num_steps = 0;
    while (scheduler_->has_unfinished_requests() && num_steps < max_steps) {
      step();
      ++num_steps;
    }
    EXPECT_FALSE(scheduler_->has_unfinished_requests());
    return num_steps;
  }
  const Request& request(RequestId request_id) const {
    const Request* found = scheduler_->find_request(request_id);
    EXPECT_NE(found, nullptr) << "request " << request_id;
    return *found;
  }
  int32_t ref_cnt(int32_t block_id) const {
    return scheduler_->kv_cache_manager().block_pool().block(block_id).ref_cnt;
  }

  void TearDown() override {
    if (!scheduler_) return;
    // Abort whatever a test left live; finished requests must have freed their own blocks already.
    for (RequestId request_id : scheduler_->running_request_ids()) EXPECT_TRUE(scheduler_->abort_request(request_id).ok());
    for (RequestId request_id : scheduler_->waiting_request_ids()) EXPECT_TRUE(scheduler_->abort_request(request_id).ok());
    const KvCacheManager& kv = scheduler_->kv_cache_manager();
    EXPECT_EQ(kv.block_pool().get_num_free_blocks(), scheduler_->config().num_blocks - 1) << "blocks leaked";
    EXPECT_EQ(kv.num_requests(), 0);
    EXPECT_FALSE(scheduler_->has_unfinished_requests());
  }

  std::unique_ptr<Scheduler> scheduler_;
  std::map<RequestId, std::vector<int32_t>> outputs_;  // every token each request received, in order
  std::map<RequestId, RequestStatus> finished_;        // how each finished request ended
};

}  // namespace tessera::testing
