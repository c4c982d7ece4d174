// `tessera synth`: writes a random-weight llama GGUF of a real model shape, for speed work.
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "runtime/synth_model.h"

namespace tessera::app {
namespace {

struct SynthFlags {
  std::string shape;
  std::string type = "Q4_0";
  std::string output;
  std::string vocab;
  int64_t seed = 1;
};

std::string default_vocab_path() {
  const std::string relative = "../shared/models/vocab/ggml-vocab-llama-spm.gguf";
  if (std::filesystem::exists(relative)) return relative;
  // The default model lives in <shared>/models/: the vocabulary is next to it.
  return (std::filesystem::path(default_model_path()).parent_path() / "vocab" / "ggml-vocab-llama-spm.gguf").string();
}

int run_synth(const SynthFlags& f) {
  auto shape = synth_shape(f.shape);
  if (!shape) {
    std::string names;
    for (const auto& n : synth_shape_names()) names += (names.empty() ? "" : ", ") + n;
    return fail("unknown --shape '" + f.shape + "' (one of: " + names + ")");
  }
  auto type = synth_type_from_name(f.type);
  if (!type) return fail("unknown --type '" + f.type + "' (one of: Q4_0, Q8_0, Q4_K_M, F16, F32)");
  if (f.output.empty()) return fail("-o FILE is required");
  SynthOptions options;
  options.shape = *shape;
  options.type = *type;
  options.seed = static_cast<uint64_t>(f.seed);
  options.vocab_path = f.vocab.empty() ? default_vocab_path() : f.vocab;
  if (Status s = write_synth_model(options, f.output); !s.ok()) return fail(s.message());
  std::error_code ec;
  const auto size = std::filesystem::file_size(f.output, ec);
  std::fprintf(stderr, "wrote %s: %s %s, %.1f MB\n", f.output.c_str(), f.shape.c_str(), synth_type_name(*type).c_str(),
               ec ? 0.0 : static_cast<double>(size) / 1e6);
  return 0;
}

}  // namespace

Command add_synth_command(CLI::App& app) {
  auto flags = std::make_shared<SynthFlags>();
  CLI::App* cmd = app.add_subcommand("synth", "Write a random-weight model of a real shape (for benchmarks)");
  cmd->add_option("--shape", flags->shape, "smollm-135m, tinyllama-1.1b or tiny")->required();
  cmd->add_option("--type", flags->type, "Q4_0, Q8_0, Q4_K_M, F16 or F32 (llama.cpp's mix per tensor)")->capture_default_str();
  cmd->add_option("-o,--output", flags->output, "Output GGUF file")->required();
  cmd->add_option("--vocab", flags->vocab, "Vocabulary GGUF (default: shared ggml-vocab-llama-spm.gguf)");
  cmd->add_option("--seed", flags->seed, "Seed of the random weights")->capture_default_str();
  return {cmd, [flags] { return run_synth(*flags); }};
}

}  // namespace tessera::app
