// Reference matmul and attention: one vec_dot_ref per output element, no blocking.
#include <cstring>
#include <string>
#include <vector>

#include "base/check.h"
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

namespace {

// The head_dim values of a K or V tensor of `type` at `offset`, element d at offset + d * stride,
// as f32 (contiguous f32 values are returned in place).
const float* kv_vector(const void* base, DType type, int64_t offset, int64_t stride, int64_t head_dim, float* tmp) {
  if (type == DType::kF32 && stride == 1) return static_cast<const float*>(base) + offset;
  for (int64_t d = 0; d < head_dim; ++d) {
    tmp[d] = type == DType::kF32 ? static_cast<const float*>(base)[offset + d * stride]
                                 : f16_to_f32(static_cast<const uint16_t*>(base)[offset + d * stride]);
  }
  return tmp;
}

// attention_heads over a quantized cache (quantized_kv in kernels.h), as ggml's flash attention
// reads one: q converted to Q8_0 (the vec_dot_type of Q8_0 and Q4_0) and dotted with each
// position's K row block by block (vec_dot_ref); softmax weights in f32; V rows dequantized.
void attention_heads_quantized(const float* q, int32_t position, int32_t first_visible, float scale,
                               float softcap_value, int64_t first_head, int64_t num_group_heads, int64_t num_heads,
                               const PagedKvLayer& kv, std::span<const int32_t> block_table, float* scores,
                               float* out) {
  const int64_t head_dim = kv.head_dim;
  const int64_t kv_head = first_head / (num_heads / kv.num_kv_heads);
  const int32_t context = position + 1;
  const auto* v_base = static_cast<const uint8_t*>(kv.v);
  thread_local std::vector<uint8_t> q8, k_row;
  thread_local std::vector<float> v_row;
  q8.resize(row_bytes(DType::kQ8_0, head_dim));
  k_row.resize(row_bytes(kv.type, head_dim));
  v_row.resize(static_cast<size_t>(head_dim));
  for (int64_t g = 0; g < num_group_heads; ++g) {
    quantize_activation_row(DType::kQ8_0, q + g * head_dim, q8.data(), head_dim);
    float* head_scores = scores + g * context;
    float* out_head = out + g * head_dim;
    for (int32_t p = 0; p < context; ++p) {
      read_quantized_k_row(kv, position_slot(kv, block_table, p), kv_head, k_row.data());
      head_scores[p] = vec_dot_ref(kv.type, head_dim, k_row.data(), q8.data()) * scale;
    }
    if (softcap_value > 0.0f) softcap(head_scores + first_visible, context - first_visible, softcap_value);
    softmax(head_scores + first_visible, context - first_visible);
    for (int32_t p = 0; p < first_visible; ++p) head_scores[p] = 0.0f;
    std::memset(out_head, 0, static_cast<size_t>(head_dim) * sizeof(float));
    for (int32_t p = 0; p < context; ++p) {
      const int64_t offset = quantized_v_offset(kv, position_slot(kv, block_table, p), kv_head);
      dequantize_row_ref(value_type(kv), v_base + offset, v_row.data(), head_dim);
      for (int64_t d = 0; d < head_dim; ++d) out_head[d] += head_scores[p] * v_row[static_cast<size_t>(d)];
    }
  }
}

}  // namespace

void attention_heads(const float* q, int32_t position, int32_t first_visible, float scale, float softcap_value,
                     int64_t first_head, int64_t num_group_heads, int64_t num_heads, const PagedKvLayer& kv,
                     std::span<const int32_t> block_table, float* scores, float* out) {
  if (quantized_kv(kv.type)) {
    attention_heads_quantized(q, position, first_visible, scale, softcap_value, first_head, num_group_heads,
                              num_heads, kv, block_table, scores, out);
    return;
  }
  TS_CHECK(kv.type == DType::kF32 || kv.type == DType::kF16, "KV cache of type %s",
           std::string(dtype_name(kv.type)).c_str());
  const int64_t head_dim = kv.head_dim;
  const int64_t kv_head = first_head / (num_heads / kv.num_kv_heads);
  const int32_t context = position + 1;
  const bool f16 = kv.type == DType::kF16;
  // NOTE: per-thread buffers, grown once: this runs once per (token, head group) of every layer.
  thread_local std::vector<float> tmp, q_rounded;
  tmp.resize(static_cast<size_t>(head_dim));
  q_rounded.resize(static_cast<size_t>(head_dim));
  for (int64_t g = 0; g < num_group_heads; ++g) {
    const float* q_head = q + g * head_dim;
    if (f16) {  // as ggml's f16 matmuls: the query and the softmax weights are rounded to f16 too
      for (int64_t d = 0; d < head_dim; ++d) q_rounded[static_cast<size_t>(d)] = f16_to_f32(f32_to_f16(q_head[d]));
      q_head = q_rounded.data();
    }
    float* head_scores = scores + g * context;
    float* out_head = out + g * head_dim;
    for (int32_t p = 0; p < context; ++p) {
      const float* k = kv_vector(kv.k, kv.type, k_offset(kv, block_table, p, kv_head), kv.block_size, head_dim,
                                 tmp.data());
      float dot = 0.0f;
      for (int64_t d = 0; d < head_dim; ++d) dot += q_head[d] * k[d];
      head_scores[p] = dot * scale;
    }
    if (softcap_value > 0.0f) softcap(head_scores + first_visible, context - first_visible, softcap_value);
    softmax(head_scores + first_visible, context - first_visible);
    for (int32_t p = 0; p < first_visible; ++p) head_scores[p] = 0.0f;
    if (f16) {
      for (int32_t p = 0; p < context; ++p) head_scores[p] = f16_to_f32(f32_to_f16(head_scores[p]));
    }
    std::memset(out_head, 0, static_cast<size_t>(head_dim) * sizeof(float));
    for (int32_t p = 0; p < context; ++p) {
      const float* v = kv_vector(kv.v, kv.type, v_offset(kv, block_table, p, kv_head), 1, head_dim, tmp.data());
      for (int64_t d = 0; d < head_dim; ++d) out_head[d] += head_scores[p] * v[d];
    }
  }
}

}  // namespace tessera::kernels::ref
