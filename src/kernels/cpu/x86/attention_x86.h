// One attention work item (a query token x the query heads of one kv head), written once over an
// ISA's primitives and included by the AVX2 and AVX-512 elementwise files AFTER they define, in
// their anonymous namespace in tessera::kernels:
//   round_to_f16(const float* x, int64_t n, float* out)       x rounded to f16 and back
//   softmax_x86(float* x, int64_t n)                           the ISA's softmax
//   group_scores<T>(q, num_group_heads, kv, block_table, kv_head, context, scale, scores)
//   weighted_values_chunks<T, kHeads, kFused>(scores, context, kv, block_table, kv_head, out)
//   f16_fast_path(kv)                                          whether the f16 fast path applies
// T is the KV element type: float, or uint16_t for an f16 cache.
// NOTE: internal linkage only (anonymous namespace), like the matmul headers next to it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "kernels/kernels.h"

namespace tessera::kernels {
namespace {

// The weighted sum of V over the ISA's weighted_values_chunks: fused multiply-adds on the f16
// fast path, the reference's separate multiply and add otherwise.
template <typename T, int kHeads>
void weighted_values(const float* scores, int32_t context, const PagedKvLayer& kv,
                     std::span<const int32_t> block_table, int64_t kv_head, float* out) {
  if constexpr (std::is_same_v<T, uint16_t>) {
    if (f16_fast_path(kv)) {
      weighted_values_chunks<T, kHeads, true>(scores, context, kv, block_table, kv_head, out);
      return;
    }
  }
  weighted_values_chunks<T, kHeads, false>(scores, context, kv, block_table, kv_head, out);
}

template <typename T>
void attention_heads_x86(const float* q, int32_t position, int64_t first_head, int64_t num_group_heads,
                         int64_t num_heads, const PagedKvLayer& kv, std::span<const int32_t> block_table, float scale,
                         float* scores, float* out) {
  const int64_t head_dim = kv.head_dim;
  const int64_t kv_head = first_head / (num_heads / kv.num_kv_heads);
  const int32_t context = position + 1;
  constexpr bool kF16 = std::is_same_v<T, uint16_t>;
  if constexpr (kF16) {
    // As ggml's f16 matmuls: the query and the softmax weights are rounded to f16 too.
    thread_local std::vector<float> q_rounded;
    q_rounded.resize(static_cast<size_t>(num_group_heads * head_dim));
    round_to_f16(q, num_group_heads * head_dim, q_rounded.data());
    q = q_rounded.data();
  }
  group_scores<T>(q, num_group_heads, kv, block_table, kv_head, context, scale, scores);
  for (int64_t g = 0; g < num_group_heads; ++g) {
    softmax_x86(scores + g * context, context);
    if constexpr (kF16) round_to_f16(scores + g * context, context, scores + g * context);
  }
  // Up to four heads per pass over V: 4 x kHeads accumulators stay in registers.
  constexpr int64_t kMaxHeadsPerPass = 4;
  for (int64_t g = 0; g < num_group_heads; g += kMaxHeadsPerPass) {
    const float* pass_scores = scores + g * context;
    float* pass_out = out + g * head_dim;
    switch (std::min(kMaxHeadsPerPass, num_group_heads - g)) {
      case 1: weighted_values<T, 1>(pass_scores, context, kv, block_table, kv_head, pass_out); break;
      case 2: weighted_values<T, 2>(pass_scores, context, kv, block_table, kv_head, pass_out); break;
      case 3: weighted_values<T, 3>(pass_scores, context, kv, block_table, kv_head, pass_out); break;
      default: weighted_values<T, 4>(pass_scores, context, kv, block_table, kv_head, pass_out); break;
    }
  }
}

// The AttentionHeadsFn of an ISA: dispatches on the cache's element type.
void attention_heads_x86(const float* q, int32_t position, int64_t first_head, int64_t num_group_heads,
                         int64_t num_heads, const PagedKvLayer& kv, std::span<const int32_t> block_table, float scale,
                         float* scores, float* out) {
  if (kv.type == DType::kF16) {
    attention_heads_x86<uint16_t>(q, position, first_head, num_group_heads, num_heads, kv, block_table, scale,
                                  scores, out);
  } else {
    attention_heads_x86<float>(q, position, first_head, num_group_heads, num_heads, kv, block_table, scale, scores,
                               out);
  }
}

}  // namespace
}  // namespace tessera::kernels
