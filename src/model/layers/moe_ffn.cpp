#include "model/layers/moe_ffn.h"

#include <algorithm>

#include "base/check.h"
#include "kernels/kernels.h"

namespace tessera {

void MoeFfn::scratch_sizes(int64_t max_tokens, int64_t hidden, int64_t num_experts, int64_t num_used,
                           int64_t expert_ffn, size_t (&floats)[6], size_t (&ints)[2]) {
  const auto t = static_cast<size_t>(max_tokens);
  floats[0] = t * static_cast<size_t>(num_experts);           // router_probs
  floats[1] = t * static_cast<size_t>(hidden);                // expert_in
  floats[2] = t * static_cast<size_t>(expert_ffn);            // expert_gate
  floats[3] = t * static_cast<size_t>(expert_ffn);            // expert_up
  floats[4] = t * static_cast<size_t>(num_used * hidden);     // expert_out
  floats[5] = t * static_cast<size_t>(num_used);              // route_weights
  ints[0] = t * static_cast<size_t>(num_used);                // routes
  ints[1] = t * static_cast<size_t>(num_used);                // expert_rows
}

void MoeFfn::forward(const float* normed, int32_t n, float* out, const MoeScratch& s, const LayerContext& ctx) const {
  const int64_t num_experts = static_cast<int64_t>(experts.size());
  const int64_t hidden = router.weight.num_cols;
  const int64_t k = num_used;
  // Routing: softmax over every router logit, then the k most probable experts per token.
  run_linear(router, normed, n, s.router_probs, ctx);
  for (int32_t t = 0; t < n; ++t) {
    float* probs = s.router_probs + t * num_experts;
    kernels::softmax(probs, num_experts);
    int32_t* routes = s.routes + t * k;
    float* weights = s.route_weights + t * k;
    // Partial selection sort: k is small (2-8) next to the experts (8-128).
    for (int64_t rank = 0; rank < k; ++rank) {
      int32_t best = -1;
      for (int32_t e = 0; e < num_experts; ++e) {
        if (std::find(routes, routes + rank, e) != routes + rank) continue;
        if (best < 0 || probs[e] > probs[best]) best = e;
      }
      routes[rank] = best;
      weights[rank] = probs[best];
    }
    if (normalize_weights) {
      // As ggml: sum_rows in double, clamped away from 0, then a division per weight.
      double sum = 0.0;
      for (int64_t rank = 0; rank < k; ++rank) sum += weights[rank];
      const float total = std::max(static_cast<float>(sum), 6.103515625e-5f);
      for (int64_t rank = 0; rank < k; ++rank) weights[rank] /= total;
    }
  }
  // Expert by expert over the (token, rank) pairs routed to it: gather, gated FFN, scatter.
  for (int32_t e = 0; e < num_experts; ++e) {
    int32_t num_rows = 0;
    for (int32_t i = 0; i < n * k; ++i) {
      if (s.routes[i] == e) s.expert_rows[num_rows++] = i;
    }
    if (num_rows == 0) continue;  // nobody chose it: its weights are not read
    for (int32_t r = 0; r < num_rows; ++r) {
      std::copy_n(normed + static_cast<int64_t>(s.expert_rows[r] / k) * hidden, hidden, s.expert_in + r * hidden);
    }
    // NOTE: the expert's output overwrites its gathered input (read only by the gate/up matmul).
    experts[static_cast<size_t>(e)].forward(s.expert_in, num_rows, s.expert_gate, s.expert_up, s.expert_in, ctx);
    for (int32_t r = 0; r < num_rows; ++r) {
      std::copy_n(s.expert_in + r * hidden, hidden, s.expert_out + static_cast<int64_t>(s.expert_rows[r]) * hidden);
    }
  }
  // out = w_0 * y_0 + w_1 * y_1 + ..., ranks in order (llama.cpp's mul, then adds in turn).
  for (int32_t t = 0; t < n; ++t) {
    float* row = out + t * hidden;
    for (int64_t rank = 0; rank < k; ++rank) {
      const float w = s.route_weights[t * k + rank];
      const float* y = s.expert_out + (t * k + rank) * hidden;
      if (rank == 0) {
        for (int64_t i = 0; i < hidden; ++i) row[i] = w * y[i];
      } else {
        for (int64_t i = 0; i < hidden; ++i) row[i] += w * y[i];
      }
    }
  }
}

}  // namespace tessera
