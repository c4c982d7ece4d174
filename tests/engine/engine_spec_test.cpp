// Speculative decoding end to end on the real tiny models: greedy outputs with n-gram or
// draft-model drafts are exactly greedy outputs without them (llama.cpp's goldens, alone and in a
// batch of 40 mixed requests with chunking, prefix caching and preemption), sampling keeps the
// target's distribution, blocks never leak through rollbacks (with f16 and q8_0 / q4_0 KV caches:
// a rejected draft's rows are overwritten whole), and bad configs get one clear error.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "engine/engine_test_util.h"
#include "model/golden.h"
#include "tessera/engine.h"

namespace tessera {
namespace {

using testing::drain;
using testing::engine_model_path;
using testing::greedy;
using testing::make_engine;

struct SpecCase {
  std::string golden;  // golden file name
  std::string draft;   // a smaller model with the same vocabulary; empty: none is smaller
};

EngineConfig base_config(const std::string& path) {
  EngineConfig config;
  config.model_path = path;
  config.kv_cache_memory_bytes = 32 << 20;
  config.kv_cache_type = KvCacheType::kF32;
  config.max_model_len = 256;
  config.num_threads = 2;
  return config;
}

SpeculativeConfig ngram(int32_t k) {
  SpeculativeConfig spec;
  spec.method = SpecMethod::kNgram;
  spec.num_spec_tokens = k;
  spec.ngram_min = 1;  // proposes often, so rejections and rollbacks happen often too
  spec.ngram_max = 3;
  return spec;
}

SpeculativeConfig draft(const std::string& name, int32_t k) {
  SpeculativeConfig spec;
  spec.method = SpecMethod::kDraft;
  spec.num_spec_tokens = k;
  spec.draft_model_path = engine_model_path(name);
  return spec;
}

std::vector<std::vector<int32_t>> run_all(const EngineConfig& config,
                                          const std::vector<std::vector<int32_t>>& prompts, int32_t max_tokens,
                                          EngineStats* stats = nullptr) {
  auto engine = make_engine(config);
  if (engine == nullptr) return std::vector<std::vector<int32_t>>(prompts.size());
  std::vector<EngineRequestId> ids;
  for (const auto& prompt : prompts) ids.push_back(*engine->add_request(prompt, greedy(max_tokens)));
  auto tokens = drain(*engine);
  if (stats != nullptr) *stats = engine->stats();
  std::vector<std::vector<int32_t>> outputs;
  for (EngineRequestId id : ids) outputs.push_back(tokens[{id, 0}]);
  return outputs;
}

class EngineSpecGolden : public ::testing::TestWithParam<SpecCase> {};

TEST_P(EngineSpecGolden, GreedyWithSpeculationIsGreedyWithout) {
  const testing::GoldenFile golden = testing::load_golden(GetParam().golden);
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& c : golden.cases) prompts.push_back(c.prompt_ids);
  const int32_t max_tokens = static_cast<int32_t>(golden.cases[0].generated_ids.size());
  const EngineConfig config = base_config(golden.model_path);
  std::vector<std::vector<int32_t>> plain;
  for (const auto& prompt : prompts) plain.push_back(run_all(config, {prompt}, max_tokens)[0]);
  // The f32 files never leave llama.cpp's greedy path: check against it too.
  if (GetParam().golden.find("f32") != std::string::npos) {
    for (size_t i = 0; i < prompts.size(); ++i) {
      const auto& expected = golden.cases[i].generated_ids;  // plain may stop early at a short context
      EXPECT_TRUE(std::equal(plain[i].begin(), plain[i].end(), expected.begin())) << "case " << i;
    }
  }
  std::vector<SpeculativeConfig> specs = {ngram(4), ngram(kAdaptiveSpecTokens)};
  if (!GetParam().draft.empty()) specs.push_back(draft(GetParam().draft, 3));
  for (const SpeculativeConfig& spec : specs) {
    SCOPED_TRACE(spec.method == SpecMethod::kNgram ? "ngram" : "draft");
    EngineConfig with = config;
    with.speculative = spec;
    for (size_t i = 0; i < prompts.size(); ++i) {
      EXPECT_EQ(run_all(with, {prompts[i]}, max_tokens)[0], plain[i]) << "alone, case " << i;
    }
    EngineStats stats;
    EXPECT_EQ(run_all(with, prompts, max_tokens, &stats), plain) << "together";
    EXPECT_GT(stats.spec_num_draft_tokens, 0);
  }
}

std::vector<SpecCase> golden_cases() {
  std::vector<SpecCase> cases = {
      {"stories260K-f32", "stories260K-Q4_0.gguf"},     {"stories260K-Q8_0", "stories260K-Q4_0.gguf"},
      {"stories260K-Q4_K_M", "stories260K-Q4_0.gguf"},  {"stories260K-Q4_0", ""},
      {"TinyStories-656K-f32", "TinyStories-656K-Q4_0.gguf"},
      {"TinyStories-656K-Q8_0", "TinyStories-656K-Q4_0.gguf"},
      {"TinyStories-656K-Q4_K_M", "TinyStories-656K-Q4_0.gguf"},
      {"TinyStories-656K-Q4_0", ""},
  };
  // Every synthetic model speaks stories260K's 512-token vocabulary; its Q4_0 is smaller than all.
  for (const char* name :
       {"synth-gemma3-d256-swa16-Q4_K_M", "synth-gemma3-d64-swa16-Q8_0", "synth-gemma3-d64-swa16-f32",
        "synth-kq-d256-Q2_K", "synth-kq-d256-Q3_K_M", "synth-kq-d256-Q4_K_M", "synth-kq-d256-Q5_K_M",
        "synth-kq-d256-Q6_K", "synth-kq-d256-f32", "synth-llama-mqa-d128-Q8_0", "synth-llama-mqa-d128-f32",
        "synth-llama-mqa-d256-Q4_K_M", "synth-phi3-d128-Q8_0", "synth-phi3-d128-f32", "synth-phi3-d256-Q4_K_M",
        "synth-qwen2-d128-Q8_0", "synth-qwen2-d128-f32", "synth-qwen2-d256-Q4_K_M", "synth-qwen3-d128-Q8_0",
        "synth-qwen3-d128-f32", "synth-qwen3-d256-Q4_K_M", "synth-moe-d128-e8k2-f32", "synth-moe-d128-e8k2-Q8_0",
        "synth-qwen3moe-d64-e8k2-f32", "synth-qwen3moe-d64-e8k2-Q8_0", "synth-qwen3moe-d256-e4k2-Q4_K_M"}) {
    cases.push_back({std::string("synthetic/") + name, "stories260K-Q4_0.gguf"});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Goldens, EngineSpecGolden, ::testing::ValuesIn(golden_cases()),
                         [](const ::testing::TestParamInfo<SpecCase>& info) {
                           std::string name = info.param.golden;
                           for (char& ch : name) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return name;
                         });

// 40 mixed requests: repetitive prompts (n-gram hits), random ones, a shared prefix, single tokens.
std::vector<std::vector<int32_t>> mixed_prompts(int32_t vocab) {
  std::mt19937 rng(99);
  auto token = [&] { return static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab - 3)) + 3; };
  std::vector<int32_t> shared(40);
  for (int32_t& t : shared) t = token();
  std::vector<std::vector<int32_t>> prompts(40);
  for (int32_t i = 0; i < 40; ++i) {
    std::vector<int32_t>& p = prompts[static_cast<size_t>(i)];
    p.push_back(1);
    if (i % 4 == 0) p.insert(p.end(), shared.begin(), shared.end());
    if (i % 3 == 0) {
      std::vector<int32_t> phrase(3 + rng() % 6);
      for (int32_t& t : phrase) t = token();
      for (int r = 0; r < 5; ++r) p.insert(p.end(), phrase.begin(), phrase.end());
    } else if (i % 7 != 3) {
      for (uint32_t k = 0, n = 2 + rng() % 60; k < n; ++k) p.push_back(token());
    }
  }
  return prompts;
}

struct SpecBatchCase {
  std::string model;  // file name less ".gguf"
  KvCacheType kv_type = KvCacheType::kF16;
};

class EngineSpecBatch : public ::testing::TestWithParam<SpecBatchCase> {};

TEST_P(EngineSpecBatch, FortyMixedRequestsMatchRunningAloneWithoutSpeculation) {
  const std::string path = engine_model_path(GetParam().model + ".gguf");
  EngineConfig config = base_config(path);
  config.kv_cache_type = GetParam().kv_type;
  auto probe = make_engine(config);
  const auto prompts = mixed_prompts(probe->vocab_size());
  probe.reset();
  std::vector<std::vector<int32_t>> alone;
  EngineConfig single = config;
  single.max_num_seqs = 1;
  single.enable_prefix_caching = false;
  for (const auto& prompt : prompts) alone.push_back(run_all(single, {prompt}, 24)[0]);

  struct Variant {
    const char* name;
    SpeculativeConfig spec;
    int32_t max_num_batched_tokens;
    int32_t num_kv_blocks;  // 0 = plenty
    int32_t max_num_seqs = 64;
  };
  // The synthetic models speak stories260K's vocabulary too.
  const std::string draft_name = GetParam().model.rfind("TinyStories", 0) == 0 ? "TinyStories-656K-Q4_0.gguf"
                                                                               : "stories260K-Q4_0.gguf";
  const Variant variants[] = {
      {"ngram-k4", ngram(4), 2048, 0},
      // Adaptive k is 0 while 40 decodes make the step compute-bound (SpecDepth), so 4 at a time.
      {"ngram-auto", ngram(kAdaptiveSpecTokens), 2048, 0, 4},
      {"ngram-k8-chunked", ngram(8), 24, 0},
      {"ngram-k8-preemption", ngram(8), 128, 16},
      {"draft-k3", draft(draft_name, 3), 2048, 0},
      {"draft-auto-preemption", draft(draft_name, kAdaptiveSpecTokens), 128, 16, 6},
  };
  for (const Variant& v : variants) {
    SCOPED_TRACE(v.name);
    EngineConfig with = config;
    with.speculative = v.spec;
    with.max_num_batched_tokens = v.max_num_batched_tokens;
    with.max_num_seqs = v.max_num_seqs;
    if (v.num_kv_blocks > 0) {
      with.kv_cache_memory_bytes =
          static_cast<int64_t>(testing::kv_bytes_per_block(path, 16, config.kv_cache_type)) * v.num_kv_blocks;
    }
    EngineStats stats;
    const auto together = run_all(with, prompts, 24, &stats);  // drain() checks that no block leaked
    ASSERT_EQ(together.size(), alone.size());
    for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(together[i], alone[i]) << "request " << i;
    EXPECT_GT(stats.spec_num_accepted_tokens, 0);
    EXPECT_LT(stats.spec_num_accepted_tokens, stats.spec_num_draft_tokens);  // rollbacks happened
    if (v.num_kv_blocks > 0) EXPECT_GT(stats.num_preemptions, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    RealModels, EngineSpecBatch,
    ::testing::Values(SpecBatchCase{"stories260K-f32"}, SpecBatchCase{"TinyStories-656K-Q8_0"},
                      // quantized KV: heads of 32 values (the TinyStories heads are too narrow)
                      SpecBatchCase{"synthetic/synth-llama-mqa-d128-f32", KvCacheType::kQ8_0},
                      SpecBatchCase{"synthetic/synth-llama-mqa-d128-f32", KvCacheType::kQ4_0}),
    [](const ::testing::TestParamInfo<SpecBatchCase>& info) {
      return testing::model_test_name(info.param.model, info.param.kv_type);
    });

// Sampling through the engine with n-gram drafts: the token after the first (the first one
// verified against drafts) follows the target's own probabilities, which the engine reports as
// raw log-softmax logprobs (temperature 1, no truncation, so they are the sampling distribution).
TEST(EngineSpec, SampledTokensFollowTheTargetDistribution) {
  EngineConfig config = base_config(engine_model_path("stories260K-f32.gguf"));
  config.speculative = ngram(4);
  config.max_num_seqs = 256;
  config.max_waiting_requests = 0;
  auto engine = make_engine(config);
  // A story and its greedy continuation twice: the tokens the model likes next appear earlier, so
  // the n-gram proposer has drafts after the first token.
  const testing::GoldenCase golden = testing::load_golden("stories260K-f32").cases[0];
  std::vector<int32_t> prompt = golden.prompt_ids;
  for (int r = 0; r < 2; ++r) prompt.insert(prompt.end(), golden.generated_ids.begin(), golden.generated_ids.end());
  constexpr int kNumDraws = 8000;
  GenerationParams params;
  params.temperature = 1.0f;
  params.top_k = 0;
  params.top_p = 1.0f;
  params.min_p = 0.0f;
  params.max_tokens = 4;  // the first comes from the prompt's step; the next ones from verification
  params.ignore_eos = true;
  params.logprobs = 0;
  std::map<EngineRequestId, std::vector<int32_t>> tokens;
  std::map<EngineRequestId, std::vector<float>> logprobs;
  for (int n = 0; n < kNumDraws; ++n) {
    params.seed = static_cast<uint64_t>(n);
    ASSERT_TRUE(engine->add_request(prompt, params).ok());
  }
  while (engine->has_unfinished_requests()) {
    for (const RequestOutput& out : engine->step()) {
      for (size_t i = 0; i < out.new_token_ids.size(); ++i) {
        tokens[out.request_id].push_back(out.new_token_ids[i]);
        logprobs[out.request_id].push_back(out.logprobs[i].sampled.logprob);
      }
    }
  }
  EXPECT_GT(engine->stats().spec_num_accepted_tokens, 0) << engine->stats().spec_num_draft_tokens << " drafted";
  // Condition on the most common first token, so that every second token shares one context.
  std::map<int32_t, int> first_counts;
  for (const auto& [id, t] : tokens) ++first_counts[t[0]];
  const int32_t mode = std::max_element(first_counts.begin(), first_counts.end(), [](auto& a, auto& b) {
                         return a.second < b.second;
                       })->first;
  const int num_in_context = first_counts[mode];
  ASSERT_GT(num_in_context, 2000);
  std::map<int32_t, int> counts;
  std::map<int32_t, double> probs;
  for (const auto& [id, t] : tokens) {
    if (t[0] != mode) continue;
    ++counts[t[1]];
    probs[t[1]] = std::exp(logprobs[id][1]);
  }
  // Each token's frequency within 4.5 binomial standard errors of its probability.
  double covered = 0.0;
  for (const auto& [token, count] : counts) {
    const double p = probs[token];
    covered += p;
    const double se = std::sqrt(p * (1 - p) / num_in_context);
    EXPECT_NEAR(static_cast<double>(count) / num_in_context, p, 4.5 * se + 1e-3) << "token " << token;
  }
  EXPECT_GT(covered, 0.9);
}

// Requests that run to the very end of max_model_len: the draft model must not be asked for
// positions past its context (it used to stop the process with "position 96 outside context 96"),
// and the tokens stay the greedy ones without speculation.
TEST(EngineSpec, DraftsStopAtTheEndOfTheContext) {
  EngineConfig config = base_config(engine_model_path("TinyStories-656K-f32.gguf"));
  config.max_model_len = 96;
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 6; ++i) {
    std::vector<int32_t> prompt = {1};
    for (int j = 0; j < 20 + 5 * i; ++j) prompt.push_back(100 + (i * 31 + j * 7) % 300);
    prompts.push_back(prompt);
  }
  // Each request asks for exactly what is left of the context.
  auto run = [&](const EngineConfig& c) {
    auto engine = make_engine(c);
    std::vector<EngineRequestId> ids;
    for (const auto& prompt : prompts) {
      ids.push_back(*engine->add_request(prompt, greedy(96 - static_cast<int32_t>(prompt.size()))));
    }
    auto tokens = drain(*engine);
    std::vector<std::vector<int32_t>> outputs;
    for (EngineRequestId id : ids) outputs.push_back(tokens[{id, 0}]);
    return outputs;
  };
  const auto expected = run(config);
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(prompts[i].size() + expected[i].size(), 96u);
  EngineConfig speculating = config;
  speculating.speculative = draft("TinyStories-656K-Q4_0.gguf", 8);
  EXPECT_EQ(run(speculating), expected);
}

TEST(EngineSpec, BadConfigsAreOneClearError) {
  const std::string target = engine_model_path("stories260K-f32.gguf");
  auto expect_error = [&](SpeculativeConfig spec, const std::string& model, const std::string& words) {
    EngineConfig config = base_config(model);
    config.speculative = std::move(spec);
    auto engine = Engine::create(config);
    ASSERT_FALSE(engine.ok());
    EXPECT_NE(engine.status().message().find(words), std::string::npos) << engine.status().message();
  };
  expect_error(ngram(-3), target, "num_spec_tokens");
  expect_error(ngram(0), target, "num_spec_tokens");
  expect_error(ngram(1000), target, "num_spec_tokens");
  SpeculativeConfig sizes = ngram(4);
  sizes.ngram_min = 5;
  sizes.ngram_max = 2;
  expect_error(sizes, target, "n-gram");
  expect_error(draft("TinyStories-656K-Q4_0.gguf", 4), target, "another vocabulary");
  expect_error(draft("stories260K-f32.gguf", 4), engine_model_path("stories260K-Q4_0.gguf"), "not smaller");
  expect_error(draft("no-such-model.gguf", 4), target, "draft model");
  SpeculativeConfig no_path = ngram(4);
  no_path.method = SpecMethod::kDraft;
  expect_error(no_path, target, "draft model path");
}

}  // namespace
}  // namespace tessera
