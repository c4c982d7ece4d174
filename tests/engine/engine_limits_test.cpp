// Resource limits of the engine: the waiting-queue cap (max_waiting_requests -> kResourceExhausted,
// nothing half-queued) and the per-request timeout (timeout_ms -> FinishReason::kTimeout in any
// state, blocks freed, other requests untouched).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <utility>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "base/timer.h"
#include "engine/engine_test_util.h"

namespace tessera {
namespace {

using testing::collect;
using testing::drain;
using testing::EngineTokens;
using testing::greedy;
using testing::make_engine;

EngineConfig small_config() {
  EngineConfig config;
  config.model_path = testing::engine_model_path("stories260K-f32.gguf");
  config.kv_cache_memory_bytes = 16 << 20;
  config.max_model_len = 128;
  return config;
}

std::vector<int32_t> prompt_for(int32_t i) {
  std::vector<int32_t> prompt;
  for (int32_t k = 0; k < 4 + i % 9; ++k) prompt.push_back(3 + (i * 29 + k * 13) % 400);
  return prompt;
}

TEST(EngineLimits, FullWaitingQueueRejectsWithResourceExhausted) {
  EngineConfig config = small_config();
  config.max_waiting_requests = 3;
  auto engine = make_engine(config);
  std::vector<EngineRequestId> admitted;
  for (int32_t i = 0; i < 3; ++i) admitted.push_back(*engine->add_request(prompt_for(i), greedy(6)));
  auto full = engine->add_request(prompt_for(3), greedy(6));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(full.status().message().find("max_waiting_requests = 3"), std::string::npos) << full.status().message();
  EngineTokens tokens;
  collect(engine->step(), tokens);  // all three admitted to running: the queue is empty again
  GenerationParams four = greedy(6);
  four.n = 4;
  EXPECT_EQ(engine->add_request(prompt_for(4), four).status().code(), StatusCode::kResourceExhausted)
      << "n counts: 4 completions never fit a queue of 3";
  GenerationParams three = greedy(6);
  three.n = 3;
  auto fits = engine->add_request(prompt_for(5), three);
  ASSERT_TRUE(fits.ok()) << fits.status().message();
  EngineTokens rest = drain(*engine);
  for (auto& [key, t] : rest) tokens[key].insert(tokens[key].end(), t.begin(), t.end());
  for (EngineRequestId id : admitted) EXPECT_EQ((tokens[{id, 0}].size()), 6u);
  for (int32_t index = 0; index < 3; ++index) EXPECT_EQ((tokens[{*fits, index}].size()), 6u);
}

TEST(EngineLimits, ZeroMeansNoQueueLimitAndNegativeIsRejected) {
  EngineConfig config = small_config();
  config.max_waiting_requests = 0;
  auto engine = make_engine(config);
  for (int32_t i = 0; i < 300; ++i) ASSERT_TRUE(engine->add_request(prompt_for(i), greedy(1)).ok());
  (void)drain(*engine);
  config.max_waiting_requests = -1;
  auto bad = Engine::create(config);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(EngineLimits, TimeoutWhileQueuedAndMidDecodeEndsWithTimeout) {
  EngineConfig config = small_config();
  config.max_num_seqs = 1;
  auto engine = make_engine(config);
  const std::vector<int32_t> reference_prompt = prompt_for(0);
  const EngineRequestId plain = *engine->add_request(reference_prompt, greedy(40));
  GenerationParams timed = greedy(100);
  timed.timeout_ms = 200;
  timed.n = 2;
  const int64_t start_us = now_us();
  const EngineRequestId queued = *engine->add_request(prompt_for(1), timed);  // waits behind `plain`
  EngineTokens tokens;
  std::map<std::pair<EngineRequestId, int32_t>, FinishReason> reasons;
  auto step = [&] {
    for (const RequestOutput& out : engine->step()) {
      auto& t = tokens[{out.request_id, out.index}];
      t.insert(t.end(), out.new_token_ids.begin(), out.new_token_ids.end());
      if (out.finished()) reasons[{out.request_id, out.index}] = out.finish_reason;
    }
  };
  step();
  if (now_us() - start_us > 150'000) GTEST_SKIP() << "machine too slow for a 200 ms timeout test";
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  step();
  for (int32_t index = 0; index < 2; ++index) {
    EXPECT_EQ((reasons[{queued, index}]), FinishReason::kTimeout);
    EXPECT_TRUE((tokens[{queued, index}].empty())) << "it never left the queue";
  }
  EXPECT_FALSE(engine->abort(queued).ok()) << "a timed-out request is finished";
  while (engine->has_unfinished_requests()) step();
  EXPECT_EQ((reasons[{plain, 0}]), FinishReason::kLength);
  EXPECT_EQ((tokens[{plain, 0}].size()), 40u) << "the request without a timeout ran to the end";

  // Mid-decode: a running request past its deadline stops at the next step with what it has.
  timed.n = 1;
  const int64_t decode_start_us = now_us();
  const EngineRequestId running = *engine->add_request(prompt_for(2), timed);
  step();
  step();
  if (now_us() - decode_start_us > 150'000) GTEST_SKIP() << "machine too slow for a 200 ms timeout test";
  ASSERT_EQ((tokens[{running, 0}].size()), 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  step();
  EXPECT_EQ((reasons[{running, 0}]), FinishReason::kTimeout);
  EXPECT_EQ((tokens[{running, 0}].size()), 2u);
  EXPECT_FALSE(engine->has_unfinished_requests());
  const EngineStats stats = engine->stats();
  EXPECT_EQ(stats.num_free_kv_blocks, stats.num_kv_blocks - 1);
}

TEST(EngineLimits, GenerousTimeoutChangesNothing) {
  auto engine = make_engine(small_config());
  GenerationParams params = greedy(12);
  const EngineRequestId untimed = *engine->add_request(prompt_for(3), params);
  params.timeout_ms = 600'000;
  const EngineRequestId timed = *engine->add_request(prompt_for(3), params);
  EngineTokens tokens = drain(*engine);
  EXPECT_EQ((tokens[{timed, 0}]), (tokens[{untimed, 0}]));
  EXPECT_EQ((tokens[{timed, 0}].size()), 12u);
  params.timeout_ms = INT64_MAX;  // saturates instead of overflowing (UBSan would catch it)
  const EngineRequestId forever = *engine->add_request(prompt_for(3), params);
  EXPECT_EQ((drain(*engine)[{forever, 0}]), (tokens[{untimed, 0}]));
  params.timeout_ms = -1;
  EXPECT_EQ(engine->add_request(prompt_for(3), params).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera

namespace tessera {
namespace {

// Embedders reach add_request without the server's parser: absurd sampling values must be refused
// with kInvalidArgument or run harmlessly (tokens inside the vocabulary), never crash the engine.
TEST(EngineLimits, AbsurdSamplingParamsAreRefusedOrHarmless) {
  auto engine = testing::make_engine(small_config());
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<std::pair<const char*, GenerationParams>> cases;
  auto add = [&](const char* name, auto mutate) {
    GenerationParams p;
    p.max_tokens = 4;
    p.seed = 1;
    mutate(p);
    cases.emplace_back(name, p);
  };
  add("temperature nan", [&](GenerationParams& p) { p.temperature = nan; });
  add("temperature inf", [&](GenerationParams& p) { p.temperature = inf; });
  add("temperature -inf", [&](GenerationParams& p) { p.temperature = -inf; });
  add("top_p nan", [&](GenerationParams& p) { p.top_p = nan; });
  add("top_p -1", [&](GenerationParams& p) { p.top_p = -1.0f; });
  add("top_p 0", [&](GenerationParams& p) { p.top_p = 0.0f; });
  add("min_p nan", [&](GenerationParams& p) { p.min_p = nan; });
  add("min_p 2", [&](GenerationParams& p) { p.min_p = 2.0f; });
  add("top_k huge", [&](GenerationParams& p) { p.top_k = std::numeric_limits<int32_t>::max(); });
  add("top_k negative", [&](GenerationParams& p) { p.top_k = std::numeric_limits<int32_t>::min(); });
  add("repetition_penalty nan", [&](GenerationParams& p) { p.repetition_penalty = nan; });
  add("repetition_penalty 0", [&](GenerationParams& p) { p.repetition_penalty = 0.0f; });
  add("repetition_penalty -1", [&](GenerationParams& p) { p.repetition_penalty = -1.0f; });
  add("repetition_last_n huge", [&](GenerationParams& p) { p.repetition_last_n = std::numeric_limits<int32_t>::max(); });
  add("repetition_last_n -5", [&](GenerationParams& p) { p.repetition_last_n = -5; });
  add("presence_penalty inf", [&](GenerationParams& p) { p.presence_penalty = inf; });
  add("frequency_penalty huge", [&](GenerationParams& p) { p.frequency_penalty = 1e30f; });
  add("logprobs huge", [&](GenerationParams& p) { p.logprobs = std::numeric_limits<int32_t>::max(); });
  add("logprobs -7", [&](GenerationParams& p) { p.logprobs = -7; });
  add("max_tokens 0", [&](GenerationParams& p) { p.max_tokens = 0; });
  add("max_tokens huge", [&](GenerationParams& p) { p.max_tokens = std::numeric_limits<int32_t>::max(); });
  add("stop id outside vocab", [&](GenerationParams& p) { p.stop_token_ids = {-3, 1 << 30}; });
  add("n huge", [&](GenerationParams& p) { p.n = std::numeric_limits<int32_t>::max(); });
  for (const auto& [name, params] : cases) {
    SCOPED_TRACE(name);
    auto id = engine->add_request(prompt_for(1), params);
    if (!id.ok()) {
      EXPECT_TRUE(id.status().code() == StatusCode::kInvalidArgument || id.status().code() == StatusCode::kOutOfRange)
          << id.status().message();
      continue;
    }
    for (const auto& [key, t] : drain(*engine)) {
      for (int32_t token : t) EXPECT_TRUE(token >= 0 && token < engine->vocab_size()) << token;
    }
  }
}

}  // namespace
}  // namespace tessera

namespace tessera {
namespace {

// Absurd engine configurations (operator flags) are a Status, never a crash or a huge allocation.
TEST(EngineLimits, AbsurdConfigsAreRefused) {
  std::vector<std::pair<const char*, EngineConfig>> cases;
  auto add = [&](const char* name, auto mutate) {
    EngineConfig c = small_config();
    mutate(c);
    cases.emplace_back(name, c);
  };
  add("max_num_seqs 0", [](EngineConfig& c) { c.max_num_seqs = 0; });
  add("max_num_batched_tokens 0", [](EngineConfig& c) { c.max_num_batched_tokens = 0; });
  add("block_size 0", [](EngineConfig& c) { c.block_size = 0; });
  add("block_size huge", [](EngineConfig& c) { c.block_size = 1 << 30; });
  add("max_model_len negative", [](EngineConfig& c) { c.max_model_len = -5; });
  add("kv fraction 5", [](EngineConfig& c) { c.kv_cache_memory_bytes = 0; c.kv_cache_memory_fraction = 5.0; });
  add("kv bytes tiny", [](EngineConfig& c) { c.kv_cache_memory_bytes = 1; });
  add("num_threads 0", [](EngineConfig& c) { c.num_threads = 0; });
  add("missing model", [](EngineConfig& c) { c.model_path = "/nonexistent/model.gguf"; });
  for (const auto& [name, config] : cases) {
    auto engine = Engine::create(config);
    ASSERT_FALSE(engine.ok()) << name;
    EXPECT_FALSE(engine.status().message().empty()) << name;
  }
}

}  // namespace
}  // namespace tessera
