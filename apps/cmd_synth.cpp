// `tessera synth`: writes a random-weight GGUF of a real model shape, of any architecture
// Tessera runs, for speed work.
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

std::string joined_shape_names() {
  std::string names;
  for (const auto& n : synth_shape_names()) names += (names.empty() ? "" : ", ") + n;
  return names;
}

// The shape's vocabulary in <shared>/models/vocab/, or "" when it is not there.
std::string default_vocab_path(const SynthShape& shape) {
  const std::string relative = "../shared/models/vocab/" + shape.vocab_file;
  if (std::filesystem::exists(relative)) return relative;
  // The default model lives in <shared>/models/: the vocabularies are next to it.
  const std::string beside_model =
      (std::filesystem::path(default_model_path()).parent_path() / "vocab" / shape.vocab_file).string();
  return std::filesystem::exists(beside_model) ? beside_model : "";
}

int run_synth(const SynthFlags& f) {
  auto shape = synth_shape(f.shape);
  if (!shape) return fail("unknown --shape '" + f.shape + "' (one of: " + joined_shape_names() + ")");
  auto type = quantize::file_type_from_name(f.type);
  if (!type) return fail("unknown --type '" + f.type + "' (one of: " + quantize::supported_file_type_names() + ")");
  if (f.output.empty()) return fail("-o FILE is required");
  SynthOptions options;
  options.shape = *shape;
  options.type = *type;
  options.seed = static_cast<uint64_t>(f.seed);
  options.vocab_path = f.vocab == "none" ? "" : f.vocab.empty() ? default_vocab_path(*shape) : f.vocab;
  if (options.vocab_path.empty()) {
    if (shape->config.vocab_size == 0) {
      return fail("--shape " + f.shape + " takes its vocabulary size from a vocabulary file (default " +
                  shape->vocab_file + ", not found): pass --vocab FILE");
    }
    std::fprintf(stderr, "no vocabulary file: writing %d placeholder tokens\n", shape->config.vocab_size);
  }
  if (Status s = write_synth_model(options, f.output); !s.ok()) return fail(s.message());
  std::error_code ec;
  const auto size = std::filesystem::file_size(f.output, ec);
  std::fprintf(stderr, "wrote %s: %s %s, %.1f MB\n", f.output.c_str(), f.shape.c_str(),
               std::string(quantize::file_type_name(*type)).c_str(), ec ? 0.0 : static_cast<double>(size) / 1e6);
  return 0;
}

}  // namespace

Command add_synth_command(CLI::App& app) {
  auto flags = std::make_shared<SynthFlags>();
  CLI::App* cmd = app.add_subcommand("synth", "Write a random-weight model of a real shape (for benchmarks)");
  cmd->add_option("--shape", flags->shape, joined_shape_names())->required();
  cmd->add_option("--type", flags->type, "Q4_0, Q8_0, Q4_K_M, F16, F32 or any other `quantize` recipe (llama.cpp's mix per tensor)")
      ->capture_default_str();
  cmd->add_option("-o,--output", flags->output, "Output GGUF file")->required();
  cmd->add_option("--vocab", flags->vocab,
                  "Vocabulary GGUF (default: the shape's shared ggml-vocab-*.gguf; none: placeholder tokens)");
  cmd->add_option("--seed", flags->seed, "Seed of the random weights")->capture_default_str();
  return {cmd, [flags] { return run_synth(*flags); }};
}

}  // namespace tessera::app
