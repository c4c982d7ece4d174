// EngineLoop under a flood: many threads submit more requests than the waiting queue holds. The
// excess is refused at once with kResourceExhausted (the server's 503), every admitted request
// still gets exactly the tokens it gets on a quiet engine, and every KV block comes back.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/engine_loop.h"
#include "engine/engine_test_util.h"

namespace tessera {
namespace {

using testing::greedy;

EngineConfig flood_config() {
  EngineConfig config;
  config.model_path = testing::engine_model_path("stories260K-f32.gguf");
  config.kv_cache_memory_bytes = 16 << 20;
  config.max_model_len = 128;
  config.max_num_seqs = 1;          // one runs, the rest wait ...
  config.max_waiting_requests = 3;  // ... three of them at most
  return config;
}

std::vector<int32_t> flood_prompt(int32_t i) {
  std::vector<int32_t> prompt;
  for (int32_t k = 0; k < 5 + i % 7; ++k) prompt.push_back(3 + (i * 41 + k * 7) % 450);
  return prompt;
}

TEST(EngineLoopFault, FloodBeyondTheQueueIsRefusedWhileAdmittedRequestsComplete) {
  constexpr int32_t kThreads = 4, kPerThread = 6, kMaxTokens = 12;
  std::mutex mutex;
  std::map<EngineRequestId, std::vector<int32_t>> tokens;
  std::map<EngineRequestId, FinishReason> reasons;
  EngineLoop loop(testing::make_engine(flood_config()), [&](const RequestOutput& out) {
    std::lock_guard<std::mutex> lock(mutex);
    auto& t = tokens[out.request_id];
    t.insert(t.end(), out.new_token_ids.begin(), out.new_token_ids.end());
    if (out.finished()) reasons[out.request_id] = out.finish_reason;
  });
  std::map<EngineRequestId, int32_t> admitted;  // id -> prompt index
  std::atomic<int32_t> num_refused{0};
  std::vector<std::thread> submitters;
  for (int32_t thread = 0; thread < kThreads; ++thread) {
    submitters.emplace_back([&, thread] {
      for (int32_t k = 0; k < kPerThread; ++k) {
        const int32_t i = thread * kPerThread + k;
        auto id = loop.add_request(flood_prompt(i), greedy(kMaxTokens));
        if (!id.ok()) {
          EXPECT_EQ(id.status().code(), StatusCode::kResourceExhausted) << id.status().message();
          ++num_refused;
          continue;
        }
        std::lock_guard<std::mutex> lock(mutex);
        admitted[*id] = i;
      }
    });
  }
  for (auto& t : submitters) t.join();
  loop.wait_until_idle();
  EXPECT_GT(num_refused.load(), 0) << "24 requests against 1 running + 3 waiting must overflow";
  EXPECT_GT(admitted.size(), 3u);
  // Reference: each admitted prompt alone on a quiet engine.
  EngineConfig quiet = flood_config();
  quiet.max_waiting_requests = 0;
  auto engine = testing::make_engine(quiet);
  for (const auto& [id, i] : admitted) {
    const EngineRequestId ref = *engine->add_request(flood_prompt(i), greedy(kMaxTokens));
    EXPECT_EQ(tokens[id], (testing::drain(*engine)[{ref, 0}])) << "prompt " << i;
    EXPECT_EQ(reasons[id], FinishReason::kLength);
  }
  const EngineStats stats = loop.stats();
  EXPECT_EQ(stats.num_free_kv_blocks, stats.num_kv_blocks - 1);
}

}  // namespace
}  // namespace tessera
