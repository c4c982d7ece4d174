#include "model/layers/moe_ffn.h"

#include <algorithm>

#include "base/check.h"
#include "kernels/kernels.h"

namespace tessera {

void MoeFfn::scratch_sizes(int64_t max_tokens, int64_t hidden, int64_t num_experts, int64_t num_used,
                           int64_t expert_ffn, size_t (&floats)[6], size_t (&ints)[2]) {
  const auto t = static_cast<size_t>(max_tokens);
  floats[0] = t * static_cast<size_t>(num_experts);           // router_probs
  const size_t routed = t * static_cast<size_t>(num_used);   // expert rows
  floats[1] = routed * static_cast<size_t>(hidden);           // expert_in
  floats[2] = routed * static_cast<size_t>(expert_ffn);       // expert_gate
  floats[3] = routed * static_cast<size_t>(expert_ffn);       // expert_up
  floats[4] = routed * static_cast<size_t>(hidden);           // expert_out
  floats[5] = routed;                                         // route_weights
  ints[0] = routed;                                           // routes
  ints[1] = routed;                                           // route_rows
}

int32_t MoeFfn::forward(const float* normed, int32_t n, float* out, const MoeScratch& s, const LayerContext& ctx) const {
  const int32_t num_experts = static_cast<int32_t>(experts.size());
  const int64_t hidden = router.weight.num_cols, ffn = expert_ffn_dim();
  const int32_t k = num_used;
  // Routing: softmax over every router logit, then the k most probable experts per token.
  run_linear(router, normed, n, s.router_probs, ctx);
  for (int32_t t = 0; t < n; ++t) {
    float* probs = s.router_probs + static_cast<int64_t>(t) * num_experts;
    kernels::softmax(probs, num_experts);
    int32_t* routes = s.routes + t * k;
    float* weights = s.route_weights + t * k;
    // Partial selection sort: k is small (2-8) next to the experts (8-128).
    for (int32_t rank = 0; rank < k; ++rank) {
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
      for (int32_t rank = 0; rank < k; ++rank) sum += weights[rank];
      const float total = std::max(static_cast<float>(sum), 6.103515625e-5f);
      for (int32_t rank = 0; rank < k; ++rank) weights[rank] /= total;
    }
  }
  // Gather each chosen expert's rows (expert after expert), and one task per projection.
  thread_local std::vector<kernels::MatmulTask> gate_up_tasks_buffer, down_tasks_buffer;
  thread_local std::vector<int32_t> chosen_buffer;
  std::vector<kernels::MatmulTask>& gate_up_tasks = gate_up_tasks_buffer;
  std::vector<kernels::MatmulTask>& down_tasks = down_tasks_buffer;
  std::vector<int32_t>& chosen = chosen_buffer;  // the experts that run, in task order
  gate_up_tasks.clear();
  down_tasks.clear();
  chosen.clear();
  int32_t row = 0;
  for (int32_t e = 0; e < num_experts; ++e) {
    const int32_t first = row;
    for (int32_t i = 0; i < n * k; ++i) {
      if (s.routes[i] != e) continue;
      std::copy_n(normed + static_cast<int64_t>(i / k) * hidden, hidden, s.expert_in + row * hidden);
      s.route_rows[i] = row++;
    }
    if (row == first) continue;  // nobody chose it: its weights are not read
    const GatedFfn& expert = experts[static_cast<size_t>(e)];
    const int64_t rows = row - first;
    chosen.push_back(e);
    const float* x = s.expert_in + first * hidden;
    gate_up_tasks.push_back({&expert.gate.weight, x, rows, s.expert_gate + first * ffn});
    gate_up_tasks.push_back({&expert.up.weight, x, rows, s.expert_up + first * ffn});
    down_tasks.push_back({&expert.down.weight, s.expert_gate + first * ffn, rows, s.expert_out + first * hidden});
  }
  const bool observed = ctx.observer != nullptr && *ctx.observer;
  for (size_t i = 0; observed && i < chosen.size(); ++i) {  // each expert's rows, as llama.cpp's imatrix
    const kernels::MatmulTask& task = gate_up_tasks[2 * i];
    const auto rows = static_cast<int32_t>(task.num_tokens);
    (*ctx.observer)(MatmulInput{gate_name, task.x, rows, hidden, chosen[i], num_experts});
    (*ctx.observer)(MatmulInput{up_name, task.x, rows, hidden, chosen[i], num_experts});
  }
  kernels::matmul_tasks(gate_up_tasks, ctx.matmul_scratch, ctx.pool);
  const int64_t count = static_cast<int64_t>(row) * ffn;
  if (!experts.empty() && experts[0].activation == FfnActivation::kGeluTanh) {
    kernels::gelu_tanh_mul(s.expert_gate, s.expert_up, count, s.expert_gate, &ctx.pool);
  } else {
    kernels::silu_mul(s.expert_gate, s.expert_up, count, s.expert_gate, &ctx.pool);
  }
  for (size_t i = 0; observed && i < chosen.size(); ++i) {
    const kernels::MatmulTask& task = down_tasks[i];
    (*ctx.observer)(MatmulInput{down_name, task.x, static_cast<int32_t>(task.num_tokens), ffn, chosen[i], num_experts});
  }
  kernels::matmul_tasks(down_tasks, ctx.matmul_scratch, ctx.pool);
  // out = w_0 * y_0 + w_1 * y_1 + ..., ranks in order (llama.cpp's mul, then adds in turn).
  for (int32_t t = 0; t < n; ++t) {
    float* out_row = out + static_cast<int64_t>(t) * hidden;
    for (int32_t rank = 0; rank < k; ++rank) {
      const float w = s.route_weights[t * k + rank];
      const float* y = s.expert_out + static_cast<int64_t>(s.route_rows[t * k + rank]) * hidden;
      if (rank == 0) {
        for (int64_t i = 0; i < hidden; ++i) out_row[i] = w * y[i];
      } else {
        for (int64_t i = 0; i < hidden; ++i) out_row[i] += w * y[i];
      }
    }
  }
  return static_cast<int32_t>(down_tasks.size());
}

}  // namespace tessera
