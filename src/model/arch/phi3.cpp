// Phi-3: one fused QKV projection (rows q | k | v) and one fused gate/up projection (rows
// gate | up) feeding SwiGLU; NeoX RoPE; q scaled by 1/sqrt(head_dim) before attention.
// NOTE: phi3.attention.sliding_window (2047 in Phi-3-mini-4k) is ignored, as llama.cpp does
// ("Phi SWA is currently disabled"): attention is full.
#include "model/arch/architectures.h"

namespace tessera {

const Architecture& phi3_architecture() {
  static const Architecture kArch{
      "phi3", kernels::RopeOrder::kNeox,
      DecoderRecipe{.fused_qkv = true, .fused_gate_up = true, .prescale_query = true}};
  return kArch;
}

}  // namespace tessera
