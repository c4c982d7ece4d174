// Random-weight GGUFs of real model shapes, of any registered architecture (llama: SmolLM-135M,
// TinyLlama-1.1B; qwen3: Qwen3-0.6B; gemma3: Gemma-3-1B; phi3: Phi-3-mini; and a tiny one of
// each architecture for tests), with a real vocabulary copied from a vocabulary-only GGUF. Used
// by `tessera synth` and by tests/benchmarks: dense decode speed does not depend on the weights.
// The tensors are the architecture's tensor_table and each gets the type `tessera quantize` would
// give it (quantize/tensor_type_choice.h, llama.cpp's rules), so file sizes and the bytes
// streamed per token match what llama-quantize produces for the same shape.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/arch/architecture.h"
#include "model/model_config.h"
#include "quantize/file_type.h"
#include "tensor/dtype.h"

namespace tessera {

struct SynthShape {
  std::string name;        // the --shape value, e.g. "qwen3-0.6b"
  ModelConfig config;      // what is written; vocab_size 0: the vocabulary file's token count
  std::string vocab_file;  // the default vocabulary: a file name in <shared>/models/vocab/
};

// "smollm-135m", "tinyllama-1.1b", "qwen3-0.6b", "gemma3-1b", "phi3-mini", and for tests "tiny"
// (llama, d 256, ffn 512, 2 layers) and "tiny-qwen2", "tiny-qwen3", "tiny-gemma3", "tiny-phi3".
std::optional<SynthShape> synth_shape(std::string_view name);
std::vector<std::string> synth_shape_names();

struct SynthTensor {
  TensorSpec spec;           // GGUF name and ggml shape, from tensor_table
  DType type = DType::kF32;  // the type it is written in (vectors: always f32)
};
// Every tensor of a model of `config` (vocab_size set), in file order, with its type under the
// quantizer's recipe `file_type`. Errors for an unknown architecture or inconsistent sizes.
Expected<std::vector<SynthTensor>> synth_tensor_plan(const ModelConfig& config, quantize::FileType file_type);

struct SynthOptions {
  SynthShape shape;
  quantize::FileType type = quantize::FileType::kQ8_0;  // any recipe `tessera quantize` takes
  uint64_t seed = 1;
  std::string vocab_path;  // vocabulary-only GGUF whose tokenizer.* keys are copied; empty:
                           // placeholder tokens (needs shape.config.vocab_size > 0)
  int num_threads = 0;     // for generating/quantizing weights; 0: all cores
};

// Writes the model to `path` (atomically). Weights ~ N(0, 0.02), norms 1 + N(0, 0.01) and
// biases N(0, 0.02), f32.
Status write_synth_model(const SynthOptions& options, const std::string& path);

}  // namespace tessera
