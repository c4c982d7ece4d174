#include "model/model_config_writer.h"

#include <string>

namespace tessera {

void write_model_config(const ModelConfig& c, gguf::GgufWriter& w) {
  using gguf::MetadataValue;
  const std::string prefix = c.architecture + ".";
  auto set_u32 = [&](const char* key, int64_t value) {
    w.set(prefix + key, MetadataValue::u32(static_cast<uint32_t>(value)));
  };
  auto set_f32 = [&](const char* key, float value) { w.set(prefix + key, MetadataValue::f32(value)); };
  w.set("general.architecture", MetadataValue::string(c.architecture));
  if (!c.name.empty()) w.set("general.name", MetadataValue::string(c.name));
  set_u32("vocab_size", c.vocab_size);
  set_u32("context_length", c.context_length);
  set_u32("embedding_length", c.hidden_dim);
  set_u32("block_count", c.num_layers);
  set_u32("feed_forward_length", c.ffn_dim);
  set_u32("rope.dimension_count", c.rope.rot_dims > 0 ? c.rope.rot_dims : c.head_dim);
  set_u32("attention.head_count", c.num_heads);
  set_u32("attention.head_count_kv", c.num_kv_heads);
  // llama.cpp's default head width is hidden / heads; wider or narrower heads (qwen3, gemma3)
  // must say so, for keys and values alike.
  if (c.num_heads > 0 && c.head_dim != c.hidden_dim / c.num_heads) {
    set_u32("attention.key_length", c.head_dim);
    set_u32("attention.value_length", c.head_dim);
  }
  set_f32("attention.layer_norm_rms_epsilon", c.rms_norm_eps);
  set_f32("rope.freq_base", c.rope.freq_base);
  if (c.rope.freq_scale != 1.0f) {
    w.set(prefix + "rope.scaling.type", MetadataValue::string("linear"));
    set_f32("rope.scaling.factor", 1.0f / c.rope.freq_scale);
  }
  if (c.sliding_window > 0) {
    set_u32("attention.sliding_window", c.sliding_window);
    set_f32("rope.freq_base_swa", c.rope_local.freq_base);
  }
  if (c.is_moe()) {
    set_u32("expert_count", c.num_experts);
    set_u32("expert_used_count", c.num_experts_used);
    set_u32("expert_feed_forward_length", c.expert_ffn_dim);
  }
  if (c.attention_softcap > 0.0f) set_f32("attn_logit_softcapping", c.attention_softcap);
  if (c.final_logit_softcap > 0.0f) set_f32("final_logit_softcapping", c.final_logit_softcap);
}

}  // namespace tessera
