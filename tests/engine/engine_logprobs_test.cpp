// Engine logprobs: requested logprobs come back with every token, from the model's own
// distribution (greedy picks the top-1 entry), and cost nothing when not requested.
#include <gtest/gtest.h>

#include <cmath>

#include "tessera/engine.h"

namespace tessera {
namespace {

TEST(EngineLogprobs, GreedyTokensAreTheTopEntryOfTheirOwnDistribution) {
  EngineConfig config;
  config.model_path = std::string(TESSERA_SHARED_DIR) + "/models/stories260K-f32.gguf";
  config.kv_cache_memory_bytes = 16 << 20;
  config.max_model_len = 128;
  auto engine = std::move(Engine::create(config)).value();
  GenerationParams with, without;
  with.temperature = without.temperature = 0.0f;
  with.max_tokens = without.max_tokens = 8;
  with.ignore_eos = without.ignore_eos = true;
  with.logprobs = 3;
  const std::vector<int32_t> prompt = {1, 400, 20, 31};
  const EngineRequestId with_id = *engine->add_request(prompt, with);
  (void)*engine->add_request(prompt, without);
  int32_t num_checked = 0;
  while (engine->has_unfinished_requests()) {
    for (const RequestOutput& out : engine->step()) {
      if (out.request_id != with_id) {
        EXPECT_TRUE(out.logprobs.empty());
        continue;
      }
      ASSERT_EQ(out.logprobs.size(), out.new_token_ids.size());
      for (size_t i = 0; i < out.logprobs.size(); ++i) {
        const SampledLogprobs& lp = out.logprobs[i];
        ASSERT_EQ(lp.top.size(), 3u);
        EXPECT_EQ(lp.sampled.token_id, out.new_token_ids[i]);
        EXPECT_EQ(lp.top[0].token_id, out.new_token_ids[i]);
        EXPECT_FLOAT_EQ(lp.sampled.logprob, lp.top[0].logprob);
        EXPECT_LE(lp.top[0].logprob, 0.0f);
        EXPECT_GE(lp.top[0].logprob, lp.top[1].logprob);
        EXPECT_GE(lp.top[1].logprob, lp.top[2].logprob);
        ++num_checked;
      }
    }
  }
  EXPECT_EQ(num_checked, 8);
}

}  // namespace
}  // namespace tessera
