// GatedFfn: down(act(gate(x)) * up(x)), the feed-forward block of every supported architecture
// (SwiGLU: llama, qwen, phi3; GeGLU with tanh GELU: gemma).
#pragma once

#include <cstdint>

#include "model/layers/layer_context.h"
#include "model/layers/linear.h"

namespace tessera {

enum class FfnActivation {
  kSilu,      // silu(gate) * up
  kGeluTanh,  // gelu_tanh(gate) * up, as ggml computes it (kernels::gelu_tanh_mul)
};

struct GatedFfn {
  Linear gate, up;  // [ffn_dim, hidden] each (slices of ffn_up when fused: rows gate | up)
  Linear down;      // [hidden, ffn_dim]
  FfnActivation activation = FfnActivation::kSilu;

  int64_t ffn_dim() const { return gate.num_outputs(); }
  // out: [n, hidden] from normed: [n, hidden]; gate_buf, up_buf: [n, ffn_dim] scratch.
  void forward(const float* normed, int32_t n, float* gate_buf, float* up_buf, float* out,
               const LayerContext& ctx) const;
};

}  // namespace tessera
