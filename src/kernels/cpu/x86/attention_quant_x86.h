// Attention over a quantized KV cache (q8_0 / q4_0, quantized_kv in kernels.h) with x86 integer
// intrinsics, included by attention_x86.h (so by the AVX2 and AVX-512 elementwise files, after
// their softmax_x86). The arithmetic is ref::attention_heads's for such a cache, in another order:
// q is converted to Q8_0 per head, each position's score is an integer dot per 32-value block
// scaled by the two block scales, V rows are dequantized into the weighted sum.
//  - Scores run over tiles of 8 positions: each K block is loaded and prepared once per tile for
//    every head of the group, each (head, position) block dot is one vpdpbusd where AVX-512 VNNI
//    is there (k as unsigned bytes, q signed; the offset is taken back with the sum of q), and the
//    8 positions' int32 partial sums are reduced together into one vector (no horizontal sum per
//    position). Integer sums are exact, so a position's score does not depend on its tile.
//  - V: per 32-value block, up to kValueHeads heads' accumulators stay in registers while the
//    positions stream; each row block is dequantized once per pass and shared by those heads.
// NOTE: internal linkage only (anonymous namespace), like the other headers in this folder.
#pragma once

#include <xmmintrin.h>

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/x86/count_dispatch_x86.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define TESSERA_KVQ_VNNI 1
#endif

namespace tessera::kernels {
namespace {

// The 32 signed values of a K/V block: int8 as stored (Q8_0), nibbles - 8 (Q4_0).
inline __m256i kvq_nibbles(const BlockQ4_0& b) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
  // Element j is the low nibble of qs[j], element j + 16 the high nibble.
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}
inline __m256i kvq_values(const BlockQ8_0& b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs)); }
inline __m256i kvq_values(const BlockQ4_0& b) { return _mm256_sub_epi8(kvq_nibbles(b), _mm256_set1_epi8(8)); }

// K values as the block dot wants them, and what each of them is offset by (the dot then owes
// offset x sum of q): VNNI multiplies unsigned by signed bytes, so Q8_0 is biased by 128; Q4_0's
// nibbles are unsigned already (value + 8); without VNNI, Q8_0 stays signed (the sign trick).
template <bool kVnni>
inline __m256i kvq_prepared(const BlockQ8_0& b) {
  return kVnni ? _mm256_xor_si256(kvq_values(b), _mm256_set1_epi8(static_cast<char>(0x80))) : kvq_values(b);
}
template <bool kVnni>
inline __m256i kvq_prepared(const BlockQ4_0& b) {
  return kvq_nibbles(b);
}
template <typename Block, bool kVnni>
constexpr int32_t kvq_offset() {
  return std::is_same_v<Block, BlockQ4_0> ? 8 : (kVnni ? 128 : 0);
}

// 8 int32 partial sums of k[j] * q[j] over one 32-value block, k as kvq_prepared made it.
template <typename Block, bool kVnni>
inline __m256i kvq_block_dot(__m256i k, __m256i q) {
#if defined(TESSERA_KVQ_VNNI)
  if constexpr (kVnni) return _mm256_dpbusd_epi32(_mm256_setzero_si256(), k, q);
#endif
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (std::is_same_v<Block, BlockQ4_0>) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(k, q), ones);  // k <= 15: no saturation
  } else {
    // |k| <= 127: maddubs cannot saturate.
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(k, k), _mm256_sign_epi8(q, k)), ones);
  }
}

// Lane j of the result: the sum of the 8 lanes of v[j].
inline __m256i kvq_reduce8(const __m256i (&v)[8]) {
  const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
  const __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
  // a = [v0 v1 v2 v3 | v0 v1 v2 v3] (low and high 128-bit halves' sums), b likewise for v4..v7.
  return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

// Float vectors the V pass accumulates in: 16 lanes with AVX-512, 8 with AVX2.
struct KvqLanes {
#if defined(__AVX512F__)
  using Vec = __m512;
  static constexpr int kVecs = 2;         // per 32-value block
  static constexpr int kValueHeads = 6;   // accumulators 6 x 2 of 32 zmm
  static Vec set1(float x) { return _mm512_set1_ps(x); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static void add_store(float* out, Vec v) { _mm512_storeu_ps(out, _mm512_add_ps(_mm512_loadu_ps(out), v)); }
  // values[i]: elements 16 i ... 16 i + 15 of the 32 bytes, as floats times d.
  static void widen(__m256i bytes, Vec d, Vec (&values)[kVecs]) {
    values[0] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(bytes))));
    values[1] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(bytes, 1))));
  }
#else
  using Vec = __m256;
  static constexpr int kVecs = 4;
  static constexpr int kValueHeads = 2;   // accumulators 2 x 4 of 16 ymm
  static Vec set1(float x) { return _mm256_set1_ps(x); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static void add_store(float* out, Vec v) { _mm256_storeu_ps(out, _mm256_add_ps(_mm256_loadu_ps(out), v)); }
  static void widen(__m256i bytes, Vec d, Vec (&values)[kVecs]) {
    const __m128i lo = _mm256_castsi256_si128(bytes), hi = _mm256_extracti128_si256(bytes, 1);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int i = 0; i < 4; ++i) values[i] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[i])));
  }
#endif
};

// The query heads of a group as Q8_0, with each block's value sum (for the K offset).
struct KvqQuery {
  std::vector<BlockQ8_0> blocks;  // [head, block]
  std::vector<int32_t> sums;      // [head, block]
};

// Scores of positions [0, context) for every head of the group, 8 positions at a time.
// NOTE: K and V rows sit in blocks at random places, where hardware prefetchers stop: the next
// tile's K rows and this tile's V rows (for the pass over V that follows) are asked for here.
template <typename Block, bool kVnni>
void kvq_scores(const KvqQuery& query, int64_t num_group_heads, int64_t num_blocks, const uint8_t* k_base,
                const uint8_t* v_base, const int64_t* rows, int32_t context, float scale, float* scores) {
  constexpr int kTile = 8;
  constexpr int32_t kOffset = kvq_offset<Block, kVnni>();
  const __m256 scale_v = _mm256_set1_ps(scale);
  for (int32_t p0 = 0; p0 < context; p0 += kTile) {
    const int32_t count = std::min(kTile, context - p0);
    // Rows of the tile (the last one repeated past the context; those lanes are not stored).
    const int64_t row_bytes = num_blocks * static_cast<int64_t>(sizeof(Block));
    auto prefetch_row = [&](const uint8_t* row) {
      _mm_prefetch(reinterpret_cast<const char*>(row), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(row + row_bytes - 1), _MM_HINT_T0);
    };
    const Block* k[kTile];
    for (int j = 0; j < kTile; ++j) {
      k[j] = reinterpret_cast<const Block*>(k_base + rows[p0 + std::min(j, count - 1)]);
      if (p0 + kTile + j < context) prefetch_row(k_base + rows[p0 + kTile + j]);
      if (j < count) prefetch_row(v_base + rows[p0 + j]);
    }
    const __m256i store_mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    // Per head, the tile's scores accumulate block by block; heads run inside the block loop so
    // each prepared K block serves them all.
    thread_local std::vector<float> head_acc;  // [head, kTile]
    head_acc.assign(static_cast<size_t>(num_group_heads * kTile), 0.0f);
    for (int64_t b = 0; b < num_blocks; ++b) {
      __m256i kb[kTile];
      alignas(16) uint16_t d_bits[kTile];
      for (int j = 0; j < kTile; ++j) {
        kb[j] = kvq_prepared<kVnni>(k[j][b]);
        d_bits[j] = k[j][b].d;
      }
      const __m256 d_k = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(d_bits)));
      for (int64_t g = 0; g < num_group_heads; ++g) {
        const BlockQ8_0& qb = query.blocks[static_cast<size_t>(g * num_blocks + b)];
        const __m256i qv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qb.qs));
        __m256i partial[kTile];
        for (int j = 0; j < kTile; ++j) partial[j] = kvq_block_dot<Block, kVnni>(kb[j], qv);
        __m256i dots = kvq_reduce8(partial);
        if constexpr (kOffset != 0) {
          dots = _mm256_sub_epi32(dots, _mm256_set1_epi32(kOffset * query.sums[static_cast<size_t>(g * num_blocks + b)]));
        }
        const __m256 d = _mm256_mul_ps(d_k, _mm256_set1_ps(_cvtsh_ss(qb.d)));
        float* a = head_acc.data() + g * kTile;
        _mm256_storeu_ps(a, _mm256_fmadd_ps(_mm256_cvtepi32_ps(dots), d, _mm256_loadu_ps(a)));
      }
    }
    for (int64_t g = 0; g < num_group_heads; ++g) {
      _mm256_maskstore_ps(scores + g * context + p0, store_mask,
                          _mm256_mul_ps(_mm256_loadu_ps(head_acc.data() + g * kTile), scale_v));
    }
  }
}

// out[g] = sum over positions [first, context) of weights[g][p] x V row p, for kHeads heads, one
// 32-value block of the rows at a time.
template <typename Block, int kHeads>
void kvq_values_pass(const float* weights, int32_t context, int32_t first, int64_t num_blocks, const uint8_t* v_base,
                     const int64_t* rows, int64_t head_dim, float* out) {
  using Vec = KvqLanes::Vec;
  constexpr int kVecs = KvqLanes::kVecs;
  constexpr int kLanes = kLegacyBlockSize / kVecs;
  for (int64_t b = 0; b < num_blocks; ++b) {
    Vec acc[kHeads][kVecs];
    for (int g = 0; g < kHeads; ++g) {
      for (int i = 0; i < kVecs; ++i) acc[g][i] = KvqLanes::set1(0.0f);
    }
    for (int32_t p = first; p < context; ++p) {
      const Block& block = reinterpret_cast<const Block*>(v_base + rows[p])[b];
      Vec values[kVecs];
      KvqLanes::widen(kvq_values(block), KvqLanes::set1(_cvtsh_ss(block.d)), values);
      for (int g = 0; g < kHeads; ++g) {
        const Vec w = KvqLanes::set1(weights[g * context + p]);
        for (int i = 0; i < kVecs; ++i) acc[g][i] = KvqLanes::fmadd(w, values[i], acc[g][i]);
      }
    }
    for (int g = 0; g < kHeads; ++g) {
      for (int i = 0; i < kVecs; ++i) KvqLanes::add_store(out + g * head_dim + b * kLegacyBlockSize + i * kLanes, acc[g][i]);
    }
  }
}

template <typename Block, bool kVnni>
void attention_heads_quantized_x86(const float* q, int32_t position, int32_t first_visible, float scale,
                                   float softcap, int64_t first_head, int64_t num_group_heads, int64_t num_heads,
                                   const PagedKvLayer& kv, std::span<const int32_t> block_table, float* scores,
                                   float* out) {
  const int64_t head_dim = kv.head_dim, num_blocks = head_dim / kLegacyBlockSize;
  const int64_t kv_head = first_head / (num_heads / kv.num_kv_heads);
  const int32_t context = position + 1;
  // The byte offset of each position's row (the same in K and V).
  thread_local std::vector<int64_t> rows;
  rows.resize(static_cast<size_t>(context));
  for (int32_t p = 0; p < context; ++p) {
    rows[static_cast<size_t>(p)] = quantized_slot_offset(kv, position_slot(kv, block_table, p), kv_head);
  }
  // The query heads as Q8_0 rows, one after another, and each block's sum.
  thread_local KvqQuery query;
  query.blocks.resize(static_cast<size_t>(num_group_heads * num_blocks));
  query.sums.resize(query.blocks.size());
  for (int64_t g = 0; g < num_group_heads; ++g) {
    quantize_activation_row(DType::kQ8_0, q + g * head_dim, query.blocks.data() + g * num_blocks, head_dim);
  }
  for (size_t i = 0; i < query.blocks.size(); ++i) {
    int32_t sum = 0;
    for (const int8_t x : query.blocks[i].qs) sum += x;
    query.sums[i] = sum;
  }
  const auto* v_base = static_cast<const uint8_t*>(kv.v);
  kvq_scores<Block, kVnni>(query, num_group_heads, num_blocks, static_cast<const uint8_t*>(kv.k), v_base,
                           rows.data(), context, scale, scores);
  for (int64_t g = 0; g < num_group_heads; ++g) {
    float* head_scores = scores + g * context;
    if (softcap > 0.0f) ref::softcap(head_scores + first_visible, context - first_visible, softcap);
    softmax_x86(head_scores + first_visible, context - first_visible);
    std::fill(head_scores, head_scores + first_visible, 0.0f);
    std::memset(out + g * head_dim, 0, static_cast<size_t>(head_dim) * sizeof(float));
  }
  for (int64_t g = 0; g < num_group_heads; g += KvqLanes::kValueHeads) {
    with_count<KvqLanes::kValueHeads>(std::min<int64_t>(KvqLanes::kValueHeads, num_group_heads - g), [&](auto heads) {
      kvq_values_pass<Block, heads()>(scores + g * context, context, first_visible, num_blocks, v_base, rows.data(),
                                      head_dim, out + g * head_dim);
    });
  }
}

void attention_heads_quantized_x86(const float* q, int32_t position, int32_t first_visible, float scale, float softcap,
                                   int64_t first_head, int64_t num_group_heads, int64_t num_heads,
                                   const PagedKvLayer& kv, std::span<const int32_t> block_table, float* scores,
                                   float* out) {
  auto run = [&](auto vnni) {
    if (kv.type == DType::kQ8_0) {
      attention_heads_quantized_x86<BlockQ8_0, vnni()>(q, position, first_visible, scale, softcap, first_head,
                                                       num_group_heads, num_heads, kv, block_table, scores, out);
    } else {
      attention_heads_quantized_x86<BlockQ4_0, vnni()>(q, position, first_visible, scale, softcap, first_head,
                                                       num_group_heads, num_heads, kv, block_table, scores, out);
    }
  };
#if defined(TESSERA_KVQ_VNNI)
  // The AVX-512 file is compiled with VNNI; a CPU may still lack it.
  static const bool vnni = cpu_features().avx512vnni;
  if (vnni) {
    run(std::true_type{});
    return;
  }
#endif
  run(std::false_type{});
}

}  // namespace
}  // namespace tessera::kernels
