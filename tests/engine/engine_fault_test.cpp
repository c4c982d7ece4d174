// Faults on the real engine (stories260K): requests aborted in every state (queued, mid-prefill
// with chunked prefill, mid-decode, preempted, one request of n completions), floods beyond
// max_num_seqs and beyond the KV pool, prompts longer than the context, max_tokens beyond what is
// left of it. After each: the requests not aborted produce exactly the greedy tokens they produce
// running alone, and every KV block is back in the pool.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/engine_test_util.h"

namespace tessera {
namespace {

using testing::collect;
using testing::drain;
using testing::EngineTokens;
using testing::greedy;
using testing::make_engine;

const std::string kModel = "stories260K-f32.gguf";
constexpr int32_t kMaxModelLen = 128;

EngineConfig base_config() {
  EngineConfig config;
  config.model_path = testing::engine_model_path(kModel);
  config.kv_cache_memory_bytes = 16 << 20;
  config.max_model_len = kMaxModelLen;
  return config;
}

// Prompt i: 3..60 tokens, distinct per i.
std::vector<int32_t> prompt_for(int32_t i, int32_t length = 0) {
  if (length == 0) length = 3 + (i * 13) % 58;
  std::vector<int32_t> prompt;
  for (int32_t k = 0; k < length; ++k) prompt.push_back(3 + (i * 37 + k * 11) % 500);
  return prompt;
}

// Greedy tokens of a request alone on a fresh engine (no prefix cache, one sequence at a time).
std::vector<int32_t> run_alone(const std::vector<int32_t>& prompt, int32_t max_tokens) {
  EngineConfig config = base_config();
  config.enable_prefix_caching = false;
  config.max_num_seqs = 1;
  auto engine = make_engine(config);
  const EngineRequestId id = *engine->add_request(prompt, greedy(max_tokens));
  return drain(*engine)[{id, 0}];
}

// The requests of a scenario: prompt i with max_tokens, the id the engine gave it.
struct Submitted {
  std::vector<int32_t> prompt;
  int32_t max_tokens = 0;
  EngineRequestId id = 0;
};

std::vector<Submitted> submit(Engine& engine, int32_t count, int32_t max_tokens, int32_t first = 0) {
  std::vector<Submitted> requests;
  for (int32_t i = first; i < first + count; ++i) {
    Submitted r{prompt_for(i), max_tokens, 0};
    auto id = engine.add_request(r.prompt, greedy(max_tokens));
    EXPECT_TRUE(id.ok()) << id.status().message();
    r.id = id.ok() ? *id : -1;
    requests.push_back(std::move(r));
  }
  return requests;
}

// Every request except `aborted` got exactly its tokens from running alone; aborted ones got
// no more tokens than that prefix (what they produced before the abort is a prefix of it).
void expect_survivors_match_alone(const std::vector<Submitted>& requests, const EngineTokens& tokens,
                                  const std::vector<EngineRequestId>& aborted) {
  for (const Submitted& r : requests) {
    const std::vector<int32_t> alone = run_alone(r.prompt, r.max_tokens);
    auto it = tokens.find({r.id, 0});
    const std::vector<int32_t> got = it == tokens.end() ? std::vector<int32_t>{} : it->second;
    if (std::find(aborted.begin(), aborted.end(), r.id) != aborted.end()) {
      ASSERT_LE(got.size(), alone.size());
      EXPECT_EQ(got, std::vector<int32_t>(alone.begin(), alone.begin() + static_cast<std::ptrdiff_t>(got.size())))
          << "aborted request " << r.id << " produced wrong tokens before its abort";
    } else {
      EXPECT_EQ(got, alone) << "request " << r.id;
    }
  }
}

// Finish reason of every (request, index) that finished.
using Reasons = std::map<std::pair<EngineRequestId, int32_t>, FinishReason>;
void collect_reasons(const std::vector<RequestOutput>& outputs, Reasons& reasons) {
  for (const RequestOutput& out : outputs) {
    if (out.finished()) reasons[{out.request_id, out.index}] = out.finish_reason;
  }
}

// Steps until idle, gathering tokens and reasons; checks that no block leaked.
void drain_all(Engine& engine, EngineTokens& tokens, Reasons& reasons) {
  int32_t guard = 0;
  while (engine.has_unfinished_requests() && ++guard < 100000) {
    const std::vector<RequestOutput> outputs = engine.step();
    collect(outputs, tokens);
    collect_reasons(outputs, reasons);
  }
  const EngineStats stats = engine.stats();
  EXPECT_EQ(stats.num_free_kv_blocks, stats.num_kv_blocks - 1) << "KV blocks leaked";
}

TEST(EngineFault, AbortWhileQueued) {
  EngineConfig config = base_config();
  config.max_num_seqs = 2;
  auto engine = make_engine(config);
  const auto requests = submit(*engine, 6, 12);
  EngineTokens tokens;
  Reasons reasons;
  collect(engine->step(), tokens);  // requests 0 and 1 run; 2..5 wait
  ASSERT_TRUE(engine->abort(requests[4].id).ok());
  drain_all(*engine, tokens, reasons);
  EXPECT_EQ((reasons[{requests[4].id, 0}]), FinishReason::kAbort);
  EXPECT_TRUE((tokens[{requests[4].id, 0}].empty())) << "a queued request never ran";
  expect_survivors_match_alone(requests, tokens, {requests[4].id});
}

TEST(EngineFault, AbortMidChunkedPrefill) {
  EngineConfig config = base_config();
  config.max_num_batched_tokens = 8;  // a 60-token prompt takes 8 steps
  auto engine = make_engine(config);
  auto requests = submit(*engine, 2, 10);
  Submitted long_one{prompt_for(100, 60), 10, 0};
  long_one.id = *engine->add_request(long_one.prompt, greedy(long_one.max_tokens));
  requests.push_back(long_one);
  EngineTokens tokens;
  Reasons reasons;
  for (int i = 0; i < 4; ++i) collect(engine->step(), tokens);
  ASSERT_TRUE((tokens[{long_one.id, 0}].empty())) << "still in its prompt";
  EXPECT_LT(engine->stats().num_free_kv_blocks, engine->stats().num_kv_blocks - 1) << "its prompt holds blocks";
  ASSERT_TRUE(engine->abort(long_one.id).ok());
  drain_all(*engine, tokens, reasons);
  EXPECT_EQ((reasons[{long_one.id, 0}]), FinishReason::kAbort);
  expect_survivors_match_alone(requests, tokens, {long_one.id});
}

TEST(EngineFault, AbortMidDecode) {
  auto engine = make_engine(base_config());
  const auto requests = submit(*engine, 5, 20);
  EngineTokens tokens;
  Reasons reasons;
  while (tokens[{requests[2].id, 0}].size() < 5) collect(engine->step(), tokens);
  ASSERT_TRUE(engine->abort(requests[2].id).ok());
  EXPECT_FALSE(engine->abort(requests[2].id).ok()) << "second abort";
  drain_all(*engine, tokens, reasons);
  EXPECT_EQ((reasons[{requests[2].id, 0}]), FinishReason::kAbort);
  EXPECT_GE((tokens[{requests[2].id, 0}].size()), 5u);
  expect_survivors_match_alone(requests, tokens, {requests[2].id});
  EXPECT_FALSE(engine->abort(requests[0].id).ok()) << "abort after finishing is NotFound";
}

TEST(EngineFault, AbortWhilePreempted) {
  EngineConfig config = base_config();
  config.kv_cache_memory_bytes = static_cast<int64_t>(testing::kv_bytes_per_block(config.model_path, 16)) * 9;
  auto core_or = EngineCore::create(config);
  ASSERT_TRUE(core_or.ok()) << core_or.status().message();
  EngineCore& core = **core_or;
  std::vector<EngineRequestId> ids;
  for (int32_t i = 0; i < 4; ++i) ids.push_back(*core.add_request(prompt_for(i, 30), greedy(60)));
  // Step until some request sits preempted in the waiting queue.
  EngineRequestId preempted = 0;
  for (int step = 0; step < 200 && preempted == 0; ++step) {
    (void)core.step();
    for (RequestId id : core.scheduler().waiting_request_ids()) {
      if (core.scheduler().find_request(id)->status() == RequestStatus::kPreempted) preempted = id;
    }
  }
  ASSERT_NE(preempted, 0) << "the pool of 8 blocks must force a preemption";
  // NOTE: with n = 1 the engine numbers its requests and their completions alike.
  ASSERT_TRUE(core.abort(preempted).ok());
  EXPECT_EQ(core.scheduler().find_request(preempted), nullptr) << "the preempted completion is gone";
  Reasons reasons;
  while (core.has_unfinished_requests()) collect_reasons(core.step(), reasons);
  EXPECT_EQ((reasons[{preempted, 0}]), FinishReason::kAbort);
  for (EngineRequestId id : ids) {
    if (id == preempted) continue;
    EXPECT_EQ((reasons[{id, 0}]), FinishReason::kLength) << "request " << id;
  }
  const EngineStats stats = core.stats();
  EXPECT_GT(stats.num_preemptions, 0);
  EXPECT_EQ(stats.num_free_kv_blocks, stats.num_kv_blocks - 1);
}

TEST(EngineFault, AbortOneRequestOfParallelCompletions) {
  auto engine = make_engine(base_config());
  auto requests = submit(*engine, 3, 16);
  GenerationParams params = greedy(16);
  params.n = 4;
  const EngineRequestId parallel = *engine->add_request(prompt_for(50), params);
  EngineTokens tokens;
  Reasons reasons;
  for (int i = 0; i < 3; ++i) collect(engine->step(), tokens);
  ASSERT_TRUE(engine->abort(parallel).ok());
  drain_all(*engine, tokens, reasons);
  for (int32_t index = 0; index < 4; ++index) EXPECT_EQ((reasons[{parallel, index}]), FinishReason::kAbort);
  expect_survivors_match_alone(requests, tokens, {});
}

TEST(EngineFault, AbortQueuedParallelCompletions) {
  EngineConfig config = base_config();
  config.max_num_seqs = 2;
  auto engine = make_engine(config);
  auto requests = submit(*engine, 2, 12);
  GenerationParams params = greedy(8);
  params.n = 3;
  const EngineRequestId queued = *engine->add_request(prompt_for(60), params);
  EngineTokens tokens;
  Reasons reasons;
  collect(engine->step(), tokens);
  ASSERT_TRUE(engine->abort(queued).ok());
  drain_all(*engine, tokens, reasons);
  for (int32_t index = 0; index < 3; ++index) {
    EXPECT_EQ((reasons[{queued, index}]), FinishReason::kAbort);
    EXPECT_TRUE((tokens[{queued, index}].empty()));
  }
  expect_survivors_match_alone(requests, tokens, {});
}

TEST(EngineFault, FloodBeyondMaxNumSeqs) {
  EngineConfig config = base_config();
  config.max_num_seqs = 4;
  auto core_or = EngineCore::create(config);
  ASSERT_TRUE(core_or.ok());
  EngineCore& core = **core_or;
  std::vector<Submitted> requests;
  for (int32_t i = 0; i < 24; ++i) {
    Submitted r{prompt_for(i), 6 + i % 5, 0};
    r.id = *core.add_request(r.prompt, greedy(r.max_tokens));
    requests.push_back(r);
  }
  EngineTokens tokens;
  while (core.has_unfinished_requests()) {
    collect(core.step(), tokens);
    ASSERT_LE(core.scheduler().num_running_requests(), 4);
  }
  EXPECT_EQ(core.stats().num_free_kv_blocks, core.stats().num_kv_blocks - 1);
  expect_survivors_match_alone(requests, tokens, {});
}

TEST(EngineFault, FloodBeyondKvCapacity) {
  EngineConfig config = base_config();
  config.kv_cache_memory_bytes = static_cast<int64_t>(testing::kv_bytes_per_block(config.model_path, 16)) * 8;
  auto engine = make_engine(config);
  // Twenty requests of up to 90 tokens (6 blocks) each against 7 usable blocks (112 tokens).
  const auto requests = submit(*engine, 20, 30);
  // One that needs more blocks than the whole pool (127 KV tokens: 8) is refused outright.
  auto too_big = engine->add_request(prompt_for(99, 120), greedy(8));
  ASSERT_FALSE(too_big.ok());
  // kOutOfRange, not kResourceExhausted: the server must answer 400, not a 503 that clients retry.
  EXPECT_EQ(too_big.status().code(), StatusCode::kOutOfRange) << too_big.status().message();
  EngineTokens tokens;
  Reasons reasons;
  drain_all(*engine, tokens, reasons);
  EXPECT_GT(engine->stats().num_preemptions, 0);
  expect_survivors_match_alone(requests, tokens, {});
}

TEST(EngineFault, PromptLongerThanContextIsRejectedOthersContinue) {
  auto engine = make_engine(base_config());
  const auto requests = submit(*engine, 3, 10);
  EngineTokens tokens;
  collect(engine->step(), tokens);
  auto too_long = engine->add_request(prompt_for(7, kMaxModelLen + 1), greedy(1));
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(too_long.status().message().find("max_model_len"), std::string::npos) << too_long.status().message();
  auto exactly_full = engine->add_request(prompt_for(7, kMaxModelLen), greedy(1));
  EXPECT_FALSE(exactly_full.ok()) << "no room left for even one output token";
  Reasons reasons;
  drain_all(*engine, tokens, reasons);
  expect_survivors_match_alone(requests, tokens, {});
}

TEST(EngineFault, MaxTokensBeyondRemainingContext) {
  auto engine = make_engine(base_config());
  const std::vector<int32_t> prompt = prompt_for(3, 100);
  // 100 + 29 > 128: refused up front (OpenAI and vLLM answer 400), nothing queued.
  auto over = engine->add_request(prompt, greedy(29));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kOutOfRange);
  EXPECT_FALSE(engine->has_unfinished_requests());
  // 100 + 28 == 128: runs to the last position of the context and stops with kLength.
  const EngineRequestId id = *engine->add_request(prompt, greedy(28));
  EngineTokens tokens;
  Reasons reasons;
  drain_all(*engine, tokens, reasons);
  EXPECT_EQ((reasons[{id, 0}]), FinishReason::kLength);
  EXPECT_EQ((tokens[{id, 0}]), run_alone(prompt, 28));
  EXPECT_EQ((tokens[{id, 0}].size()), 28u);
}

}  // namespace
}  // namespace tessera
