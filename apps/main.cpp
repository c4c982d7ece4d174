// tessera: one binary, one subcommand per task (generate, tokenize, info, ...).
#include <cstdio>
#include <filesystem>

#include "commands.h"

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

void add_kv_cache_dtype_option(CLI::App* cmd, KvCacheType* type) {
  cmd->add_option_function<std::string>(
         "--kv-cache-dtype", [type](const std::string& name) { *type = name == "f32" ? KvCacheType::kF32 : KvCacheType::kF16; },
         "KV cache element type: f16 (default) or f32")
      ->transform(CLI::IsMember({"f16", "f32"}, CLI::ignore_case));
}

DType to_dtype(KvCacheType type) { return type == KvCacheType::kF32 ? DType::kF32 : DType::kF16; }

}  // namespace tessera::app

int main(int argc, char** argv) {
  CLI::App app{"tessera: run and serve large language models from GGUF files"};
  app.require_subcommand(1);
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
  };
  CLI11_PARSE(app, argc, argv);
  for (const auto& command : commands) {
    if (command.cli->parsed()) return command.run();
  }
  return 1;
}
