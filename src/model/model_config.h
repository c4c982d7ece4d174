// ModelConfig: the hyper-parameters of a model, read from GGUF metadata with llama.cpp's
// defaults for missing keys. Knows nothing about weights or requests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

  // Sliding-window attention (gemma3). A local layer's query at position p sees p - W + 1 ... p.
  int32_t sliding_window = 0;         // {arch}.attention.sliding_window where the arch uses it; 0 = none
  std::vector<bool> layer_is_local;   // [num_layers]: true for sliding-window layers (empty = none)
  kernels::RopeParams rope_local;     // RoPE of the local layers (gemma3: rope.freq_base_swa, unscaled)
  float attention_softcap = 0.0f;     // {arch}.attn_logit_softcapping; 0 = none
  float final_logit_softcap = 0.0f;   // {arch}.final_logit_softcapping; 0 = none

  // Mixture of experts (Mixtral-style llama, qwen3moe). 0 experts: a dense FFN.
  int32_t num_experts = 0;         // {arch}.expert_count
  int32_t num_experts_used = 0;    // {arch}.expert_used_count: experts each token is routed to
  int32_t expert_ffn_dim = 0;      // {arch}.expert_feed_forward_length, else feed_forward_length

  bool is_moe() const { return num_experts > 0; }
  bool is_local_layer(int32_t layer) const {
    return !layer_is_local.empty() && layer_is_local[static_cast<size_t>(layer)];
  }

  int32_t q_dim() const { return num_heads * head_dim; }    // width of the query projection
  int32_t kv_dim() const { return num_kv_heads * head_dim; } // width of the key/value projections
};

// Reads and validates the config: the keys every architecture shares, then the architecture's own
// (model/arch/architecture.h). Unknown architecture -> unsupported; inconsistent sizes ->
// corrupt_data. Messages start with the file path.
Expected<ModelConfig> read_model_config(const gguf::GgufFile& file);

}  // namespace tessera
