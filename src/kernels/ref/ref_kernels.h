// Scalar reference kernels: obviously-correct, never optimised; the oracle for every fast path.
// Single-threaded; the dispatch layer (kernels.cpp) splits work across threads.
#pragma once

#include <cstdint>
#include <span>

#include "kernels/kernels.h"

namespace tessera::kernels::ref {

// Rows [row_begin, row_end) of out[t, r] = dot(weight.row(r), x_converted[t]), where the
// activation rows were converted to vec_dot_type(weight.type), each `x_row_bytes` long.
void matmul_rows(const MatrixView& weight, const uint8_t* x_converted, size_t x_row_bytes, int64_t num_tokens,
                 int64_t row_begin, int64_t row_end, float* out);

void get_rows(const MatrixView& table, std::span<const int32_t> ids, float* out);
void rms_norm(const float* x, const float* weight, int64_t num_tokens, int64_t dim, float eps, float* out);
void rope(float* x, std::span<const int32_t> positions, int64_t num_heads, int64_t head_dim,
          const RopeParams& params);
// rope's two halves: the rot_dims cos/sin values of one position, and the rotation of one
// token's num_heads heads with them.
void rope_angles(int32_t position, const RopeParams& params, float* cos_sin);
void rope_rotate(float* x, int64_t num_heads, int64_t head_dim, const float* cos_sin, const RopeParams& params);
void silu_mul(const float* gate, const float* up, int64_t n, float* out);
void softmax(float* x, int64_t n);
void gelu_tanh_mul(const float* gate, const float* up, int64_t n, float* out);
// GELU (tanh) of a value already rounded to f16, rounded to f16: one entry of ggml's table.
float gelu_tanh_of_half(float h);
void softcap(float* x, int64_t n, float cap);

// One query token of paged_attention, for the `num_group_heads` consecutive query heads from
// `first_head` on, which all read the same kv head (GQA group, or part of one).
//   q, out: [num_group_heads, head_dim] (the first head's vector, the others after it)
//   scores: [num_group_heads, position + 1] floats of scratch.
// Sliding window: the softmax runs over positions first_visible..position only; earlier
// positions (the same block's, written by the same sequence) get weight exactly 0.
// softcap > 0 caps the scaled scores before the softmax.
// Each head's result is the same as if it ran alone. With an f16 cache (kv.type) the query and
// the softmax weights are rounded to f16 as well, as ggml's f16 matmuls do; sums stay f32.
void attention_heads(const float* q, int32_t position, int32_t first_visible, float scale, float softcap,
                     int64_t first_head, int64_t num_group_heads, int64_t num_heads, const PagedKvLayer& kv,
                     std::span<const int32_t> block_table, float* scores, float* out);

}  // namespace tessera::kernels::ref
