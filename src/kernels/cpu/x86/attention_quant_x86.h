// Attention over a quantized KV cache (q8_0 / q4_0, quantized_kv in kernels.h) with 256-bit AVX2
// integer intrinsics, included by attention_x86.h (so by the AVX2 and AVX-512 elementwise files,
// after their softmax_x86). The arithmetic is ref::attention_heads's for such a cache, in another
// order: q is converted to Q8_0 per head, each position's score is an integer dot per 32-value
// block scaled by the two block scales, V rows are dequantized into the weighted sum.
// NOTE: internal linkage only (anonymous namespace), like the other headers in this folder.
#pragma once

#include <xmmintrin.h>

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

namespace tessera::kernels {
namespace {

// The 32 signed values of a K/V block: int8 as stored (Q8_0), nibbles - 8 (Q4_0).
inline __m256i kvq_values(const BlockQ8_0& b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs)); }
inline __m256i kvq_values(const BlockQ4_0& b) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
  // Element j is the low nibble of qs[j], element j + 16 the high nibble.
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
  return _mm256_sub_epi8(_mm256_and_si256(both, _mm256_set1_epi8(0x0f)), _mm256_set1_epi8(8));
}

// 8 int32 partial sums of k[j] * q[j] over signed bytes (|k| <= 127: maddubs cannot saturate).
inline __m256i kvq_dot_i8(__m256i k, __m256i q) {
  const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(k, k), _mm256_sign_epi8(q, k));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

inline float kvq_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Adds w * (dequantized V row) to out[0 .. head_dim).
inline void kvq_add_row(const BlockQ8_0* v, int64_t num_blocks, float w, float* out) {
  for (int64_t b = 0; b < num_blocks; ++b) {
    const __m256 d = _mm256_set1_ps(w * _cvtsh_ss(v[b].d));
    for (int i = 0; i < 4; ++i) {
      const __m256i x = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(v[b].qs + 8 * i)));
      float* o = out + b * kLegacyBlockSize + 8 * i;
      _mm256_storeu_ps(o, _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(x), _mm256_loadu_ps(o)));
    }
  }
}
inline void kvq_add_row(const BlockQ4_0* v, int64_t num_blocks, float w, float* out) {
  alignas(32) int8_t values[kLegacyBlockSize];
  for (int64_t b = 0; b < num_blocks; ++b) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(values), kvq_values(v[b]));
    const __m256 d = _mm256_set1_ps(w * _cvtsh_ss(v[b].d));
    for (int i = 0; i < 4; ++i) {
      const __m256i x = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(values + 8 * i)));
      float* o = out + b * kLegacyBlockSize + 8 * i;
      _mm256_storeu_ps(o, _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(x), _mm256_loadu_ps(o)));
    }
  }
}

template <typename Block>
void attention_heads_quantized_x86(const float* q, int32_t position, int32_t first_visible, float scale,
                                   float softcap, int64_t first_head, int64_t num_group_heads, int64_t num_heads,
                                   const PagedKvLayer& kv, std::span<const int32_t> block_table, float* scores,
                                   float* out) {
  const int64_t head_dim = kv.head_dim, num_blocks = head_dim / kLegacyBlockSize;
  const int64_t kv_head = first_head / (num_heads / kv.num_kv_heads);
  const int32_t context = position + 1;
  const auto* k_base = static_cast<const uint8_t*>(kv.k);
  const auto* v_base = static_cast<const uint8_t*>(kv.v);
  // The query heads as Q8_0 rows, one after another.
  thread_local std::vector<BlockQ8_0> q8;
  q8.resize(static_cast<size_t>(num_group_heads * num_blocks));
  for (int64_t g = 0; g < num_group_heads; ++g) {
    quantize_activation_row(DType::kQ8_0, q + g * head_dim, q8.data() + g * num_blocks, head_dim);
  }
  // Scores: each K row loaded once for up to kHeads heads.
  constexpr int64_t kHeads = 4;
  // NOTE: rows sit in blocks at random places, where hardware prefetchers stop: each K row is
  // asked for kRowsAhead positions before it is read (and V likewise in the second pass).
  constexpr int32_t kRowsAhead = 8;
  const int64_t row_bytes = num_blocks * static_cast<int64_t>(sizeof(Block));
  auto prefetch_row = [&](const uint8_t* base, int32_t p) {
    const char* row = reinterpret_cast<const char*>(base + quantized_slot_offset(kv, position_slot(kv, block_table, p),
                                                                                  kv_head));
    for (int64_t line = 0; line < row_bytes; line += 64) _mm_prefetch(row + line, _MM_HINT_T0);
  };
  for (int32_t p = 0; p < context; ++p) {
    if (p + kRowsAhead < context) prefetch_row(k_base, p + kRowsAhead);
    const auto* k = reinterpret_cast<const Block*>(
        k_base + quantized_slot_offset(kv, position_slot(kv, block_table, p), kv_head));
    for (int64_t g0 = 0; g0 < num_group_heads; g0 += kHeads) {
      const int64_t heads = std::min(kHeads, num_group_heads - g0);
      __m256 acc[kHeads] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
      for (int64_t b = 0; b < num_blocks; ++b) {
        const __m256i kv_values = kvq_values(k[b]);
        const float d_k = _cvtsh_ss(k[b].d);
        for (int64_t g = 0; g < heads; ++g) {
          const BlockQ8_0& qb = q8[static_cast<size_t>((g0 + g) * num_blocks + b)];
          const __m256i qv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qb.qs));
          const __m256 d = _mm256_set1_ps(d_k * _cvtsh_ss(qb.d));
          acc[g] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(kvq_dot_i8(kv_values, qv)), acc[g]);
        }
      }
      for (int64_t g = 0; g < heads; ++g) scores[(g0 + g) * context + p] = kvq_sum(acc[g]) * scale;
    }
  }
  for (int64_t g = 0; g < num_group_heads; ++g) {
    float* head_scores = scores + g * context;
    if (softcap > 0.0f) ref::softcap(head_scores + first_visible, context - first_visible, softcap);
    softmax_x86(head_scores + first_visible, context - first_visible);
    std::fill(head_scores, head_scores + first_visible, 0.0f);
    std::memset(out + g * head_dim, 0, static_cast<size_t>(head_dim) * sizeof(float));
  }
  for (int32_t p = first_visible; p < context; ++p) {
    if (p + kRowsAhead < context) prefetch_row(v_base, p + kRowsAhead);
    const auto* v = reinterpret_cast<const Block*>(
        v_base + quantized_slot_offset(kv, position_slot(kv, block_table, p), kv_head));
    for (int64_t g = 0; g < num_group_heads; ++g) kvq_add_row(v, num_blocks, scores[g * context + p], out + g * head_dim);
  }
}

void attention_heads_quantized_x86(const float* q, int32_t position, int32_t first_visible, float scale, float softcap,
                                   int64_t first_head, int64_t num_group_heads, int64_t num_heads,
                                   const PagedKvLayer& kv, std::span<const int32_t> block_table, float* scores,
                                   float* out) {
  if (kv.type == DType::kQ8_0) {
    attention_heads_quantized_x86<BlockQ8_0>(q, position, first_visible, scale, softcap, first_head, num_group_heads,
                                             num_heads, kv, block_table, scores, out);
  } else {
    attention_heads_quantized_x86<BlockQ4_0>(q, position, first_visible, scale, softcap, first_head, num_group_heads,
                                             num_heads, kv, block_table, scores, out);
  }
}

}  // namespace
}  // namespace tessera::kernels
