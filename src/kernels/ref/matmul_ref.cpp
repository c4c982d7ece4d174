// Reference matmul and attention: one vec_dot_ref per output element, no blocking.
#include <cstring>

#include "kernels/ref/ref_kernels.h"
#include "tensor/quant.h"

namespace tessera::kernels::ref {

void matmul_rows(const MatrixView& weight, const uint8_t* x_converted, size_t x_row_bytes, int64_t num_tokens,
                 int64_t row_begin, int64_t row_end, float* out) {
  for (int64_t t = 0; t < num_tokens; ++t) {
    const uint8_t* x_row = x_converted + static_cast<size_t>(t) * x_row_bytes;
    float* out_row = out + t * weight.num_rows;
    for (int64_t r = row_begin; r < row_end; ++r) {
      out_row[r] = vec_dot_ref(weight.type, weight.num_cols, weight.row(r), x_row);
    }
  }
}

void attention_heads(const float* q, int32_t position, int64_t first_head, int64_t num_group_heads, int64_t num_heads,
                     const PagedKvLayer& kv, std::span<const int32_t> block_table, float scale, float* scores,
                     float* out) {
  const int64_t head_dim = kv.head_dim;
  const int64_t kv_head = first_head / (num_heads / kv.num_kv_heads);
  auto slot_offset = [&](int32_t pos) { return kv_offset(kv, block_table, pos, kv_head); };
  const int32_t context = position + 1;
  for (int64_t g = 0; g < num_group_heads; ++g) {
    const float* q_head = q + g * head_dim;
    float* head_scores = scores + g * context;
    float* out_head = out + g * head_dim;
    for (int32_t p = 0; p < context; ++p) {
      const float* k = kv.k + slot_offset(p);
      float dot = 0.0f;
      for (int64_t d = 0; d < head_dim; ++d) dot += q_head[d] * k[d];
      head_scores[p] = dot * scale;
    }
    softmax(head_scores, context);
    std::memset(out_head, 0, static_cast<size_t>(head_dim) * sizeof(float));
    for (int32_t p = 0; p < context; ++p) {
      const float* v = kv.v + slot_offset(p);
      for (int64_t d = 0; d < head_dim; ++d) out_head[d] += head_scores[p] * v[d];
    }
  }
}

}  // namespace tessera::kernels::ref
