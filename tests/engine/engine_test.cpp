// Engine end to end on the real tiny models: batch invariance of greedy outputs across batching,
// chunked prefill, prefix caching and preemption (with f16 and with q8_0 / q4_0 KV caches);
// abort; n > 1. Every test checks no block leaks.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/engine_test_util.h"
#include "tessera/engine.h"

namespace tessera {
namespace {

using testing::drain;
using testing::greedy;
using testing::make_engine;

std::string model_path(const std::string& name) { return std::string(TESSERA_SHARED_DIR) + "/models/" + name; }

struct TestRequest {
  std::vector<int32_t> prompt;
  int32_t max_tokens = 8;
};

// Mixed lengths; every fourth request starts with one shared 40-token prefix (prefix-cache hits),
// a few are a single token long.
std::vector<TestRequest> make_requests(int32_t count, int32_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  auto token = [&] { return static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab - 3)) + 3; };
  std::vector<int32_t> shared(40);
  for (int32_t& t : shared) t = token();
  std::vector<TestRequest> requests(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) {
    TestRequest& r = requests[static_cast<size_t>(i)];
    const int32_t length = i % 7 == 3 ? 1 : 2 + static_cast<int32_t>(rng() % 70);
    if (i % 4 == 0) r.prompt = shared;
    for (int32_t k = 0; k < length; ++k) r.prompt.push_back(token());
    r.max_tokens = 4 + static_cast<int32_t>(rng() % 20);
  }
  return requests;
}

// Runs every request at once under `config`; returns outputs in request order.
std::vector<std::vector<int32_t>> run_together(const EngineConfig& config, const std::vector<TestRequest>& requests,
                                               EngineStats* stats = nullptr) {
  auto engine = make_engine(config);
  std::vector<EngineRequestId> ids;
  for (const TestRequest& r : requests) {
    auto id = engine->add_request(r.prompt, greedy(r.max_tokens));
    EXPECT_TRUE(id.ok()) << id.status().message();
    ids.push_back(*id);
  }
  auto tokens = drain(*engine);
  if (stats != nullptr) *stats = engine->stats();
  std::vector<std::vector<int32_t>> outputs;
  for (EngineRequestId id : ids) outputs.push_back(tokens[{id, 0}]);
  return outputs;
}

struct InvarianceCase {
  std::string model;
  KvCacheType kv_type = KvCacheType::kF16;
  std::optional<KvCacheType> kv_type_v;  // V's type when it differs
};

class EngineBatchInvariance : public ::testing::TestWithParam<InvarianceCase> {};

// A quantized cache too: its rows are quantized when written, one (position, kv head) at a time,
// so a prefix-cache hit reads the very blocks a recompute would write, and a preempted request's
// recompute writes them again bit for bit.
TEST_P(EngineBatchInvariance, GreedyOutputsMatchRunningAlone) {
  const std::string path = model_path(GetParam().model);
  const KvCacheType kv_type = GetParam().kv_type;
  EngineConfig base;
  base.model_path = path;
  base.kv_cache_type = kv_type;
  base.kv_cache_type_v = GetParam().kv_type_v;
  base.kv_cache_memory_bytes = 64 << 20;
  base.max_model_len = 256;
  base.num_threads = 2;
  auto probe = make_engine(base);
  const std::vector<TestRequest> requests = make_requests(40, probe->vocab_size(), 1234);
  probe.reset();

  // Reference: each request alone on a fresh engine, no prefix cache, whole prompt in one step.
  std::vector<std::vector<int32_t>> alone;
  {
    EngineConfig config = base;
    config.enable_prefix_caching = false;
    config.max_num_seqs = 1;
    for (const TestRequest& r : requests) alone.push_back(run_together(config, {r})[0]);
  }
  for (size_t i = 0; i < requests.size(); ++i) ASSERT_EQ(alone[i].size(), static_cast<size_t>(requests[i].max_tokens));

  struct Variant {
    const char* name;
    int32_t max_num_batched_tokens;
    bool prefix_caching;
    int32_t num_kv_blocks;  // 0 = plenty
  };
  const Variant variants[] = {
      {"batched", 2048, true, 0},
      {"batched-no-prefix-cache", 2048, false, 0},
      {"chunked-prefill", 16, true, 0},
      {"chunked-prefill-no-prefix-cache", 7, false, 0},
      {"preemption", 64, true, 14},
      {"preemption-no-prefix-cache", 32, false, 12},
  };
  for (const Variant& v : variants) {
    SCOPED_TRACE(v.name);
    EngineConfig config = base;
    config.max_num_batched_tokens = v.max_num_batched_tokens;
    config.enable_prefix_caching = v.prefix_caching;
    if (v.num_kv_blocks > 0) config.kv_cache_memory_bytes =
          static_cast<int64_t>(testing::kv_bytes_per_block(path, 16, kv_type, GetParam().kv_type_v)) * v.num_kv_blocks;
    EngineStats stats;
    const auto together = run_together(config, requests, &stats);
    for (size_t i = 0; i < requests.size(); ++i) EXPECT_EQ(together[i], alone[i]) << "request " << i;
    if (v.num_kv_blocks > 0) {
      EXPECT_GT(stats.num_preemptions, 0);
    }
    if (v.prefix_caching && v.num_kv_blocks == 0) {
      EXPECT_GT(stats.prefix_cache_hit_rate, 0.0);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    RealModels, EngineBatchInvariance,
    ::testing::Values(InvarianceCase{"stories260K-f32.gguf"}, InvarianceCase{"TinyStories-656K-f32.gguf"},
                      // sliding window 16: six KV cache groups, five releasing
                      InvarianceCase{"synthetic/synth-gemma3-d64-swa16-f32.gguf"},
                      // mixtures of experts: experts run over the tokens that chose them
                      InvarianceCase{"synthetic/synth-moe-d128-e8k2-f32.gguf"},
                      InvarianceCase{"synthetic/synth-qwen3moe-d64-e8k2-Q8_0.gguf"},
                      // quantized KV (heads of 32 and 64 values: one and two blocks per row)
                      InvarianceCase{"synthetic/synth-gemma3-d64-swa16-f32.gguf", KvCacheType::kQ8_0},
                      InvarianceCase{"synthetic/synth-gemma3-d64-swa16-f32.gguf", KvCacheType::kQ4_0},
                      InvarianceCase{"synthetic/synth-qwen3-d128-f32.gguf", KvCacheType::kQ8_0},
                      InvarianceCase{"synthetic/synth-qwen3-d128-f32.gguf", KvCacheType::kQ4_0},
                      // K and V of different types
                      InvarianceCase{"synthetic/synth-qwen3-d128-f32.gguf", KvCacheType::kQ8_0, KvCacheType::kQ4_0}),
    [](const ::testing::TestParamInfo<InvarianceCase>& info) {
      std::string name = testing::model_test_name(info.param.model, info.param.kv_type);
      if (info.param.kv_type_v) name += "_v_" + testing::kv_type_name(*info.param.kv_type_v);
      return name;
    });

TEST(Engine, AbortMidRunFreesBlocksAndReportsAbort) {
  EngineConfig config;
  config.model_path = model_path("stories260K-f32.gguf");
  config.kv_cache_memory_bytes = 16 << 20;
  config.max_model_len = 256;
  auto engine = make_engine(config);
  const auto requests = make_requests(6, engine->vocab_size(), 7);
  std::vector<EngineRequestId> ids;
  for (const auto& r : requests) ids.push_back(*engine->add_request(r.prompt, greedy(30)));
  for (int i = 0; i < 3; ++i) (void)engine->step();
  EXPECT_LT(engine->stats().num_free_kv_blocks, engine->stats().num_kv_blocks - 1);
  ASSERT_TRUE(engine->abort(ids[1]).ok());
  ASSERT_TRUE(engine->abort(ids[4]).ok());
  EXPECT_FALSE(engine->abort(ids[4]).ok()) << "second abort of the same request";
  std::map<EngineRequestId, FinishReason> reasons;
  while (engine->has_unfinished_requests()) {
    for (const RequestOutput& out : engine->step()) {
      if (out.finished()) reasons[out.request_id] = out.finish_reason;
    }
  }
  EXPECT_EQ(reasons[ids[1]], FinishReason::kAbort);
  EXPECT_EQ(reasons[ids[4]], FinishReason::kAbort);
  EXPECT_EQ(reasons[ids[0]], FinishReason::kLength);
  EXPECT_EQ(engine->stats().num_free_kv_blocks, engine->stats().num_kv_blocks - 1);
}

TEST(Engine, ParallelCompletionsSharePromptBlocks) {
  EngineConfig config;
  config.model_path = model_path("stories260K-f32.gguf");
  config.kv_cache_memory_bytes = 16 << 20;
  config.max_model_len = 256;
  auto engine = make_engine(config);
  std::vector<int32_t> prompt(64);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = 5 + static_cast<int32_t>(i * 7 % 200);
  GenerationParams params = greedy(8);
  params.n = 4;
  const EngineRequestId id = *engine->add_request(prompt, params);
  const std::vector<RequestOutput> first = engine->step();
  ASSERT_EQ(first.size(), 4u) << "each completion samples its first token in the prompt's step";
  // Completion 0 computes 4 prompt blocks; the others reuse the first 3 and recompute only the
  // last block (its last token's logits are needed): 4 + 3 * 1 blocks, not 4 * 4.
  EXPECT_EQ(engine->stats().peak_kv_blocks_in_use, 7);
  const auto tokens = drain(*engine);
  ASSERT_EQ(tokens.size(), 4u);
  for (int32_t i = 0; i < 4; ++i) {
    EXPECT_EQ(first[static_cast<size_t>(i)].new_token_ids, first[0].new_token_ids);
    EXPECT_EQ(tokens.at({id, i}).size(), 7u);
    EXPECT_EQ(tokens.at({id, i}), tokens.at({id, 0})) << "greedy completions must agree";
  }
}

TEST(Engine, SeededSamplingIsBatchInvariant) {
  EngineConfig config;
  config.model_path = model_path("TinyStories-656K-f32.gguf");
  config.kv_cache_memory_bytes = 16 << 20;
  config.max_model_len = 256;
  config.max_num_batched_tokens = 24;
  auto engine = make_engine(config);
  const auto requests = make_requests(12, engine->vocab_size(), 99);
  auto sampled = [&](int32_t i) {
    GenerationParams p;
    p.temperature = 1.0f;
    p.max_tokens = 12;
    p.ignore_eos = true;
    p.seed = 1000 + static_cast<uint64_t>(i);
    p.n = 2;
    return p;
  };
  std::vector<std::vector<int32_t>> alone;
  for (int32_t i = 0; i < 12; ++i) {
    auto single = make_engine(config);
    const EngineRequestId id = *single->add_request(requests[static_cast<size_t>(i)].prompt, sampled(i));
    auto tokens = drain(*single);
    alone.push_back(tokens[{id, 0}]);
    alone.push_back(tokens[{id, 1}]);
  }
  std::vector<EngineRequestId> ids;
  for (int32_t i = 0; i < 12; ++i) ids.push_back(*engine->add_request(requests[static_cast<size_t>(i)].prompt, sampled(i)));
  auto together = drain(*engine);
  for (size_t i = 0; i < 12; ++i) {
    const auto first = std::make_pair(ids[i], 0), second = std::make_pair(ids[i], 1);
    EXPECT_EQ(together[first], alone[2 * i]) << "request " << i;
    EXPECT_EQ(together[second], alone[2 * i + 1]) << "request " << i;
    EXPECT_NE(together[first], together[second]) << "completions use seeds seed and seed + 1";
  }
}

TEST(Engine, KvCacheTypesThatCannotHoldTheModelAreOneClearError) {
  EngineConfig config;
  config.model_path = model_path("synthetic/synth-qwen3-d128-f32.gguf");
  config.kv_cache_memory_bytes = 16 << 20;
  config.kv_cache_type_v = KvCacheType::kQ4_0;  // K stays f16
  auto engine = Engine::create(config);
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.status().message().find("K f16 and V q4_0"), std::string::npos) << engine.status().message();
  config.model_path = model_path("TinyStories-656K-f32.gguf");  // heads of 16
  config.kv_cache_type_k = KvCacheType::kQ8_0;
  engine = Engine::create(config);
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.status().message().find("multiple of 32"), std::string::npos) << engine.status().message();
}

TEST(Engine, RejectsBadRequests) {
  EngineConfig config;
  config.model_path = model_path("stories260K-f32.gguf");
  config.kv_cache_memory_bytes = 16 << 20;
  config.max_model_len = 64;
  auto engine = make_engine(config);
  EXPECT_FALSE(engine->add_request(std::vector<int32_t>{}, greedy(4)).ok());
  EXPECT_FALSE(engine->add_request(std::vector<int32_t>{1, -5}, greedy(4)).ok());
  EXPECT_FALSE(engine->add_request(std::vector<int32_t>(100, 3), greedy(4)).ok()) << "longer than max_model_len";
  GenerationParams zero_n = greedy(4);
  zero_n.n = 0;
  EXPECT_FALSE(engine->add_request(std::vector<int32_t>{1, 2}, zero_n).ok());
  EXPECT_FALSE(engine->has_unfinished_requests());
}

}  // namespace
}  // namespace tessera
