// `tessera bench-grammar`: the cost of constrained decoding on a real vocabulary: CompiledGrammar
// build time (every position's mask cache) and per-token mask time (median, p99) along random
// walks through the mask, for json_object, a nested JSON schema and a GBNF grammar.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

#include "commands.h"
#include "gguf/gguf_file.h"
#include "grammar/gbnf.h"
#include "grammar/grammar_matcher.h"
#include "grammar/json_schema.h"
#include "tokenizer/tokenizer.h"

namespace tessera::app {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchGrammarFlags {
  std::string vocab_path;
  int walks = 10;
  int steps = 100;
  uint32_t seed = 1;
  bool lazy = false;
};

constexpr const char* kNestedSchema = R"({
  "type": "object",
  "properties": {
    "id": {"type": "integer", "minimum": 0, "maximum": 100000},
    "name": {"type": "string", "maxLength": 40},
    "email": {"type": "string", "format": "email"},
    "role": {"enum": ["admin", "user", "guest"]},
    "address": {"type": "object", "properties": {
      "street": {"type": "string", "maxLength": 60}, "city": {"type": "string"},
      "zip": {"type": "string", "pattern": "^[0-9]{5}$"}}, "required": ["city"]},
    "scores": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}, "maxItems": 8},
    "active": {"type": "boolean"},
    "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}
  },
  "required": ["id", "name", "role", "active"]
})";

constexpr const char* kGbnf = R"(
root ::= "Answer: " sentence{1,3} "\nConfidence: " ("high" | "medium" | "low")
sentence ::= word (" " word){0,12} [.!?] " "?
word ::= [A-Za-z]+ | [0-9]{1,4} | "\"" [^"\n]{1,20} "\""
)";

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5))];
}

void bench_one(const char* name, std::shared_ptr<const grammar::Grammar> g,
               const std::shared_ptr<const grammar::TokenVocabulary>& vocab, const BenchGrammarFlags& f) {
  auto start = Clock::now();
  auto compiled = grammar::CompiledGrammar::create(g, vocab);
  if (!compiled.ok()) {
    std::printf("%-12s compile failed: %s\n", name, compiled.status().message().c_str());
    return;
  }
  size_t positions = 0;
  if (!f.lazy) positions = (*compiled)->precompute_all();
  const double compile_ms = ms_since(start);
  std::mt19937 rng(f.seed);
  std::vector<double> fill_us;
  std::vector<uint32_t> mask((*compiled)->bitmask_words());
  std::vector<int32_t> allowed;
  int closed = 0;
  for (int w = 0; w < f.walks; ++w) {
    grammar::GrammarMatcher matcher(*compiled);
    for (int step = 0; step < f.steps && !matcher.is_terminated(); ++step) {
      const auto t0 = Clock::now();
      matcher.fill_next_token_bitmask(mask);
      fill_us.push_back(ms_since(t0) * 1000.0);
      allowed.clear();
      for (size_t word = 0; word < mask.size(); ++word) {
        for (uint32_t bits = mask[word]; bits; bits &= bits - 1) allowed.push_back(static_cast<int32_t>(word * 32 + __builtin_ctz(bits)));
      }
      if (allowed.empty()) break;
      matcher.accept_token(allowed[std::uniform_int_distribution<size_t>(0, allowed.size() - 1)(rng)]);
    }
    closed += matcher.is_terminated() ? 1 : 0;
  }
  double mean = 0;
  for (double x : fill_us) mean += x;
  mean /= std::max<size_t>(1, fill_us.size());
  std::printf("%-12s compile %8.1f ms (%4zu entries%s)  mask/token: median %7.1f us  p99 %8.1f us  mean %7.1f us  max %8.1f us  (%zu masks, %d/%d walks closed)\n",
              name, compile_ms, positions, f.lazy ? ", lazy" : "", percentile(fill_us, 0.5), percentile(fill_us, 0.99), mean,
              percentile(fill_us, 1.0), fill_us.size(), closed, f.walks);
}

int run_bench_grammar(BenchGrammarFlags f) {
  if (f.vocab_path.empty()) {
    f.vocab_path = (std::filesystem::path(default_model_path()).parent_path() / "vocab" / "ggml-vocab-qwen3.gguf").string();
  }
  auto file = gguf::GgufFile::open(f.vocab_path);
  if (!file.ok()) return fail(file.status().message());
  auto tokenizer = Tokenizer::from_gguf(**file);
  if (!tokenizer.ok()) return fail(tokenizer.status().message());
  auto start = Clock::now();
  std::vector<std::string> bytes;
  for (int32_t id = 0; id < (*tokenizer)->vocab_size(); ++id) bytes.push_back((*tokenizer)->token_to_piece(id));
  auto vocab = grammar::TokenVocabulary::create(std::move(bytes), (*tokenizer)->eog_ids());
  std::printf("vocabulary %s: %d tokens, %zu trie nodes, built in %.1f ms\n", f.vocab_path.c_str(), vocab->size(),
              vocab->trie().size(), ms_since(start));
  bench_one("json_object", grammar::json_object_grammar(), vocab, f);
  auto schema = grammar::compile_json_schema(nlohmann::json::parse(kNestedSchema));
  if (!schema.ok()) return fail(schema.status().message());
  bench_one("schema", *schema, vocab, f);
  auto gbnf = grammar::parse_gbnf(kGbnf);
  if (!gbnf.ok()) return fail(gbnf.status().message());
  bench_one("gbnf", *gbnf, vocab, f);
  return 0;
}

}  // namespace

Command add_bench_grammar_command(CLI::App& app) {
  auto flags = std::make_shared<BenchGrammarFlags>();
  CLI::App* cmd = app.add_subcommand("bench-grammar", "Time constrained decoding: grammar compile and per-token mask");
  cmd->add_option("--vocab", flags->vocab_path, "GGUF whose vocabulary to use (default: ../shared qwen3 vocabulary)");
  cmd->add_option("--walks", flags->walks, "Random walks per grammar")->capture_default_str();
  cmd->add_option("--steps", flags->steps, "Tokens per walk at most")->capture_default_str();
  cmd->add_option("--seed", flags->seed, "Random seed")->capture_default_str();
  cmd->add_flag("--lazy", flags->lazy, "Do not precompute masks: each position's cache fills on first use (inside the timings)");
  return {cmd, [flags] { return run_bench_grammar(*flags); }};
}

}  // namespace tessera::app
