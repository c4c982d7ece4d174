// EngineLoop: concurrent submitters get the same greedy tokens as a plain Engine, and aborts
// from another thread end requests and free their blocks.
#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/engine_loop.h"

namespace tessera {
namespace {

EngineConfig small_config() {
  EngineConfig config;
  config.model_path = std::string(TESSERA_SHARED_DIR) + "/models/stories260K-f32.gguf";
  config.kv_cache_memory_bytes = 16 << 20;
  config.max_model_len = 128;
  return config;
}

GenerationParams greedy(int32_t max_tokens) {
  GenerationParams p;
  p.temperature = 0.0f;
  p.max_tokens = max_tokens;
  p.ignore_eos = true;
  return p;
}

std::vector<int32_t> prompt_for(int32_t i) {
  std::vector<int32_t> prompt;
  for (int32_t k = 0; k < 3 + i % 11; ++k) prompt.push_back(3 + (i * 31 + k * 17) % 400);
  return prompt;
}

TEST(EngineLoop, ConcurrentSubmittersGetTheSameTokensAsAPlainEngine) {
  constexpr int32_t kThreads = 3, kPerThread = 5, kMaxTokens = 10;
  // Reference: one plain engine, all requests, drained.
  std::map<int32_t, std::vector<int32_t>> expected;
  {
    auto engine = std::move(Engine::create(small_config())).value();
    std::map<EngineRequestId, int32_t> index_of;
    for (int32_t i = 0; i < kThreads * kPerThread; ++i) index_of[*engine->add_request(prompt_for(i), greedy(kMaxTokens))] = i;
    while (engine->has_unfinished_requests()) {
      for (const RequestOutput& out : engine->step()) {
        auto& t = expected[index_of[out.request_id]];
        t.insert(t.end(), out.new_token_ids.begin(), out.new_token_ids.end());
      }
    }
  }
  std::mutex mutex;
  std::map<EngineRequestId, std::vector<int32_t>> tokens;
  std::map<int32_t, EngineRequestId> id_of;
  EngineLoop loop(std::move(Engine::create(small_config())).value(), [&](const RequestOutput& out) {
    std::lock_guard<std::mutex> lock(mutex);
    auto& t = tokens[out.request_id];
    t.insert(t.end(), out.new_token_ids.begin(), out.new_token_ids.end());
  });
  std::vector<std::thread> submitters;
  for (int32_t thread = 0; thread < kThreads; ++thread) {
    submitters.emplace_back([&, thread] {
      for (int32_t k = 0; k < kPerThread; ++k) {
        const int32_t i = thread * kPerThread + k;
        auto id = loop.add_request(prompt_for(i), greedy(kMaxTokens));
        ASSERT_TRUE(id.ok());
        std::lock_guard<std::mutex> lock(mutex);
        id_of[i] = *id;
      }
    });
  }
  for (auto& t : submitters) t.join();
  loop.wait_until_idle();
  for (int32_t i = 0; i < kThreads * kPerThread; ++i) EXPECT_EQ(tokens[id_of[i]], expected[i]) << "request " << i;
  const EngineStats stats = loop.stats();
  EXPECT_EQ(stats.num_free_kv_blocks, stats.num_kv_blocks - 1);
}

TEST(EngineLoop, AbortFromAnotherThreadFreesBlocks) {
  std::mutex mutex;
  std::condition_variable abort_sent_cv;
  bool abort_sent = false;
  std::map<EngineRequestId, FinishReason> reasons;
  // NOTE: the engine thread waits in the output callback of the first token until the abort is
  // queued, so the request cannot finish its 100 tokens first (on a loaded host it did).
  EngineLoop loop(std::move(Engine::create(small_config())).value(), [&](const RequestOutput& out) {
    std::unique_lock<std::mutex> lock(mutex);
    abort_sent_cv.wait(lock, [&] { return abort_sent; });
    if (out.finished()) reasons[out.request_id] = out.finish_reason;
  });
  const EngineRequestId id = *loop.add_request(prompt_for(1), greedy(100));
  std::thread([&] {
    loop.abort(id);
    std::lock_guard<std::mutex> lock(mutex);
    abort_sent = true;
    abort_sent_cv.notify_all();
  }).join();
  loop.wait_until_idle();
  {
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_EQ(reasons[id], FinishReason::kAbort);
  }
  const EngineStats stats = loop.stats();
  EXPECT_EQ(stats.num_free_kv_blocks, stats.num_kv_blocks - 1);
}

}  // namespace
}  // namespace tessera
