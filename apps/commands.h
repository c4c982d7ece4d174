// The `tessera` subcommands. Each registers its flags on the CLI11 app and runs with them;
// a command is flag parsing + wiring of src/ modules, nothing more.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>

#include "engine/engine.h"
#include "model/kv_storage.h"
#include "tensor/dtype.h"
#include "tessera/engine.h"

namespace tessera::app {

// A registered subcommand: its CLI11 node and the action to run when it was chosen.
struct Command {
  CLI::App* cli = nullptr;
  std::function<int()> run;  // returns the process exit code
};

Command add_generate_command(CLI::App& app);
Command add_tokenize_command(CLI::App& app);
Command add_info_command(CLI::App& app);
Command add_bench_throughput_command(CLI::App& app);
Command add_synth_command(CLI::App& app);
Command add_bench_command(CLI::App& app);
Command add_quantize_command(CLI::App& app);
Command add_perplexity_command(CLI::App& app);
Command add_imatrix_command(CLI::App& app);
Command add_bench_serve_command(CLI::App& app);
Command add_serve_command(CLI::App& app);
Command add_chat_command(CLI::App& app);
Command add_bench_grammar_command(CLI::App& app);

// Path of the default model: ../shared/models/TinyStories-656K-Q8_0.gguf next to the project.
std::string default_model_path();

// Prints "tessera: <message>" to stderr and returns exit code 1.
int fail(const std::string& message);

// --kv-cache-dtype f16|f32|q8_0|q4_0 on `cmd` (default f16, llama.cpp's cache type) into `type`,
// and --kv-cache-dtype-k / --kv-cache-dtype-v (q8_0|q4_0: one half's type) into `k` / `v`;
// kv_cache_dtypes (engine/engine.h) gives K's and V's tensor types (check_kv_cache_type checks the mix).
void add_kv_cache_dtype_option(CLI::App* cmd, KvCacheType* type, std::optional<KvCacheType>* k,
                               std::optional<KvCacheType>* v, const char* default_name = "f16");

// --tensor-parallel-size and --pipeline-parallel-size on `cmd` (docs/distributed.md).
void add_parallel_options(CLI::App* cmd, int32_t* tensor_parallel_size, int32_t* pipeline_parallel_size);

// Speculative decoding flags (--spec-method ngram|draft, --num-spec-tokens K|auto, --ngram-min,
// --ngram-max, --draft-model) on `cmd`, written into `config` as they are parsed. A bad value of
// --num-spec-tokens is refused by the parser; ranges are checked by validate_speculative_config.
void add_speculative_options(CLI::App* cmd, SpeculativeConfig* config);
// One line on what speculation did, for benchmark and generate output ("" when it was off).
std::string describe_speculation(const EngineStats& stats);

}  // namespace tessera::app
