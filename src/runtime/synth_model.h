// Random-weight llama GGUFs of real model shapes (SmolLM-135M, TinyLlama-1.1B, a tiny one for
// tests), with a real vocabulary copied from a vocabulary-only GGUF. Used by `tessera synth`
// and by tests/benchmarks: dense decode speed does not depend on the weight values.
// Tensor types follow llama.cpp's quantizer (llama_tensor_get_type) so file sizes and the
// bytes streamed per token match what llama-quantize would produce for the same shape.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tensor/dtype.h"

namespace tessera {

struct SynthShape {
  std::string name;
  int32_t hidden_dim = 0;
  int32_t ffn_dim = 0;
  int32_t num_layers = 0;
  int32_t num_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t context_length = 2048;
  bool tied_embeddings = false;
  float rope_freq_base = 10000.0f;
  float rms_norm_eps = 1e-5f;
};

// "smollm-135m", "tinyllama-1.1b", "tiny" (d 256, ffn 512, 2 layers: for tests).
std::optional<SynthShape> synth_shape(std::string_view name);
std::vector<std::string> synth_shape_names();

// A llama.cpp file type (the value written to general.file_type).
enum class SynthType : int32_t { kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ8_0 = 7, kQ4_K_M = 15 };
std::optional<SynthType> synth_type_from_name(std::string_view name);  // "Q4_0", "q8_0", "Q4_K_M", "F16", "F32"
std::string synth_type_name(SynthType type);                           // "Q4_0", ..., "Q4_K_M", "F16", "F32"

// The type llama.cpp's quantizer gives a 2-D weight `name` ("blk.3.ffn_down.weight", "output.weight",
// "token_embd.weight") with `num_cols` columns; `is_output_head` for output.weight, or for
// token_embd.weight when the embeddings are tied. Includes the use_more_bits mix of Q4_K_M and
// the fallback for rows that are not a multiple of 256 (Q4_K -> Q5_0, Q6_K -> Q8_0).
DType synth_tensor_type(SynthType type, std::string_view name, int64_t num_cols, int32_t layer, int32_t num_layers,
                        bool is_output_head);

struct SynthOptions {
  SynthShape shape;
  SynthType type = SynthType::kQ8_0;
  uint64_t seed = 1;
  std::string vocab_path;  // vocabulary-only GGUF whose tokenizer.* keys are copied
  int num_threads = 0;     // for generating/quantizing weights; 0: all cores
};

// Writes the model to `path` (atomically). Weights ~ N(0, 0.02), norms 1 + N(0, 0.01), f32.
Status write_synth_model(const SynthOptions& options, const std::string& path);

}  // namespace tessera
