// `tessera bench-throughput`: offline throughput like vLLM's benchmark_throughput. N random-token
// prompts (the first P tokens shared by all), submitted at once, each generating exactly O tokens.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <random>
#include <thread>

#include "base/progress.h"
#include "base/timer.h"
#include "commands.h"
#include "gguf/gguf_file.h"
#include "grammar/gbnf.h"
#include "grammar/json_schema.h"
#include "serve/structured_output.h"
#include "tessera/engine.h"
#include "tokenizer/tokenizer.h"

namespace tessera::app {
namespace {

struct BenchFlags {
  std::string model_path;
  int32_t num_prompts = 64;
  int32_t input_len = 128;
  int32_t output_len = 64;
  int32_t prefix_len = 0;               // leading prompt tokens shared by every request
  int32_t max_num_seqs = 64;
  int32_t max_num_batched_tokens = 2048;
  int64_t kv_cache_memory = 0;          // bytes; 0 = a share of free RAM
  bool no_prefix_caching = false;
  int32_t block_size = 16;              // tokens per KV block
  KvCacheType kv_cache_type = KvCacheType::kF16;
  std::optional<KvCacheType> kv_cache_type_k, kv_cache_type_v;  // --kv-cache-dtype-k / -v
  int32_t num_threads = 0;              // 0: all cores
  int32_t tensor_parallel_size = 1, pipeline_parallel_size = 1;
  uint32_t seed = 0;
  float temperature = 0.0f;             // 0: greedy; vLLM's benchmark samples at 1.0
  float top_p = 1.0f;
  std::string output_format = "text";   // text | json
  // > 0: each prompt is one random phrase of this many tokens repeated up to input_len (a copying
  // workload, where n-gram speculation has something to find).
  int32_t repeat_phrase_len = 0;
  SpeculativeConfig speculative;
  // Structured output: every request constrained by this JSON schema or GBNF grammar (the cost of
  // masking). EOS stays ignored, so use a grammar that outlasts --output-len: tokens after its end
  // are not constrained.
  std::string json_schema_path;
  std::string grammar_path;
};

// The grammar every request carries (null when none was asked for), bound to the model's vocabulary.
Expected<std::shared_ptr<const grammar::CompiledGrammar>> load_bench_grammar(const BenchFlags& f,
                                                                            const std::vector<int32_t>& eog_ids) {
  if (f.json_schema_path.empty() && f.grammar_path.empty()) return std::shared_ptr<const grammar::CompiledGrammar>();
  if (!f.json_schema_path.empty() && !f.grammar_path.empty()) return invalid_argument("give --json-schema or --grammar, not both");
  const std::string& path = f.json_schema_path.empty() ? f.grammar_path : f.json_schema_path;
  std::ifstream in(path);
  if (!in) return not_found(path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  Expected<std::shared_ptr<const grammar::Grammar>> parsed = Status();
  if (!f.json_schema_path.empty()) {
    const nlohmann::ordered_json schema = nlohmann::ordered_json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    if (schema.is_discarded()) return invalid_argument(path + ": not JSON");
    parsed = grammar::compile_json_schema(schema);
  } else {
    parsed = grammar::parse_gbnf(text.str());
  }
  if (!parsed.ok()) return Status(parsed.status().code(), path + ": " + parsed.status().message());
  TS_ASSIGN_OR_RETURN(std::unique_ptr<gguf::GgufFile> file, gguf::GgufFile::open(f.model_path));
  TS_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, Tokenizer::from_gguf(*file));
  return grammar::CompiledGrammar::create(std::move(parsed).value(), serve::grammar_vocabulary(*tokenizer, eog_ids));
}

Status validate(const BenchFlags& f) {
  if (f.num_prompts < 1) return invalid_argument("--num-prompts must be >= 1");
  if (f.input_len < 1) return invalid_argument("--input-len must be >= 1");
  if (f.output_len < 1) return invalid_argument("--output-len must be >= 1");
  if (f.prefix_len < 0 || f.prefix_len > f.input_len) return invalid_argument("--prefix-len must be in [0, --input-len]");
  if (f.num_threads < 0 || f.num_threads > 1024) return invalid_argument("-t must be between 1 and 1024");
  if (f.block_size < 1 || f.block_size > 1024) return invalid_argument("--block-size must be between 1 and 1024");
  if (f.kv_cache_memory < 0) return invalid_argument("--kv-cache-memory must be >= 0");
  if (!(f.temperature >= 0.0f && f.temperature <= 100.0f)) return invalid_argument("--temperature must be in [0, 100]");
  if (!(f.top_p > 0.0f && f.top_p <= 1.0f)) return invalid_argument("--top-p must be in (0, 1]");
  if (f.output_format != "text" && f.output_format != "json") return invalid_argument("-o must be text or json");
  if (f.repeat_phrase_len < 0) return invalid_argument("--repeat-phrase-len must be >= 0");
  return Status();
}

std::vector<std::vector<int32_t>> make_prompts(const BenchFlags& f, int32_t vocab_size) {
  std::mt19937 rng(f.seed);
  // Ids 0..2 are usually <unk>, <s>, </s>: keep random prompts to ordinary tokens.
  const int32_t low = vocab_size > 8 ? 3 : 0;
  std::uniform_int_distribution<int32_t> token(low, vocab_size - 1);
  std::vector<int32_t> prefix(static_cast<size_t>(f.prefix_len));
  for (int32_t& t : prefix) t = token(rng);
  std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(f.num_prompts), prefix);
  for (auto& prompt : prompts) {
    std::vector<int32_t> phrase(static_cast<size_t>(f.repeat_phrase_len));
    for (int32_t& t : phrase) t = token(rng);
    for (size_t i = 0; static_cast<int32_t>(prompt.size()) < f.input_len; ++i) {
      prompt.push_back(phrase.empty() ? token(rng) : phrase[i % phrase.size()]);
    }
  }
  return prompts;
}

int run_bench(BenchFlags f) {
  if (Status s = validate(f); !s.ok()) return fail(s.message());
  if (f.model_path.empty()) f.model_path = default_model_path();
  EngineConfig config;
  config.model_path = f.model_path;
  config.kv_cache_memory_bytes = f.kv_cache_memory;
  config.max_num_seqs = f.max_num_seqs;
  config.block_size = f.block_size;
  config.kv_cache_type = f.kv_cache_type;
  config.kv_cache_type_k = f.kv_cache_type_k;
  config.kv_cache_type_v = f.kv_cache_type_v;
  config.max_num_batched_tokens = f.max_num_batched_tokens;
  config.max_model_len = f.input_len + f.output_len;
  config.enable_prefix_caching = !f.no_prefix_caching;
  config.speculative = f.speculative;
  config.tensor_parallel_size = f.tensor_parallel_size;
  config.pipeline_parallel_size = f.pipeline_parallel_size;
  const unsigned cores = std::thread::hardware_concurrency();
  config.num_threads = f.num_threads > 0 ? f.num_threads : (cores == 0 ? 1 : static_cast<int32_t>(cores));
  auto engine = Engine::create(config);
  if (!engine.ok()) return fail(engine.status().message());

  const auto prompts = make_prompts(f, (*engine)->vocab_size());
  auto grammar = load_bench_grammar(f, (*engine)->eog_token_ids());
  if (!grammar.ok()) return fail(grammar.status().message());
  GenerationParams params;
  params.grammar = *grammar;
  params.temperature = f.temperature;
  params.top_p = f.top_p;
  params.top_k = 0;    // as vLLM's SamplingParams: no top-k, no min-p
  params.min_p = 0.0f;
  params.seed = f.seed;  // request i samples with seed + i: runs repeat exactly
  params.max_tokens = f.output_len;
  params.ignore_eos = true;
  const int64_t start_us = now_us();
  for (const auto& prompt : prompts) {
    auto id = (*engine)->add_request(prompt, params);
    if (!id.ok()) return fail(id.status().message());
  }
  int64_t num_output_tokens = 0;
  ProgressBar progress("bench-throughput", static_cast<int64_t>(f.num_prompts) * f.output_len, "output tokens");
  while ((*engine)->has_unfinished_requests()) {
    for (const RequestOutput& out : (*engine)->step()) num_output_tokens += static_cast<int64_t>(out.new_token_ids.size());
    progress.set(num_output_tokens);
  }
  progress.finish();
  const double elapsed_s = static_cast<double>(now_us() - start_us) / 1e6;
  const EngineStats stats = (*engine)->stats();
  const int64_t num_prompt_tokens = static_cast<int64_t>(f.num_prompts) * f.input_len;
  // Prompt tokens actually run through the model: all computed tokens minus what decode steps
  // ran. Each decode step runs its last sampled token plus the drafts it verifies, and yields its
  // accepted drafts plus one token, so decode steps = outputs - first tokens - accepted drafts.
  // Exact when nothing was preempted.
  const int64_t num_decode_steps = num_output_tokens - f.num_prompts - stats.spec_num_accepted_tokens;
  const int64_t prefill_tokens = stats.num_computed_tokens - num_decode_steps - stats.spec_num_draft_tokens;
  const double prefill_saved = 1.0 - static_cast<double>(prefill_tokens) / static_cast<double>(num_prompt_tokens);

  nlohmann::json out;
  out["model"] = f.model_path;
  out["num_prompts"] = f.num_prompts;
  out["input_len"] = f.input_len;
  out["output_len"] = f.output_len;
  out["prefix_len"] = f.prefix_len;
  out["max_num_seqs"] = f.max_num_seqs;
  out["block_size"] = f.block_size;
  const KvTypes kv_types = kv_cache_dtypes(f.kv_cache_type, f.kv_cache_type_k, f.kv_cache_type_v);
  out["kv_cache_dtype"] = std::string(dtype_name(kv_types.k));
  out["kv_cache_dtype_v"] = std::string(dtype_name(kv_types.v));
  out["max_num_batched_tokens"] = f.max_num_batched_tokens;
  out["threads"] = config.num_threads;
  out["temperature"] = f.temperature;
  out["top_p"] = f.top_p;
  out["constraint"] = !f.json_schema_path.empty() ? "json_schema" : !f.grammar_path.empty() ? "gbnf" : "none";
  out["elapsed_s"] = elapsed_s;
  out["requests_per_s"] = f.num_prompts / elapsed_s;
  out["output_tokens_per_s"] = static_cast<double>(num_output_tokens) / elapsed_s;
  out["total_tokens_per_s"] = static_cast<double>(num_prompt_tokens + num_output_tokens) / elapsed_s;
  out["num_output_tokens"] = num_output_tokens;
  out["num_steps"] = stats.num_steps;
  if (const auto ranks = (*engine)->rank_stats(); ranks.size() > 1) {  // a parallel job (docs/distributed.md)
    out["tensor_parallel_size"] = config.tensor_parallel_size;
    out["pipeline_parallel_size"] = config.pipeline_parallel_size;
    out["num_pipelined_steps"] = stats.num_pipelined_steps;
    for (const Engine::RankStats& r : ranks) {
      out["rank_weight_bytes"].push_back(r.resident_weight_bytes);
      out["rank_bytes_sent_per_output_token"].push_back(static_cast<double>(r.bytes_sent) /
                                                        static_cast<double>(std::max<int64_t>(num_output_tokens, 1)));
    }
  }
  out["num_kv_blocks"] = stats.num_kv_blocks;
  out["peak_kv_blocks_in_use"] = stats.peak_kv_blocks_in_use;
  out["num_preemptions"] = stats.num_preemptions;
  out["prefix_cache_hit_rate"] = stats.prefix_cache_hit_rate;
  out["prefill_tokens_saved"] = prefill_saved;
  out["kv_waste"] = stats.kv_waste;
  if (stats.moe_layer_calls > 0) {
    out["moe_layer_calls"] = stats.moe_layer_calls;
    out["moe_expert_reads"] = stats.moe_expert_reads;
    out["moe_routed_rows"] = stats.moe_routed_rows;
  }
  out["spec_num_drafts"] = stats.spec_num_drafts;
  out["spec_num_draft_tokens"] = stats.spec_num_draft_tokens;
  out["spec_num_accepted_tokens"] = stats.spec_num_accepted_tokens;
  out["spec_num_accepted_tokens_per_pos"] = stats.spec_num_accepted_tokens_per_pos;
  if (f.output_format == "json") {
    std::puts(out.dump().c_str());
    return 0;
  }
  std::printf("Throughput: %.2f requests/s, %.1f output tokens/s, %.1f total tokens/s (%.2f s, %lld steps)\n",
              f.num_prompts / elapsed_s, static_cast<double>(num_output_tokens) / elapsed_s,
              static_cast<double>(num_prompt_tokens + num_output_tokens) / elapsed_s, elapsed_s,
              static_cast<long long>(stats.num_steps));
  if (params.grammar) std::printf("Every request constrained by %s\n", out["constraint"].get<std::string>().c_str());
  std::printf("KV cache: %d blocks, peak %d in use, waste %.2f%%, %lld preemptions\n", stats.num_kv_blocks,
              stats.peak_kv_blocks_in_use, 100.0 * stats.kv_waste, static_cast<long long>(stats.num_preemptions));
  std::printf("Prefix cache: hit rate %.2f%%, prefill tokens saved %.2f%%\n", 100.0 * stats.prefix_cache_hit_rate,
              100.0 * prefill_saved);
  if (stats.num_pipelined_steps > 0) {  // pipeline parallelism's virtual engines (docs/distributed.md)
    std::printf("Pipeline: %lld of %lld steps launched while another was in flight\n",
                static_cast<long long>(stats.num_pipelined_steps), static_cast<long long>(stats.num_steps));
  }
  if (stats.moe_layer_calls > 0) {
    const double calls = static_cast<double>(stats.moe_layer_calls);
    std::printf("MoE: %.1f experts read per layer call (each once), %.1f routed (token, expert) rows per call, "
                "%.1f rows per expert read\n",
                static_cast<double>(stats.moe_expert_reads) / calls, static_cast<double>(stats.moe_routed_rows) / calls,
                static_cast<double>(stats.moe_routed_rows) / static_cast<double>(stats.moe_expert_reads));
  }
  if (const std::string spec = describe_speculation(stats); !spec.empty()) std::printf("%s\n", spec.c_str());
  return 0;
}

}  // namespace

Command add_bench_throughput_command(CLI::App& app) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* cmd = app.add_subcommand("bench-throughput", "Offline throughput benchmark (like vLLM's benchmark_throughput)");
  cmd->add_option("-m,--model", flags->model_path, "GGUF model file (default: TinyStories-656K-Q8_0)");
  cmd->add_option("--num-prompts", flags->num_prompts, "Requests, all submitted at once")->capture_default_str();
  cmd->add_option("--input-len", flags->input_len, "Prompt tokens per request")->capture_default_str();
  cmd->add_option("--output-len", flags->output_len, "Output tokens per request (EOS ignored)")->capture_default_str();
  cmd->add_option("--prefix-len", flags->prefix_len, "Leading prompt tokens shared by all requests")->capture_default_str();
  cmd->add_option("--max-num-seqs", flags->max_num_seqs, "Running requests at most")->capture_default_str();
  cmd->add_option("--max-num-batched-tokens", flags->max_num_batched_tokens, "Tokens per step at most")->capture_default_str();
  cmd->add_option("--kv-cache-memory", flags->kv_cache_memory, "KV cache bytes (0: 10% of free RAM)")->capture_default_str();
  cmd->add_option("--block-size", flags->block_size, "Tokens per KV block")->capture_default_str();
  add_kv_cache_dtype_option(cmd, &flags->kv_cache_type, &flags->kv_cache_type_k, &flags->kv_cache_type_v);
  add_parallel_options(cmd, &flags->tensor_parallel_size, &flags->pipeline_parallel_size);
  cmd->add_flag("--no-prefix-caching", flags->no_prefix_caching, "Turn prefix caching off");
  cmd->add_option("--repeat-phrase-len", flags->repeat_phrase_len,
                  "Prompts repeat one random phrase of this many tokens (0: random tokens)")->capture_default_str();
  add_speculative_options(cmd, &flags->speculative);
  cmd->add_option("-t,--threads", flags->num_threads, "Threads (0: all cores)")->capture_default_str();
  cmd->add_option("--seed", flags->seed, "Seed of the random prompts and of sampling")->capture_default_str();
  cmd->add_option("--temperature", flags->temperature, "Sampling temperature (0: greedy)")->capture_default_str();
  cmd->add_option("--top-p", flags->top_p, "Nucleus sampling threshold (1: off)")->capture_default_str();
  cmd->add_option("--json-schema", flags->json_schema_path, "Constrain every request by this JSON schema file");
  cmd->add_option("--grammar", flags->grammar_path, "Constrain every request by this GBNF grammar file");
  cmd->add_option("-o,--output", flags->output_format, "Output format: text or json")->capture_default_str();
  return {cmd, [flags] { return run_bench(*flags); }};
}

}  // namespace tessera::app
