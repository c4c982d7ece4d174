// Qwen2 and Qwen3: the llama block with NeoX (half-split) RoPE. Qwen2 adds biases to the Q/K/V
// projections; Qwen3 drops them and RMS-normalises each query and key head before RoPE (its
// heads may be wider than hidden_dim / num_heads: attention.key_length).
#include "model/arch/architectures.h"

namespace tessera {

const Architecture& qwen2_architecture() {
  static const Architecture kArch{"qwen2", kernels::RopeOrder::kNeox, DecoderRecipe{.qkv_bias = true}};
  return kArch;
}

const Architecture& qwen3_architecture() {
  static const Architecture kArch{"qwen3", kernels::RopeOrder::kNeox, DecoderRecipe{.qk_norm = true}};
  return kArch;
}

// Qwen3-MoE: the Qwen3 block with a mixture of experts for its FFN (expert_count,
// expert_used_count, expert_feed_forward_length; feed_forward_length is present but unused).
const Architecture& qwen3moe_architecture() {
  static const Architecture kArch{"qwen3moe", kernels::RopeOrder::kNeox, DecoderRecipe{.qk_norm = true}};
  return kArch;
}

}  // namespace tessera
