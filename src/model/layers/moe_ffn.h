// MoeFfn: a mixture-of-experts feed-forward block (Mixtral-style llama, qwen3moe). A router picks
// num_used of num_experts gated FFNs per token; the output is their weighted sum. Runs expert by
// expert over the tokens that chose it, so each chosen expert's weights are read once per call
// however many tokens chose it (llama.cpp's mul_mat_id, vLLM's fused MoE), and experts no token
// chose are never read.
#pragma once

#include <cstdint>
#include <vector>

#include "model/layers/gated_ffn.h"
#include "model/layers/layer_context.h"
#include "model/layers/linear.h"

namespace tessera {

// Scratch of one MoE call, sized once for max_tokens tokens (views into the model's workspace).
// The routed rows are laid out expert after expert ("expert rows": row j of the experts' inputs
// and outputs), each expert's rows contiguous.
struct MoeScratch {
  float* router_probs;   // [max_tokens, num_experts]
  float* expert_in;      // [max_tokens * num_used, hidden] each expert's gathered input rows
  float* expert_gate;    // [max_tokens * num_used, expert_ffn]
  float* expert_up;      // [max_tokens * num_used, expert_ffn]
  float* expert_out;     // [max_tokens * num_used, hidden] each expert row's output
  float* route_weights;  // [max_tokens, num_used] the weight of each (token, rank)
  int32_t* routes;       // [max_tokens, num_used] chosen expert per (token, rank), best first
  int32_t* route_rows;   // [max_tokens, num_used] the expert row holding (token, rank)
};

struct MoeFfn {
  Linear router;                  // [num_experts, hidden], f32 in llama.cpp's files
  std::vector<GatedFfn> experts;  // [num_experts]: rows of ffn_{gate,up,down}_exps
  // GGUF names of the 3-D tensors, under which the observer sees each expert's rows.
  std::string gate_name, up_name, down_name;
  int32_t num_used = 0;           // experts per token
  bool normalize_weights = true;  // the chosen softmax probabilities renormalised to sum 1

  int64_t expert_ffn_dim() const { return experts.empty() ? 0 : experts[0].ffn_dim(); }
  // Floats of each MoeScratch buffer for max_tokens tokens (in its field order) and ints of
  // routes / route_rows.
  static void scratch_sizes(int64_t max_tokens, int64_t hidden, int64_t num_experts, int64_t num_used,
                            int64_t expert_ffn, size_t (&floats)[6], size_t (&ints)[2]);

  // out: [n, hidden] from normed: [n, hidden]. Routing as llama.cpp's build_moe_ffn with softmax
  // gating: softmax over all router logits, the num_used most probable (ties: lower id), their
  // probabilities (renormalised when normalize_weights), and out = sum over ranks, best first,
  // of weight * expert(x). Each token's result is independent of the others in the batch.
  // The chosen experts' gate/up projections run as one kernels::matmul_tasks call, their down
  // projections as another; ctx.matmul_scratch must hold matmul_tasks_scratch_bound of both.
  // Returns how many experts ran (had their weights read).
  int32_t forward(const float* normed, int32_t n, float* out, const MoeScratch& scratch, const LayerContext& ctx) const;
};

}  // namespace tessera
