// Sliding-window KV release on the gemma3 fixture (window 16, layers 0-4 local, 5 global):
// requests far longer than the window give the same greedy tokens with and without releasing
// the blocks the window has passed, and the same as the single-request Generator; released
// blocks lower the KV memory a request holds. With f16 and with q8_0 / q4_0 KV caches.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "engine/engine_test_util.h"
#include "model/model.h"
#include "runtime/generator.h"
#include "sampling/sampler.h"
#include "tessera/engine.h"

namespace tessera {
namespace {

using testing::drain;
using testing::greedy;
using testing::make_engine;

const std::string kGemma = std::string(TESSERA_SHARED_DIR) + "/models/synthetic/synth-gemma3-d64-swa16-f32.gguf";

std::vector<std::vector<int32_t>> prompts(int32_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<int32_t>> out(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) {
    const int32_t length = 20 + static_cast<int32_t>(rng() % 90);  // 20-109 tokens: past the window of 16
    for (int32_t k = 0; k < length; ++k) out[static_cast<size_t>(i)].push_back(3 + static_cast<int32_t>(rng() % 500));
  }
  return out;
}

std::vector<std::vector<int32_t>> run(KvCacheType kv_type, bool release,
                                      const std::vector<std::vector<int32_t>>& requests, int32_t max_tokens,
                                      EngineStats* stats) {
  EngineConfig config;
  config.model_path = kGemma;
  config.kv_cache_type = kv_type;
  config.kv_cache_memory_bytes = 32 << 20;
  config.max_model_len = 256;
  config.max_num_batched_tokens = 24;  // prompts run in chunks, each past the window's start
  config.release_sliding_window_blocks = release;
  auto engine = make_engine(config);
  std::vector<EngineRequestId> ids;
  for (const auto& prompt : requests) ids.push_back(*engine->add_request(prompt, greedy(max_tokens)));
  auto tokens = drain(*engine);
  *stats = engine->stats();
  EXPECT_EQ(stats->num_free_kv_blocks, stats->num_kv_blocks - 1) << "blocks leaked";
  std::vector<std::vector<int32_t>> outputs;
  for (EngineRequestId id : ids) outputs.push_back(tokens[{id, 0}]);
  return outputs;
}

class EngineSlidingWindow : public ::testing::TestWithParam<KvCacheType> {};

TEST_P(EngineSlidingWindow, ReleasingPassedBlocksChangesNoToken) {
  const KvCacheType kv_type = GetParam();
  const auto requests = prompts(12, 99);
  EngineStats kept, released;
  const auto with_all_blocks = run(kv_type, false, requests, 40, &kept);
  const auto with_release = run(kv_type, true, requests, 40, &released);
  EXPECT_EQ(kept.num_kv_cache_groups, 1);
  EXPECT_EQ(released.num_kv_cache_groups, 6);  // 1 global + 5 local layers, one layer per group
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_EQ(with_release[i].size(), 40u);
    EXPECT_EQ(with_release[i], with_all_blocks[i]) << "request " << i;
  }
  // The same tokens from the single-request Generator (one block table, every block kept).
  auto model = Model::load(kGemma);
  ASSERT_TRUE(model.ok());
  ThreadPool pool(2);
  Generator generator(**model, pool, 256, kv_cache_dtype(kv_type));
  SamplingParams params;
  params.temperature = 0.0f;
  for (size_t i = 0; i < 3; ++i) {
    Sampler sampler(params);
    std::vector<int32_t> ids;
    auto result = generator.generate(requests[i], 40, sampler, [](int32_t) { return false; },
                                     [&](int32_t id) { ids.push_back(id); });
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_EQ(ids, with_release[i]) << "request " << i;
  }
  // Memory: peak KV bytes held (in-use blocks x block bytes) fall with release.
  const int64_t peak_kept = int64_t{kept.peak_kv_blocks_in_use} * kept.kv_block_bytes;
  const int64_t peak_released = int64_t{released.peak_kv_blocks_in_use} * released.kv_block_bytes;
  std::printf("[ kv       ] peak KV in use: %lld bytes keeping every block, %lld releasing (%.2fx)\n",
              static_cast<long long>(peak_kept), static_cast<long long>(peak_released),
              static_cast<double>(peak_kept) / static_cast<double>(peak_released));
  EXPECT_LT(peak_released * 2, peak_kept);
}

INSTANTIATE_TEST_SUITE_P(KvTypes, EngineSlidingWindow,
                         ::testing::Values(KvCacheType::kF16, KvCacheType::kQ8_0, KvCacheType::kQ4_0),
                         [](const ::testing::TestParamInfo<KvCacheType>& info) {
                           return testing::kv_type_name(info.param);
                         });

}  // namespace
}  // namespace tessera
