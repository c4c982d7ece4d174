#include "model/layers/attention.h"

namespace tessera {

void AttentionLayer::project(const float* normed, int32_t n, const float* rope_table, float* q_out, float* k_out,
                             float* v_out, const LayerContext& ctx) const {
  const LinearOutput qkv[] = {{&q, q_out}, {&k, k_out}, {&v, v_out}};
  run_linears(qkv, normed, n, ctx);
  if (q_norm.present()) q_norm.apply(q_out, static_cast<int64_t>(n) * num_heads, q_out, &ctx.pool);
  if (k_norm.present()) k_norm.apply(k_out, static_cast<int64_t>(n) * num_kv_heads, k_out, &ctx.pool);
  kernels::rope_from_table(q_out, n, num_heads, head_dim, rope_table, rope, &ctx.pool);
  kernels::rope_from_table(k_out, n, num_kv_heads, head_dim, rope_table, rope, &ctx.pool);
  if (query_scale != 1.0f) kernels::scale_inplace(q_out, static_cast<int64_t>(n) * q_dim(), query_scale, &ctx.pool);
}

}  // namespace tessera
