// Structured output inside the engine: per-request grammars under continuous batching, with n > 1,
// speculative decoding (drafts the grammar forbids are rejected) and preemption (a resumed request
// replays its tokens through a fresh matcher). Greedy outputs are the same in every setting, and
// every output, sampled or greedy, is JSON that validates against its schema.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../grammar/json_schema_validator.h"
#include "engine/engine_test_util.h"
#include "gguf/gguf_file.h"
#include "grammar/compiled_grammar.h"
#include "grammar/json_schema.h"
#include "tokenizer/tokenizer.h"

namespace tessera {
namespace {

using nlohmann::json;
using testing::drain;
using testing::engine_model_path;

// A random-weight Qwen3: byte-level BPE, so every JSON character can be written (TinyStories has
// no "{" token at all; the dead-end test below uses that).
const std::string kModel = "synthetic/synth-qwen3-d128-Q8_0.gguf";

struct Vocab {
  std::unique_ptr<gguf::GgufFile> file;
  std::unique_ptr<Tokenizer> tokenizer;
  std::shared_ptr<const grammar::TokenVocabulary> grammar_vocab;
};

Vocab load_vocab(const std::string& model = kModel) {
  Vocab v;
  auto file = gguf::GgufFile::open(engine_model_path(model));
  EXPECT_TRUE(file.ok());
  v.file = std::move(file).value();
  auto tokenizer = Tokenizer::from_gguf(*v.file);
  EXPECT_TRUE(tokenizer.ok());
  v.tokenizer = std::move(tokenizer).value();
  std::vector<std::string> bytes;
  for (int32_t id = 0; id < v.tokenizer->vocab_size(); ++id) bytes.push_back(v.tokenizer->token_to_piece(id));
  v.grammar_vocab = grammar::TokenVocabulary::create(std::move(bytes), v.tokenizer->eog_ids());
  return v;
}

std::vector<json> schemas() {
  return {json::parse(R"({"type": "object", "properties": {"name": {"type": "string", "maxLength": 10},
              "age": {"type": "integer", "minimum": 0, "maximum": 99}}, "required": ["name", "age"]})"),
          json::parse(R"({"type": "array", "items": {"enum": ["once", "upon", "a", "time"]}, "minItems": 1, "maxItems": 5})"),
          json::parse(R"({"anyOf": [{"type": "boolean"}, {"type": "object", "properties": {"x": {"type": "integer",
              "minimum": -9, "maximum": 9}}, "required": ["x"]}]})")};
}

EngineConfig config_with(int64_t kv_bytes, bool speculate) {
  EngineConfig config;
  config.model_path = engine_model_path(kModel);
  config.kv_cache_memory_bytes = kv_bytes;
  config.max_model_len = 256;
  config.max_num_seqs = 16;
  config.num_threads = 2;
  if (speculate) {
    config.speculative.method = SpecMethod::kNgram;
    config.speculative.num_spec_tokens = 3;
    config.speculative.ngram_min = 1;
    config.speculative.ngram_max = 3;
  }
  return config;
}

struct GrammarRun {
  std::vector<std::vector<int32_t>> tokens;  // [request * n + index]
  EngineStats stats;
};

// 12 requests over the schemas, n = 2 each; greedy or sampled with fixed seeds.
GrammarRun run(const EngineConfig& config, const Vocab& vocab, float temperature) {
  GrammarRun result;
  auto engine = testing::make_engine(config);
  if (engine == nullptr) return result;
  const std::vector<json> all = schemas();
  std::vector<std::shared_ptr<const grammar::CompiledGrammar>> grammars;
  for (const json& schema : all) {
    auto compiled = grammar::compile_json_schema(schema);
    EXPECT_TRUE(compiled.ok()) << compiled.status().message();
    auto bound = grammar::CompiledGrammar::create(*compiled, vocab.grammar_vocab);
    EXPECT_TRUE(bound.ok());
    grammars.push_back(*bound);
  }
  std::vector<EngineRequestId> ids;
  for (int i = 0; i < 12; ++i) {
    GenerationParams p;
    p.temperature = temperature;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 100 + uint64_t(i);
    p.n = 2;
    p.max_tokens = 200;
    p.grammar = grammars[size_t(i) % grammars.size()];
    const std::vector<int32_t> prompt = vocab.tokenizer->encode("Once upon a time, there was a little", true, false);
    auto id = engine->add_request(prompt, p);
    EXPECT_TRUE(id.ok()) << id.status().message();
    ids.push_back(*id);
  }
  const testing::EngineTokens tokens = drain(*engine);
  for (EngineRequestId id : ids) {
    for (int32_t index = 0; index < 2; ++index) {
      auto it = tokens.find({id, index});
      result.tokens.push_back(it == tokens.end() ? std::vector<int32_t>{} : it->second);
    }
  }
  result.stats = engine->stats();
  return result;
}

// Every output ends with an end-of-generation id, and the text before it validates.
void expect_valid(const GrammarRun& r, const Vocab& vocab, const char* what) {
  const std::vector<json> all = schemas();
  ASSERT_EQ(r.tokens.size(), 24u) << what;
  for (size_t c = 0; c < r.tokens.size(); ++c) {
    std::vector<int32_t> t = r.tokens[c];
    ASSERT_FALSE(t.empty()) << what;
    EXPECT_TRUE(vocab.tokenizer->is_eog(t.back())) << what << ": completion " << c << " did not end at its grammar's end";
    if (vocab.tokenizer->is_eog(t.back())) t.pop_back();
    const std::string text = vocab.tokenizer->decode(t);
    const json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(value.is_discarded()) << what << ": not JSON: " << text;
    const json& schema = all[(c / 2) % all.size()];
    EXPECT_EQ(tessera::testing::validate_json(value, schema, schema), "") << what << ": " << text;
  }
}

TEST(EngineGrammar, GreedyOutputsAgreeWithSpeculationAndPreemptionAndAllValidate) {
  const Vocab vocab = load_vocab();
  const size_t block = testing::kv_bytes_per_block(engine_model_path(kModel), 16);
  const GrammarRun plain = run(config_with(32 << 20, false), vocab, 0.0f);
  const GrammarRun spec = run(config_with(32 << 20, true), vocab, 0.0f);
  const GrammarRun tight = run(config_with(int64_t(block) * 16, false), vocab, 0.0f);
  expect_valid(plain, vocab, "plain");
  EXPECT_EQ(spec.tokens, plain.tokens) << "speculative decoding changed greedy constrained outputs";
  EXPECT_EQ(tight.tokens, plain.tokens) << "preemption changed greedy constrained outputs";
  EXPECT_GT(spec.stats.spec_num_draft_tokens, 0);
  EXPECT_GT(tight.stats.num_preemptions, 0) << "the small pool was meant to preempt";
  std::printf("greedy: spec %lld drafts, %lld accepted; tight pool %lld preemptions\n",
              static_cast<long long>(spec.stats.spec_num_draft_tokens),
              static_cast<long long>(spec.stats.spec_num_accepted_tokens),
              static_cast<long long>(tight.stats.num_preemptions));
}

TEST(EngineGrammar, SampledOutputsValidateWithSpeculationAndPreemption) {
  const Vocab vocab = load_vocab();
  const size_t block = testing::kv_bytes_per_block(engine_model_path(kModel), 16);
  expect_valid(run(config_with(32 << 20, false), vocab, 1.0f), vocab, "sampled");
  expect_valid(run(config_with(32 << 20, true), vocab, 1.0f), vocab, "sampled + spec");
  expect_valid(run(config_with(int64_t(block) * 16, false), vocab, 1.0f), vocab, "sampled + preemption");
}

TEST(EngineGrammar, AVocabularyThatCannotWriteTheGrammarEndsTheRequestInsteadOfLeavingIt) {
  const std::string tinystories = "TinyStories-656K-Q8_0.gguf";  // no "{" token
  const Vocab vocab = load_vocab(tinystories);
  EngineConfig config = config_with(32 << 20, false);
  config.model_path = engine_model_path(tinystories);
  auto engine = testing::make_engine(config);
  ASSERT_NE(engine, nullptr);
  auto compiled = grammar::CompiledGrammar::create(grammar::json_object_grammar(), vocab.grammar_vocab);
  ASSERT_TRUE(compiled.ok());
  GenerationParams p;
  p.temperature = 1.0f;
  p.max_tokens = 50;
  p.grammar = *compiled;
  ASSERT_TRUE(engine->add_request(vocab.tokenizer->encode("Once upon a time", true, false), p).ok());
  const testing::EngineTokens tokens = drain(*engine);
  ASSERT_EQ(tokens.size(), 1u);
  const std::vector<int32_t>& out = tokens.begin()->second;
  ASSERT_EQ(out.size(), 1u) << "only an end-of-generation token fits";
  EXPECT_TRUE(vocab.tokenizer->is_eog(out[0]));
}

TEST(EngineGrammar, AGrammarForALargerVocabularyIsRefused) {
  auto engine = testing::make_engine(config_with(32 << 20, false));
  ASSERT_NE(engine, nullptr);
  std::vector<std::string> bytes(size_t(engine->vocab_size()) + 10, "a");
  auto vocab = grammar::TokenVocabulary::create(std::move(bytes), {});
  auto compiled = grammar::CompiledGrammar::create(grammar::json_object_grammar(), vocab);
  ASSERT_TRUE(compiled.ok());
  GenerationParams p = testing::greedy(4);
  p.grammar = *compiled;
  auto id = engine->add_request(std::vector<int32_t>{1, 2, 3}, p);
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.status().message().find("vocabulary"), std::string::npos) << id.status().message();
}

}  // namespace
}  // namespace tessera
