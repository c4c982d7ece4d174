// Tensor and pipeline parallelism against the single process, on every golden model. Runs under
// `mpirun -np 2` (ctest label mpi): rank 0 runs these tests, rank 1 is a worker
// (model/distributed.h). Each model is loaded twice on rank 0: alone (a single process) and split
// over both ranks (TP=2, then PP=2).
//  - PP=2 runs exactly the same arithmetic: every logit must be bitwise equal.
//  - TP=2 sums each attention output and FFN down projection in two halves and adds them, a
//    different f32 summation order: f32 models' teacher-forced logits within 1e-4; quantized
//    models within a loose bound (a last-bit change can flip one 8-bit activation rounding, as in
//    tests/model/golden_test.cpp). Free-running greedy ids must be equal up to the first step
//    where the single process's own top-1/top-2 margin is a near-tie.
// Without MPI, or run without mpirun, every test is skipped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <numeric>
#include <set>

#include <nlohmann/json.hpp>

#include "dist/communicator.h"
#include "engine/engine_test_util.h"
#include "gguf/gguf_file.h"
#include "grammar/compiled_grammar.h"
#include "grammar/json_schema.h"
#include "model/distributed.h"
#include "model/golden.h"
#include "model/model.h"
#include "runtime/generator.h"
#include "sampling/sampler.h"
#include "tessera/engine.h"
#include "tokenizer/tokenizer.h"

namespace tessera {
namespace {

constexpr float kF32Tolerance = 1e-4f;
// gemma3 rounds GELU's input and output to f16 (ggml's table), so a last-bit change in a sum now
// and then moves one activation by an f16 step (tests/model/golden_test.cpp: kGemmaF32Tolerance).
constexpr float kGemmaF32Tolerance = 1e-2f;
constexpr float kQuantizedTolerance = 1.5f;  // tests/model/golden_test.cpp's kSensitiveTolerance

bool have_two_ranks() { return dist::world().size() == 2; }

#define SKIP_WITHOUT_TWO_RANKS()                                                                      \
  if (!have_two_ranks()) GTEST_SKIP() << "needs mpirun -np 2 and a build with MPI (TESSERA_MPI)"

std::vector<std::string> golden_names() {
  std::vector<std::string> names;
  const std::filesystem::path root = std::filesystem::path(testing::shared_dir()) / "golden";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.path().extension() != ".json") continue;
    std::string name = std::filesystem::relative(entry.path(), root).replace_extension().string();
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Logits of every step of prompt + generated ids, teacher-forced in one batch (f32 KV).
std::vector<float> teacher_forced(Model& model, const std::vector<int32_t>& prompt, const std::vector<int32_t>& ids,
                                  ThreadPool& pool) {
  std::vector<int32_t> tokens = prompt;
  tokens.insert(tokens.end(), ids.begin(), ids.end() - 1);
  constexpr int32_t kBlock = 16;
  std::vector<int32_t> table((tokens.size() + kBlock - 1) / kBlock);
  std::iota(table.begin(), table.end(), 0);
  KvStorage kv(model.config().num_layers, static_cast<int32_t>(table.size()), kBlock, model.kv_cache_heads(),
               model.config().head_dim);
  ForwardBatch batch;
  batch.add_sequence(tokens, 0, table, kBlock, /*num_logits=*/0);
  for (size_t i = prompt.size() - 1; i < tokens.size(); ++i) batch.logit_rows.push_back(static_cast<int32_t>(i));
  std::vector<float> logits(batch.logit_rows.size() * static_cast<size_t>(model.config().vocab_size));
  kernels::ExecutionContext context(pool);
  model.forward(batch, kv, logits.data(), context);
  return logits;
}

std::vector<int32_t> greedy_ids(Model& model, const std::vector<int32_t>& prompt, int32_t steps, ThreadPool& pool) {
  Generator generator(model, pool, 256, DType::kF32);
  SamplingParams params;
  params.temperature = 0.0f;
  Sampler sampler(params);
  std::vector<int32_t> ids;
  auto result = generator.generate(prompt, steps, sampler, [](int32_t) { return false; },
                                   [&](int32_t id) { ids.push_back(id); });
  EXPECT_TRUE(result.ok()) << result.status().message();
  return ids;
}

float top2_margin(const float* logits, int32_t vocab) {
  float first = -INFINITY, second = -INFINITY;
  for (int32_t i = 0; i < vocab; ++i) {
    if (logits[i] > first) {
      second = first;
      first = logits[i];
    } else if (logits[i] > second) {
      second = logits[i];
    }
  }
  return first - second;
}

struct Mode {
  const char* name;
  ParallelConfig parallel;
};
const Mode kModes[] = {{"TP=2", {2, 1}}, {"PP=2", {1, 2}}};

class ParallelGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ParallelGolden, MatchesSingleProcess) {
  SKIP_WITHOUT_TWO_RANKS();
  const testing::GoldenFile golden = testing::load_golden(GetParam());
  const bool f32 = GetParam().ends_with("f32");
  const float f32_tolerance = GetParam().find("gemma3") != std::string::npos ? kGemmaF32Tolerance : kF32Tolerance;
  ThreadPool pool(1);
  auto single = Model::load(golden.model_path);
  ASSERT_TRUE(single.ok()) << single.status().message();
  const int32_t vocab = (*single)->config().vocab_size;
  for (const Mode& mode : kModes) {
    SCOPED_TRACE(mode.name);
    ModelOptions options;
    options.parallel = mode.parallel;
    auto split = Model::load(golden.model_path, options);
    if (!split.ok() && split.status().code() == StatusCode::kUnsupported) {
      // Said, not hidden: e.g. tensor parallelism of a mixture of experts.
      std::printf("[ parallel ] %s %s: not supported: %s\n", GetParam().c_str(), mode.name,
                  split.status().message().c_str());
      EXPECT_TRUE((*single)->config().is_moe() && mode.parallel.tensor_parallel_size > 1);
      continue;
    }
    ASSERT_TRUE(split.ok()) << split.status().message();
    float worst = 0.0f;
    size_t equal_steps = 0, total_steps = 0;
    for (const testing::GoldenCase& c : golden.cases) {
      const std::vector<float> expected = teacher_forced(**single, c.prompt_ids, c.generated_ids, pool);
      const std::vector<float> got = teacher_forced(**split, c.prompt_ids, c.generated_ids, pool);
      ASSERT_EQ(got.size(), expected.size());
      for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - expected[i]));
      if (mode.parallel.tensor_parallel_size == 1) {
        EXPECT_TRUE(got == expected) << "pipeline stages must not change a bit, prompt '" << c.prompt << "'";
      }
      // Free-running greedy ids: equal up to a near-tie of the single process's own logits.
      const auto ids_single = greedy_ids(**single, c.prompt_ids, 32, pool);
      const auto ids_split = greedy_ids(**split, c.prompt_ids, 32, pool);
      size_t step = 0;
      while (step < ids_single.size() && step < ids_split.size() && ids_single[step] == ids_split[step]) ++step;
      equal_steps += step;
      total_steps += ids_single.size();
      if (step < ids_single.size()) {
        const auto own = teacher_forced(**single, c.prompt_ids, ids_single, pool);
        const float margin = top2_margin(own.data() + step * static_cast<size_t>(vocab), vocab);
        EXPECT_LT(margin, f32 ? f32_tolerance : kQuantizedTolerance)
            << "prompt '" << c.prompt << "' diverges at step " << step << " where the margin is " << margin;
      }
    }
    std::printf("[ parallel ] %s %s: max |dlogit| %.2e, greedy ids equal for %zu of %zu steps\n", GetParam().c_str(),
                mode.name, worst, equal_steps, total_steps);
    EXPECT_LE(worst, f32 ? f32_tolerance : kQuantizedTolerance);
  }
}

INSTANTIATE_TEST_SUITE_P(AllGoldens, ParallelGolden, ::testing::ValuesIn(golden_names()),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& ch : name) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return name;
                         });

// Each rank holds about 1/T of the layer weights (the output head on rank 0 only), or its stage's layers.
TEST(Parallel, ResidentWeightsAreShards) {
  SKIP_WITHOUT_TWO_RANKS();
  const std::string path = testing::shared_dir() + "/models/TinyStories-656K-f32.gguf";
  auto single = Model::load(path);
  ASSERT_TRUE(single.ok());
  const int64_t whole = (*single)->rank_stats()[0].resident_weight_bytes;
  for (const Mode& mode : kModes) {
    ModelOptions options;
    options.parallel = mode.parallel;
    auto split = Model::load(path, options);
    ASSERT_TRUE(split.ok()) << split.status().message();
    const auto stats = (*split)->rank_stats();
    ASSERT_EQ(stats.size(), 2u);
    std::printf("[ parallel ] %s: resident weights %lld (single process) -> %lld + %lld bytes\n", mode.name,
                static_cast<long long>(whole), static_cast<long long>(stats[0].resident_weight_bytes),
                static_cast<long long>(stats[1].resident_weight_bytes));
    EXPECT_EQ(stats[0].resident_weight_bytes + stats[1].resident_weight_bytes, whole) << mode.name;
    EXPECT_LT(stats[1].resident_weight_bytes, whole * 3 / 4) << mode.name;
  }
}

// Under PP a step of >= 128 tokens runs as two micro-batches (one per stage), cut wherever the
// token count says, mid-sequence included: every logit must still be bitwise the single process's.
TEST(Parallel, PipelineMicroBatchesChangeNoBit) {
  SKIP_WITHOUT_TWO_RANKS();
  const std::string path = testing::shared_dir() + "/models/TinyStories-656K-f32.gguf";
  auto single = Model::load(path);
  ModelOptions options;
  options.parallel = {1, 2};
  auto split = Model::load(path, options);
  ASSERT_TRUE(single.ok() && split.ok());
  ThreadPool pool(1);
  // Five sequences of 61 tokens (305 in the step: micro-batches of 153 and 152 tokens), logits of
  // every row.
  constexpr int32_t kBlock = 16, kSeqs = 5, kLen = 61;
  const int32_t blocks_per_seq = (kLen + kBlock - 1) / kBlock;
  std::vector<std::vector<int32_t>> tables(kSeqs), tokens(kSeqs);
  ForwardBatch batch;
  for (int32_t s = 0; s < kSeqs; ++s) {
    for (int32_t i = 0; i < kLen; ++i) tokens[s].push_back(1 + (s * 131 + i * 17) % 500);
    for (int32_t b = 0; b < blocks_per_seq; ++b) tables[s].push_back(s * blocks_per_seq + b);
    batch.add_sequence(tokens[s], 0, tables[s], kBlock, /*num_logits=*/kLen);
  }
  auto run = [&](Model& model) {
    KvStorage kv(model.config().num_layers, kSeqs * blocks_per_seq, kBlock, model.kv_cache_heads(),
                 model.config().head_dim);
    std::vector<float> logits(batch.logit_rows.size() * static_cast<size_t>(model.config().vocab_size));
    kernels::ExecutionContext context(pool);
    model.forward(batch, kv, logits.data(), context);
    return logits;
  };
  ASSERT_EQ(batch.num_tokens(), kSeqs * kLen);
  EXPECT_TRUE(run(**split) == run(**single));
}

// A model no rank can split fails on every rank with one error, and the workers take the next load.
TEST(Parallel, LoadFailureIsOneErrorAndWorkersRecover) {
  SKIP_WITHOUT_TWO_RANKS();
  ModelOptions options;
  options.parallel = {2, 1};
  auto moe = Model::load(testing::shared_dir() + "/models/synthetic/synth-moe-d128-e8k2-f32.gguf", options);
  ASSERT_FALSE(moe.ok());
  EXPECT_NE(moe.status().message().find("rank 0: "), std::string::npos) << moe.status().message();
  options.parallel = {3, 1};
  auto wrong_size = Model::load(testing::shared_dir() + "/models/stories260K-f32.gguf", options);
  ASSERT_FALSE(wrong_size.ok());
  EXPECT_NE(wrong_size.status().message().find("mpirun -np 3"), std::string::npos) << wrong_size.status().message();
  options.parallel = {2, 1};
  auto ok = Model::load(testing::shared_dir() + "/models/stories260K-f32.gguf", options);
  EXPECT_TRUE(ok.ok()) << ok.status().message();
}

// The engine's batch invariance (tests/engine/engine_test.cpp) under TP=2 and PP=2: each request's
// greedy output is the same alone and in a batch, chunked or not, with or without prefix caching.
class EngineUnderParallelism : public ::testing::TestWithParam<Mode> {};

TEST_P(EngineUnderParallelism, BatchInvariance) {
  SKIP_WITHOUT_TWO_RANKS();
  EngineConfig base;
  base.model_path = testing::shared_dir() + "/models/TinyStories-656K-f32.gguf";
  base.kv_cache_memory_bytes = 32 << 20;
  base.max_model_len = 256;
  base.tensor_parallel_size = GetParam().parallel.tensor_parallel_size;
  base.pipeline_parallel_size = GetParam().parallel.pipeline_parallel_size;
  GenerationParams params;
  params.temperature = 0.0f;
  params.max_tokens = 24;
  params.ignore_eos = true;
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 12; ++i) {
    std::vector<int32_t> prompt = {1};
    for (int j = 0; j < 5 + 7 * i % 40; ++j) prompt.push_back(100 + (i * 37 + j * 11) % 400);
    prompts.push_back(prompt);
  }
  auto run = [&](EngineConfig config, const std::vector<std::vector<int32_t>>& batch) {
    auto engine = Engine::create(config);
    EXPECT_TRUE(engine.ok()) << engine.status().message();
    std::map<EngineRequestId, std::vector<int32_t>> out;
    std::vector<EngineRequestId> ids;
    for (const auto& prompt : batch) ids.push_back((*engine)->add_request(prompt, params).value());
    while ((*engine)->has_unfinished_requests()) {
      for (const RequestOutput& o : (*engine)->step()) {
        out[o.request_id].insert(out[o.request_id].end(), o.new_token_ids.begin(), o.new_token_ids.end());
      }
    }
    std::vector<std::vector<int32_t>> ordered;
    for (EngineRequestId id : ids) ordered.push_back(out[id]);
    return ordered;
  };
  std::vector<std::vector<int32_t>> alone;
  EngineConfig single_config = base;
  single_config.enable_prefix_caching = false;
  single_config.max_num_seqs = 1;
  for (const auto& prompt : prompts) alone.push_back(run(single_config, {prompt})[0]);
  for (const int32_t budget : {2048, 16}) {
    for (const bool caching : {true, false}) {
      EngineConfig config = base;
      config.max_num_batched_tokens = budget;
      config.enable_prefix_caching = caching;
      EXPECT_EQ(run(config, prompts), alone) << "budget " << budget << ", prefix caching " << caching;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, EngineUnderParallelism, ::testing::ValuesIn(kModes),
                         [](const auto& info) { return std::string(info.param.parallel.tensor_parallel_size > 1 ? "TP2" : "PP2"); });

// ---- Pipeline parallelism: one step per virtual engine in flight (docs/distributed.md) ----

// Tokens and finish reason of each (request, completion index), accumulated over steps.
struct EngineRun {
  std::map<std::pair<EngineRequestId, int32_t>, std::vector<int32_t>> tokens;
  std::map<std::pair<EngineRequestId, int32_t>, FinishReason> finish;
  EngineStats stats;
};

void collect_outputs(const std::vector<RequestOutput>& outputs, EngineRun& run) {
  for (const RequestOutput& o : outputs) {
    std::vector<int32_t>& t = run.tokens[{o.request_id, o.index}];
    t.insert(t.end(), o.new_token_ids.begin(), o.new_token_ids.end());
    if (o.finish_reason != FinishReason::kNone) run.finish[{o.request_id, o.index}] = o.finish_reason;
  }
}

// Steps `engine` until idle; after_step(step number) runs after each step (to abort requests).
// Every KV block must be back in the pools then (each virtual engine keeps its null block).
EngineRun step_to_end(Engine& engine, int32_t num_virtual_engines,
                      const std::function<void(int32_t)>& after_step = nullptr) {
  EngineRun run;
  for (int32_t step = 1; engine.has_unfinished_requests() && step < 100000; ++step) {
    collect_outputs(engine.step(), run);
    if (after_step) after_step(step);
  }
  run.stats = engine.stats();
  EXPECT_EQ(run.stats.num_steps_in_flight, 0);
  EXPECT_EQ(run.stats.num_free_kv_blocks, run.stats.num_kv_blocks - num_virtual_engines) << "KV blocks leaked";
  return run;
}

EngineConfig tinystories_config(int32_t pipeline_parallel_size) {
  EngineConfig config;
  config.model_path = testing::shared_dir() + "/models/TinyStories-656K-f32.gguf";
  config.kv_cache_memory_bytes = 32 << 20;
  config.max_model_len = 256;
  config.pipeline_parallel_size = pipeline_parallel_size;
  return config;
}

std::vector<std::vector<int32_t>> varied_prompts(int32_t count) {
  std::vector<std::vector<int32_t>> prompts;
  for (int32_t i = 0; i < count; ++i) {
    std::vector<int32_t> prompt = {1};
    for (int32_t j = 0; j < 3 + 5 * i % 29; ++j) prompt.push_back(100 + (i * 53 + j * 7) % 400);
    prompts.push_back(prompt);
  }
  return prompts;
}

// A new engine runs `prompts` to the end.
EngineRun run_prompts(const EngineConfig& config, const std::vector<std::vector<int32_t>>& prompts,
                      const GenerationParams& params) {
  auto engine = Engine::create(config);
  EXPECT_TRUE(engine.ok()) << engine.status().message();
  if (!engine.ok()) return {};
  for (const auto& prompt : prompts) EXPECT_TRUE((*engine)->add_request(prompt, params).ok());
  return step_to_end(**engine, config.pipeline_parallel_size);
}

// Many requests: the two virtual engines' steps overlap (one launched while the other's is still
// in flight), and every greedy output is the single process's.
TEST(PipelineStepsInFlight, OverlapAndMatchSingleProcess) {
  SKIP_WITHOUT_TWO_RANKS();
  const auto prompts = varied_prompts(16);
  const GenerationParams params = testing::greedy(20);
  const std::vector<EngineRun> runs = {run_prompts(tinystories_config(1), prompts, params),
                                       run_prompts(tinystories_config(2), prompts, params)};
  const EngineStats& stats = runs[1].stats;
  std::printf("[ parallel ] PP=2 engine: %lld steps, %lld launched while another was in flight\n",
              static_cast<long long>(stats.num_steps), static_cast<long long>(stats.num_pipelined_steps));
  EXPECT_EQ(runs[0].stats.num_pipelined_steps, 0);
  // Both virtual engines decode until the end: all but the first step and a few tail ones overlap.
  EXPECT_GE(stats.num_pipelined_steps * 10, stats.num_steps * 8);
  EXPECT_EQ(runs[1].tokens, runs[0].tokens);
}

// Requests aborted while their step is in flight: the step's late tokens are dropped, their
// blocks return, and every other request's output is unchanged; the engine then serves new
// requests on the freed blocks with the same outputs.
TEST(PipelineStepsInFlight, AbortInFlightChangesNoOtherOutput) {
  SKIP_WITHOUT_TWO_RANKS();
  const GenerationParams params = testing::greedy(24);
  const auto prompts = varied_prompts(12);
  const EngineRun reference = run_prompts(tinystories_config(1), prompts, params);

  auto engine = Engine::create(tinystories_config(2));
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  std::vector<EngineRequestId> ids;
  for (const auto& prompt : prompts) ids.push_back((*engine)->add_request(prompt, params).value());
  std::set<EngineRequestId> aborted;
  const EngineRun run = step_to_end(**engine, 2, [&](int32_t step) {
    if (step != 6) return;
    // Both virtual engines have a step in flight, holding every running request (a step decodes
    // them all): abort one request in three, spread over both.
    ASSERT_EQ((*engine)->stats().num_steps_in_flight, 2);
    for (size_t i = 0; i < ids.size(); i += 3) {
      ASSERT_TRUE((*engine)->abort(ids[i]).ok());
      aborted.insert(ids[i]);
    }
  });
  ASSERT_EQ(aborted.size(), 4u);
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto key = std::make_pair(ids[i], 0);
    // Both engines number requests from 1 in the order added.
    const std::vector<int32_t>& expected = reference.tokens.at(key);
    const std::vector<int32_t>& got = run.tokens.at(key);
    if (aborted.count(ids[i]) != 0) {
      EXPECT_EQ(run.finish.at(key), FinishReason::kAbort);
      ASSERT_LT(got.size(), expected.size());
      EXPECT_TRUE(std::equal(got.begin(), got.end(), expected.begin())) << "request " << i << " before its abort";
    } else {
      EXPECT_EQ(got, expected) << "request " << i;
      EXPECT_EQ(run.finish.at(key), FinishReason::kLength);
    }
  }
  // The same engine again, on the blocks the aborted requests held.
  std::vector<EngineRequestId> again;
  for (const auto& prompt : prompts) again.push_back((*engine)->add_request(prompt, params).value());
  const EngineRun second = step_to_end(**engine, 2);
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(second.tokens.at({again[i], 0}), reference.tokens.at({ids[i], 0})) << "request " << i << " again";
  }
}

// Speculation with a draft model (on rank 0 alone; it proposes when a step is collected): PP=2
// verifies the same drafts and yields the single process's greedy tokens.
TEST(PipelineStepsInFlight, DraftModelSpeculationMatchesSingleProcess) {
  SKIP_WITHOUT_TWO_RANKS();
  const auto prompts = varied_prompts(10);
  std::vector<EngineRun> runs;
  for (const int32_t pp : {1, 2}) {
    EngineConfig config = tinystories_config(pp);
    config.speculative.method = SpecMethod::kDraft;
    config.speculative.draft_model_path = testing::shared_dir() + "/models/TinyStories-656K-Q4_0.gguf";
    config.speculative.num_spec_tokens = 3;
    runs.push_back(run_prompts(config, prompts, testing::greedy(24)));
  }
  EXPECT_GT(runs[1].stats.num_pipelined_steps, 0);
  EXPECT_GT(runs[1].stats.spec_num_accepted_tokens, 0);
  EXPECT_EQ(runs[1].stats.spec_num_accepted_tokens, runs[0].stats.spec_num_accepted_tokens);
  EXPECT_EQ(runs[1].tokens, runs[0].tokens);
}

// Sampled (seeded) completions, n = 2 each, under JSON-schema grammars and with n-gram
// speculative decoding: sampling, grammar and drafts happen when a step is collected, so PP=2
// draws exactly the single process's tokens.
TEST(PipelineStepsInFlight, SampledGrammarSpeculationMatchSingleProcess) {
  SKIP_WITHOUT_TWO_RANKS();
  // A random-weight Qwen3 (byte-level BPE: every JSON character can be written).
  const std::string path = testing::shared_dir() + "/models/synthetic/synth-qwen3-d128-Q8_0.gguf";
  auto file = gguf::GgufFile::open(path);
  ASSERT_TRUE(file.ok());
  auto tokenizer = Tokenizer::from_gguf(**file);
  ASSERT_TRUE(tokenizer.ok());
  std::vector<std::string> pieces;
  for (int32_t id = 0; id < (*tokenizer)->vocab_size(); ++id) pieces.push_back((*tokenizer)->token_to_piece(id));
  const auto vocab = grammar::TokenVocabulary::create(std::move(pieces), (*tokenizer)->eog_ids());
  std::vector<std::shared_ptr<const grammar::CompiledGrammar>> grammars;
  for (const char* schema :
       {R"({"type": "object", "properties": {"name": {"type": "string", "maxLength": 10},
            "age": {"type": "integer", "minimum": 0, "maximum": 99}}, "required": ["name", "age"]})",
        R"({"type": "array", "items": {"enum": ["once", "upon", "a", "time"]}, "maxItems": 5})"}) {
    auto compiled = grammar::compile_json_schema(nlohmann::json::parse(schema));
    ASSERT_TRUE(compiled.ok()) << compiled.status().message();
    auto bound = grammar::CompiledGrammar::create(*compiled, vocab);
    ASSERT_TRUE(bound.ok());
    grammars.push_back(*bound);
  }
  const std::vector<int32_t> prompt = (*tokenizer)->encode("Once upon a time, there was a little", true, false);
  std::vector<EngineRun> runs;
  for (const int32_t pp : {1, 2}) {
    EngineConfig config;
    config.model_path = path;
    config.kv_cache_memory_bytes = 16 << 20;
    config.max_model_len = 256;
    config.pipeline_parallel_size = pp;
    config.speculative.method = SpecMethod::kNgram;
    config.speculative.num_spec_tokens = 3;
    config.speculative.ngram_min = 1;
    config.speculative.ngram_max = 3;
    auto engine = Engine::create(config);
    ASSERT_TRUE(engine.ok()) << engine.status().message();
    for (int32_t i = 0; i < 8; ++i) {
      GenerationParams p;
      p.temperature = i % 4 == 0 ? 0.0f : 0.8f;
      p.seed = 100 + static_cast<uint64_t>(i);
      p.n = 2;
      p.max_tokens = 64;
      if (i % 4 != 3) p.grammar = grammars[static_cast<size_t>(i) % grammars.size()];
      ASSERT_TRUE((*engine)->add_request(prompt, p).ok());
    }
    runs.push_back(step_to_end(**engine, pp));
  }
  ASSERT_EQ(runs[1].tokens.size(), 16u);
  EXPECT_GT(runs[1].stats.num_pipelined_steps, 0);
  EXPECT_GT(runs[1].stats.spec_num_drafts, 0);
  EXPECT_EQ(runs[1].tokens, runs[0].tokens);
  EXPECT_EQ(runs[1].finish, runs[0].finish);
  EXPECT_EQ(runs[1].stats.spec_num_accepted_tokens, runs[0].stats.spec_num_accepted_tokens);
}

}  // namespace
}  // namespace tessera

int main(int argc, char** argv) {
  tessera::dist::Session mpi(&argc, &argv);
  if (tessera::dist::world().rank() != 0) return tessera::run_worker();
  ::testing::InitGoogleTest(&argc, argv);
  const int result = RUN_ALL_TESTS();
  tessera::stop_workers();
  return result;
}
