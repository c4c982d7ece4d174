// GGUF tensor names, in one place (as llama.cpp's llama-arch table): the model loader, `synth`,
// `bench` and `quantize` build and recognise names here instead of spelling string literals.
// Knows nothing about shapes or architectures.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tessera {

enum class TensorKind {
  kTokenEmbedding,     // token_embd: [vocab, hidden]
  kOutputNorm,         // output_norm: [hidden]
  kOutput,             // output: [vocab, hidden] (absent when tied to token_embd)
  kAttnNorm,           // blk.N.attn_norm
  kAttnQ,              // blk.N.attn_q
  kAttnK,              // blk.N.attn_k
  kAttnV,              // blk.N.attn_v
  kAttnQkv,            // blk.N.attn_qkv: rows q | k | v (phi3)
  kAttnQNorm,          // blk.N.attn_q_norm: per-head RMSNorm [head_dim]
  kAttnKNorm,          // blk.N.attn_k_norm
  kAttnOutput,         // blk.N.attn_output
  kPostAttentionNorm,  // blk.N.post_attention_norm (gemma)
  kFfnNorm,            // blk.N.ffn_norm
  kFfnGate,            // blk.N.ffn_gate
  kFfnUp,              // blk.N.ffn_up (phi3: rows gate | up)
  kFfnDown,            // blk.N.ffn_down
  kPostFfnNorm,        // blk.N.post_ffw_norm (gemma)
  kFfnGateInp,         // blk.N.ffn_gate_inp: MoE router
  kFfnGateExps,        // blk.N.ffn_gate_exps: MoE experts
  kFfnUpExps,          // blk.N.ffn_up_exps
  kFfnDownExps,        // blk.N.ffn_down_exps
};

// "attn_q" for kAttnQ.
std::string_view tensor_base_name(TensorKind kind);
// True for the per-layer kinds (named "blk.N.<base>").
bool is_layer_tensor(TensorKind kind);

// The full GGUF name: "token_embd.weight", "blk.3.attn_q.bias". `layer` is ignored for
// non-layer kinds and must be >= 0 for layer kinds.
std::string tensor_name(TensorKind kind, int32_t layer = -1, std::string_view suffix = "weight");

struct ParsedTensorName {
  TensorKind kind;
  int32_t layer = -1;   // -1 for non-layer tensors
  std::string suffix;   // "weight", "bias", ...
};
// The inverse of tensor_name; nullopt for a name not in the table.
std::optional<ParsedTensorName> parse_tensor_name(std::string_view name);
// N for any "blk.N.<anything>" name, in the table or not (llama.cpp's sscanf("blk.%d.")); -1 otherwise.
int32_t tensor_layer(std::string_view name);

}  // namespace tessera
