// AttentionLayer: the weights and options of one layer's self-attention, and the projection of
// normed rows into rotated q, k and v. The paged-KV write and the attention itself run in the
// decoder shell (model/decoder_model.cpp), which owns the batch and the cache.
#pragma once

#include <cstdint>

#include "kernels/kernels.h"
#include "model/layers/layer_context.h"
#include "model/layers/linear.h"
#include "model/layers/rms_norm.h"

namespace tessera {

struct AttentionLayer {
  int32_t num_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  Linear q, k, v;                   // [q_dim | kv_dim | kv_dim, hidden] (slices of attn_qkv when fused)
  Linear output;                    // [hidden, q_dim]
  RmsNorm q_norm, k_norm;           // per-head RMSNorm over head_dim before RoPE (qwen3, gemma3); or absent
  int32_t rope_index = 0;           // which of the forward pass's RoPE tables rotates q and k
  kernels::RopeParams rope;         // that table's parameters
  float query_scale = 1.0f;         // q *= query_scale after RoPE (llama.cpp's gemma3 and phi3 graphs); 1: none
  kernels::AttentionParams params;  // scale of q.k, sliding window, soft-cap

  int32_t q_dim() const { return num_heads * head_dim; }
  int32_t kv_dim() const { return num_kv_heads * head_dim; }

  // q: [n, q_dim], k and v: [n, kv_dim] from normed: [n, hidden]: projections (+ biases), per-head
  // norms, RoPE with `rope_table` (kernels::rope_table of the n rows' positions), query scale.
  void project(const float* normed, int32_t n, const float* rope_table, float* q, float* k, float* v,
               const LayerContext& ctx) const;
};

}  // namespace tessera
