// ModelConfig: the hyper-parameters of a model, read from GGUF metadata with llama.cpp's
// defaults for missing keys. Knows nothing about weights or requests.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "gguf/gguf_file.h"
#include "kernels/kernels.h"

namespace tessera {

struct ModelConfig {
  std::string architecture;      // general.architecture, e.g. "llama"
  std::string name;              // general.name (may be empty)
  int32_t num_layers = 0;        // {arch}.block_count
  int32_t hidden_dim = 0;        // {arch}.embedding_length
  int32_t ffn_dim = 0;           // {arch}.feed_forward_length
  int32_t num_heads = 0;         // {arch}.attention.head_count
  int32_t num_kv_heads = 0;      // {arch}.attention.head_count_kv (default: num_heads)
  int32_t head_dim = 0;          // {arch}.attention.key_length (default: hidden_dim / num_heads)
  int32_t vocab_size = 0;        // rows of token_embd
  int32_t context_length = 0;    // {arch}.context_length (trained context; default 2048)
  float rms_norm_eps = 1e-5f;    // {arch}.attention.layer_norm_rms_epsilon
  kernels::RopeParams rope;      // {arch}.rope.{freq_base, dimension_count, scaling.*}
  bool tied_embeddings = false;  // true when output.weight is absent and token_embd is reused

  int32_t q_dim() const { return num_heads * head_dim; }    // width of the query projection
  int32_t kv_dim() const { return num_kv_heads * head_dim; } // width of the key/value projections
};

// Reads and validates the config (unknown architecture -> unsupported; inconsistent sizes ->
// corrupt_data). Messages start with the file path.
Expected<ModelConfig> read_model_config(const gguf::GgufFile& file);

}  // namespace tessera
