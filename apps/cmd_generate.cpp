// `tessera generate`: one prompt in, its continuation out as it is generated.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands.h"
#include "model_loading.h"
#include "base/timer.h"
#include "model/kv_storage.h"
#include "runtime/generator.h"

namespace tessera::app {
namespace {

struct GenerateFlags {
  std::string model_path;
  std::string prompt = "Once upon a time";
  int32_t num_predict = 256;  // -1: until end of generation or a full context
  int32_t context_size = 0;   // 0: the model's trained context length
  KvCacheType kv_cache_type = KvCacheType::kF16;
  std::optional<KvCacheType> kv_cache_type_k, kv_cache_type_v;  // --kv-cache-dtype-k / -v
  SamplingParams sampling;
  int64_t seed = -1;          // -1: random
  int32_t num_threads = 0;    // 0: physical cores
  ParallelConfig parallel;    // --tensor-parallel-size, --pipeline-parallel-size
  bool json = false;
  SpeculativeConfig speculative;  // on: the request runs through the Engine, which speculates
};

int default_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

// Rejects absurd parameters with a message naming the flag.
Status validate(const GenerateFlags& f) {
  if (f.num_predict < -1) return invalid_argument("-n must be -1 (unlimited) or >= 0");
  if (f.context_size < 0) return invalid_argument("-c must be >= 0");
  if (f.sampling.top_k < 0) return invalid_argument("--top-k must be >= 0");
  if (!(f.sampling.top_p > 0.0f && f.sampling.top_p <= 1.0f)) return invalid_argument("--top-p must be in (0, 1]");
  if (!(f.sampling.min_p >= 0.0f && f.sampling.min_p <= 1.0f)) return invalid_argument("--min-p must be in [0, 1]");
  if (!(f.sampling.repetition_penalty > 0.0f)) return invalid_argument("--repeat-penalty must be > 0");
  if (!(f.sampling.temperature >= 0.0f)) return invalid_argument("--temp must be >= 0");
  if (f.num_threads < 0 || f.num_threads > 1024) return invalid_argument("-t must be between 1 and 1024");
  return Status();
}

// With speculative decoding the prompt runs through the Engine (one request), which owns
// proposers and verification; the Generator path stays the plain one-token-a-step loop.
int run_generate_speculative(const GenerateFlags& f, const Tokenizer& tokenizer, const std::vector<int32_t>& prompt) {
  EngineConfig config;
  config.model_path = f.model_path;
  config.kv_cache_type = f.kv_cache_type;
  config.kv_cache_type_k = f.kv_cache_type_k;
  config.kv_cache_type_v = f.kv_cache_type_v;
  config.max_model_len = f.context_size;
  config.max_num_seqs = 1;
  config.num_threads = f.num_threads == 0 ? default_threads() : f.num_threads;
  config.speculative = f.speculative;
  config.tensor_parallel_size = f.parallel.tensor_parallel_size;
  config.pipeline_parallel_size = f.parallel.pipeline_parallel_size;
  auto engine = Engine::create(config);
  if (!engine.ok()) return fail(engine.status().message());
  GenerationParams params;
  static_cast<SamplingParams&>(params) = f.sampling;
  params.max_tokens = f.num_predict < 0 ? (*engine)->max_model_len() - static_cast<int32_t>(prompt.size())
                                        : std::max(f.num_predict, 1);
  auto id = (*engine)->add_request(prompt, params);
  if (!id.ok()) return fail(id.status().message());
  StreamingDetokenizer detokenizer(tokenizer);
  std::vector<int32_t> tokens;
  int64_t first_token_us = 0;
  const int64_t start_us = now_us();
  while ((*engine)->has_unfinished_requests()) {
    for (const RequestOutput& out : (*engine)->step()) {
      if (tokens.empty() && !out.new_token_ids.empty()) first_token_us = now_us();
      for (int32_t token : out.new_token_ids) {
        tokens.push_back(token);
        if (!f.json) std::fputs(detokenizer.push(token).c_str(), stdout);
      }
      std::fflush(stdout);
    }
  }
  const int64_t end_us = now_us();
  if (f.json) {
    nlohmann::json out;
    out["prompt_tokens"] = prompt;
    out["tokens"] = tokens;
    out["text"] = tokenizer.decode(tokens);
    std::puts(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  std::fputs(detokenizer.flush().c_str(), stdout);
  const double prompt_s = static_cast<double>(first_token_us - start_us) / 1e6;
  const double gen_s = static_cast<double>(end_us - first_token_us) / 1e6;
  std::fprintf(stderr, "\n[prompt: %zu tokens, %.1f tokens/s | generated: %zu tokens, %.1f tokens/s]\n%s\n",
               prompt.size(), prompt_s > 0 ? static_cast<double>(prompt.size()) / prompt_s : 0.0, tokens.size(),
               gen_s > 0 ? static_cast<double>(tokens.size() - 1) / gen_s : 0.0,
               describe_speculation((*engine)->stats()).c_str());
  return 0;
}

int run_generate(GenerateFlags f) {
  if (Status s = validate(f); !s.ok()) return fail(s.message());
  if (f.model_path.empty()) f.model_path = default_model_path();
  ModelOptions options;
  options.max_context = f.context_size;
  options.parallel = f.parallel;
  auto loaded = load_model(f.model_path, /*with_weights=*/true, options);
  if (!loaded.ok()) return fail(loaded.status().message());
  Model& model = *loaded->model;
  const Tokenizer& tokenizer = *loaded->tokenizer;
  const KvTypes kv_types = kv_cache_dtypes(f.kv_cache_type, f.kv_cache_type_k, f.kv_cache_type_v);
  if (Status s = check_kv_cache_type(kv_types, model.config().head_dim); !s.ok()) {
    return fail(s.message());
  }

  const std::vector<int32_t> prompt = tokenizer.encode(f.prompt, /*add_special=*/true, /*parse_special=*/true);
  if (f.speculative.method != SpecMethod::kNone) {
    f.sampling.seed = f.seed < 0 ? 0xFFFFFFFFu : static_cast<uint64_t>(f.seed);
    return run_generate_speculative(f, tokenizer, prompt);
  }
  const int32_t context = model.max_context();
  const int32_t max_new = f.num_predict < 0 ? context : f.num_predict;
  f.sampling.seed = f.seed < 0 ? 0xFFFFFFFFu : static_cast<uint64_t>(f.seed);
  Sampler sampler(f.sampling);
  ThreadPool pool(f.num_threads == 0 ? default_threads() : f.num_threads);
  Generator generator(model, pool, context, kv_types);
  StreamingDetokenizer detokenizer(tokenizer);
  auto is_eog = [&](int32_t id) { return tokenizer.is_eog(id); };
  auto on_token = [&](int32_t id) {
    if (f.json) return;
    std::fputs(detokenizer.push(id).c_str(), stdout);
    std::fflush(stdout);
  };
  auto result = generator.generate(prompt, max_new, sampler, is_eog, on_token);
  if (!result.ok()) return fail(result.status().message());

  if (f.json) {
    nlohmann::json out;
    out["prompt_tokens"] = prompt;
    out["tokens"] = result->tokens;
    out["text"] = tokenizer.decode(result->tokens);
    std::puts(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::fputs(detokenizer.flush().c_str(), stdout);
    std::fputc('\n', stdout);
    const double prompt_s = static_cast<double>(result->prompt_us) / 1e6;
    const double gen_s = static_cast<double>(result->generate_us) / 1e6;
    std::fprintf(stderr, "\n[prompt: %zu tokens, %.1f tokens/s | generated: %zu tokens, %.1f tokens/s%s]\n",
                 prompt.size(), prompt_s > 0 ? static_cast<double>(prompt.size()) / prompt_s : 0.0,
                 result->tokens.size(), gen_s > 0 ? static_cast<double>(result->tokens.size()) / gen_s : 0.0,
                 result->stopped_at_eog ? ", stopped at end of text" : "");
  }
  return 0;
}

}  // namespace

Command add_generate_command(CLI::App& app) {
  auto flags = std::make_shared<GenerateFlags>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate a continuation of a prompt");
  cmd->add_option("-m,--model", flags->model_path, "GGUF model file (default: TinyStories-656K-Q8_0)");
  cmd->add_option("-p,--prompt", flags->prompt, "Prompt text")->capture_default_str();
  cmd->add_option("-n,--n-predict", flags->num_predict, "Tokens to generate (-1: until end of text)")->capture_default_str();
  cmd->add_option("-c,--ctx-size", flags->context_size, "Context size in tokens (0: the model's)")->capture_default_str();
  add_kv_cache_dtype_option(cmd, &flags->kv_cache_type, &flags->kv_cache_type_k, &flags->kv_cache_type_v);
  add_parallel_options(cmd, &flags->parallel.tensor_parallel_size, &flags->parallel.pipeline_parallel_size);
  cmd->add_option("--temp", flags->sampling.temperature, "Temperature (0: greedy)")->capture_default_str();
  cmd->add_option("--top-k", flags->sampling.top_k, "Top-k (0: off)")->capture_default_str();
  cmd->add_option("--top-p", flags->sampling.top_p, "Top-p (1: off)")->capture_default_str();
  cmd->add_option("--min-p", flags->sampling.min_p, "Min-p (0: off)")->capture_default_str();
  cmd->add_option("--repeat-penalty", flags->sampling.repetition_penalty, "Repetition penalty (1: off)")->capture_default_str();
  cmd->add_option("--repeat-last-n", flags->sampling.repetition_last_n, "Tokens the penalty looks back over")->capture_default_str();
  cmd->add_option("--seed", flags->seed, "RNG seed (-1: random)")->capture_default_str();
  cmd->add_option("-t,--threads", flags->num_threads, "Threads (0: all cores)")->capture_default_str();
  cmd->add_flag("--json", flags->json, "Print one JSON object with prompt_tokens, tokens and text");
  add_speculative_options(cmd, &flags->speculative);
  return {cmd, [flags] { return run_generate(*flags); }};
}

}  // namespace tessera::app
