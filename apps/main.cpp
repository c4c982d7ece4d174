// tessera: one binary, one subcommand per task (generate, tokenize, info, ...).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>

#include "base/progress.h"
#include "commands.h"
#include "dist/communicator.h"
#include "engine/engine.h"
#include "model/distributed.h"

namespace tessera::app {

std::string default_model_path() {
  const std::string relative = "../shared/models/TinyStories-656K-Q8_0.gguf";
  if (std::filesystem::exists(relative)) return relative;
  return TESSERA_DEFAULT_MODEL;  // absolute path recorded at configure time
}

int fail(const std::string& message) {
  std::fprintf(stderr, "tessera: %s\n", message.c_str());
  return 1;
}

namespace {

KvCacheType kv_cache_type_named(const std::string& name) {
  for (KvCacheType t : {KvCacheType::kF16, KvCacheType::kF32, KvCacheType::kQ8_0, KvCacheType::kQ4_0}) {
    if (dtype_name(kv_cache_dtype(t)) == name) return t;
  }
  return KvCacheType::kF16;  // unreachable: CLI::IsMember admits the names above only
}

}  // namespace

void add_kv_cache_dtype_option(CLI::App* cmd, KvCacheType* type, std::optional<KvCacheType>* k,
                               std::optional<KvCacheType>* v, const char* default_name) {
  cmd->add_option_function<std::string>(
         "--kv-cache-dtype", [type](const std::string& name) { *type = kv_cache_type_named(name); },
         std::string("KV cache element type: f16, f32, q8_0 or q4_0 (32-value blocks, head size a multiple of 32); "
                     "default ") + default_name)
      ->transform(CLI::IsMember({"f16", "f32", "q8_0", "q4_0"}, CLI::ignore_case));
  for (auto [flag, half, what] : {std::tuple{"--kv-cache-dtype-k", k, "K"}, std::tuple{"--kv-cache-dtype-v", v, "V"}}) {
    cmd->add_option_function<std::string>(
           flag, [half](const std::string& name) { *half = kv_cache_type_named(name); },
           std::string(what) + " cache type, in place of --kv-cache-dtype's: q8_0 or q4_0 (K and V may differ when "
                               "both are quantized; K q8_0 with V q4_0 keeps most of q8_0's quality)")
        ->transform(CLI::IsMember({"q8_0", "q4_0"}, CLI::ignore_case));
  }
}

void add_parallel_options(CLI::App* cmd, int32_t* tensor_parallel_size, int32_t* pipeline_parallel_size) {
  cmd->add_option("--tensor-parallel-size,--tp", *tensor_parallel_size,
                  "Ranks splitting each layer (run under mpirun -np TP*PP; docs/distributed.md)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--pipeline-parallel-size,--pp", *pipeline_parallel_size,
                  "Pipeline stages of consecutive layers (run under mpirun -np TP*PP)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
}

void add_speculative_options(CLI::App* cmd, SpeculativeConfig* config) {
  cmd->add_option_function<std::string>(
         "--spec-method", [config](const std::string& name) {
           config->method = name == "ngram" ? SpecMethod::kNgram : name == "draft" ? SpecMethod::kDraft : SpecMethod::kNone;
         },
         "Speculative decoding: ngram (prompt lookup) or draft (--draft-model); off by default")
      ->transform(CLI::IsMember({"none", "ngram", "draft"}, CLI::ignore_case));
  cmd->add_option_function<std::string>(
         "--num-spec-tokens", [config](const std::string& value) {
           if (value == "auto") {
             config->num_spec_tokens = kAdaptiveSpecTokens;
             return;
           }
           size_t used = 0;
           const int parsed = std::stoi(value, &used);
           // 0 and negatives would read as "auto" downstream: refuse them here by name.
           if (used != value.size() || parsed < 1) {
             throw CLI::ValidationError("--num-spec-tokens", "must be 1.." + std::to_string(kMaxSpecTokens) +
                                                                 " or auto, got " + value);
           }
           config->num_spec_tokens = parsed;
         },
         "Draft tokens per step: K (1..32) or auto (adaptive, at most 8; default)");
  cmd->add_option("--ngram-min", config->ngram_min, "Shortest suffix the n-gram proposer looks up")->capture_default_str();
  cmd->add_option("--ngram-max", config->ngram_max, "Longest suffix the n-gram proposer looks up")->capture_default_str();
  cmd->add_option("--draft-model", config->draft_model_path, "Draft GGUF with the target's vocabulary (implies --spec-method draft)")
      ->each([config](const std::string&) { config->method = SpecMethod::kDraft; });
}

std::string describe_speculation(const EngineStats& stats) {
  if (stats.spec_num_drafts == 0) return "";
  const double rate = double(stats.spec_num_accepted_tokens) / double(std::max<int64_t>(stats.spec_num_draft_tokens, 1));
  std::string line = "Speculation: " + std::to_string(stats.spec_num_draft_tokens) + " draft tokens in " +
                     std::to_string(stats.spec_num_drafts) + " verifications, acceptance rate " +
                     std::to_string(100.0 * rate).substr(0, 5) + "%, mean accepted length " +
                     std::to_string(1.0 + double(stats.spec_num_accepted_tokens) / double(stats.spec_num_drafts)).substr(0, 4) +
                     ", accepted per position:";
  for (int64_t n : stats.spec_num_accepted_tokens_per_pos) line += " " + std::to_string(n);
  return line;
}

}  // namespace tessera::app

int main(int argc, char** argv) {
  // Under mpirun every rank but 0 is a worker: it reads no flags and prints nothing; rank 0 runs the
  // command and tells the workers what to load and run (docs/distributed.md).
  tessera::dist::Session mpi(&argc, &argv);
  if (tessera::dist::world().rank() != 0) return tessera::run_worker();
  struct StopWorkers {
    ~StopWorkers() { tessera::stop_workers(); }
  } stop_workers_at_exit;
  CLI::App app{"tessera: run and serve large language models from GGUF files"};
  app.require_subcommand(1);
  // --quiet before or after the subcommand: no progress lines on the terminal (they are drawn
  // only when stderr is a terminal anyway, so pipes and --json outputs never see them).
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "No progress lines on stderr (loading, quantize, perplexity, benchmarks)");
  app.fallthrough();
  const tessera::app::Command commands[] = {
      tessera::app::add_generate_command(app),
      tessera::app::add_tokenize_command(app),
      tessera::app::add_info_command(app),
      tessera::app::add_bench_throughput_command(app),
      tessera::app::add_synth_command(app),
      tessera::app::add_bench_command(app),
      tessera::app::add_quantize_command(app),
      tessera::app::add_perplexity_command(app),
      tessera::app::add_imatrix_command(app),
      tessera::app::add_bench_serve_command(app),
      tessera::app::add_serve_command(app),
      tessera::app::add_chat_command(app),
      tessera::app::add_bench_grammar_command(app),
  };
  CLI11_PARSE(app, argc, argv);
  tessera::set_progress_enabled(!quiet);
  for (const auto& command : commands) {
    if (command.cli->parsed()) return command.run();
  }
  return 1;
}
