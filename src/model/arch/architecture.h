// The architecture registry: `general.architecture` -> how to read its hyper-parameters and
// which parts its decoder is assembled from (a DecoderRecipe). The tensor table derived from a
// recipe is shared by the loader's tests, `tessera synth` and `bench`.
// Adding an architecture: docs/adding_a_model.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_file.h"
#include "kernels/kernels.h"
#include "model/decoder_model.h"
#include "model/model_config.h"

namespace tessera {

// The parts one architecture's decoder layers are built from.
struct DecoderRecipe {
  bool qkv_bias = false;        // attn_{q,k,v}.bias (qwen2)
  bool qk_norm = false;         // attn_{q,k}_norm: per-head RMSNorm before RoPE (qwen3, gemma3)
  bool fused_qkv = false;       // attn_qkv, rows q | k | v (phi3)
  bool fused_gate_up = false;   // ffn_up, rows gate | up, and no ffn_gate (phi3)
  bool post_norms = false;      // post_attention_norm and post_ffw_norm (gemma)
  // llama.cpp's gemma3 and phi3 graphs scale q by 1/sqrt(head_dim) after RoPE and attend with
  // scale 1; the others scale q.k. Same maths, different roundings: we follow the reference.
  bool prescale_query = false;
  bool scale_embeddings = false;  // x = embed * sqrt(hidden_dim) (gemma)
  FfnActivation activation = FfnActivation::kSilu;
};

struct Architecture {
  std::string_view name;           // general.architecture
  kernels::RopeOrder rope_order;   // kNormal (llama) or kNeox
  DecoderRecipe recipe;
  // Reads the keys only this architecture has, after the common ones are in `config`; null if none.
  Status (*read_hparams)(const gguf::GgufFile& file, ModelConfig& config) = nullptr;
};

// nullptr for an architecture Tessera does not run.
const Architecture* find_architecture(std::string_view name);
// "llama, mistral, qwen2, ..." for error messages and docs.
std::string supported_architecture_names();

// One tensor an architecture's file holds: its GGUF name and ggml shape ({cols, rows} for a
// matrix, {length} for a vector).
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  bool is_vector = false;  // norms and biases: f32 in every file llama.cpp writes
};
// Every tensor `config` and `recipe` call for, in llama.cpp's file order.
std::vector<TensorSpec> tensor_table(const ModelConfig& config, const DecoderRecipe& recipe);

// Loads and checks every weight the recipe calls for (missing or misshapen -> one error naming
// the tensor) and assembles the decoder.
Expected<DecoderWeights> load_decoder_weights(const gguf::GgufFile& file, const ModelConfig& config,
                                              const Architecture& arch);

}  // namespace tessera
