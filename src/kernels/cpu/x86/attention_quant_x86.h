// Attention over a quantized KV cache (q8_0 / q4_0 K and V, quantized_kv in kernels.h) with x86
// integer intrinsics, included by attention_x86.h (so by the AVX2 and AVX-512 elementwise files,
// after their softmax_x86). The arithmetic is ref::attention_heads's for such a cache, in another
// order: q is converted to Q8_0 per head, each position's score is an integer dot per 32-value
// block scaled by the two block scales, V rows are dequantized into the weighted sum.
//  - Scores (kvq_scores): K is dimension-major in 4-byte groups inside a block (PagedKvLayer), so
//    a vector holds one group of 8 (AVX2) or 16 (AVX-512) positions and the dot for all of them is
//    one multiply-add per group with q's 4 bytes broadcast: vpdpbusd where AVX-512 VNNI is there,
//    maddubs + madd otherwise. No horizontal sums.
//  - V: per 32-value block, up to kValueHeads (8 / 2) heads' accumulators stay in registers while
//    the positions stream; each row block is dequantized once per pass and shared by those heads.
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

// Score lanes: a vector of K values of kLanes positions, one 4-byte group each (PagedKvLayer's
// quantized K layout), dotted with q's matching 4 bytes broadcast.
// 256-bit, no VNNI (the AVX2 ISA, and AVX-512 CPUs without VNNI): Q8_0 stays signed (the sign
// trick, |k| <= 127 so maddubs cannot saturate); Q4_0 nibbles are unsigned (<= 15).
struct ScoreLanes256 {
  using IVec = __m256i;
  using FVec = __m256;
  using Mask = __m256i;
  static constexpr int kLanes = 8;
  static Mask mask(int32_t n) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
  static IVec load_groups(const uint8_t* p, Mask m) { return _mm256_maskload_epi32(reinterpret_cast<const int*>(p), m); }
  // NOTE: reads 8 scales whatever the count: in a region the block_size scales of a 32-value
  // block are always followed by its values, so the read stays inside the cache.
  static FVec load_scales(const uint16_t* p, Mask) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static IVec prepare_q8(IVec k) { return k; }
  static constexpr int32_t kQ8Offset = 0;
  static IVec low_nibbles(IVec k) { return _mm256_and_si256(k, _mm256_set1_epi8(0x0f)); }
  static IVec high_nibbles(IVec k) { return _mm256_and_si256(_mm256_srli_epi16(k, 4), _mm256_set1_epi8(0x0f)); }
  template <bool kUnsigned>
  static IVec dot(IVec acc, IVec k, int32_t q_word) {
    const IVec q = _mm256_set1_epi32(q_word), ones = _mm256_set1_epi16(1);
    const IVec pairs = kUnsigned ? _mm256_maddubs_epi16(k, q)
                                 : _mm256_maddubs_epi16(_mm256_sign_epi8(k, k), _mm256_sign_epi8(q, k));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones));
  }
  static IVec set1_i(int32_t x) { return _mm256_set1_epi32(x); }
  static IVec sub_i(IVec a, IVec b) { return _mm256_sub_epi32(a, b); }
  static FVec to_float(IVec a) { return _mm256_cvtepi32_ps(a); }
  static FVec set1(float x) { return _mm256_set1_ps(x); }
  static FVec zero() { return _mm256_setzero_ps(); }
  static FVec mul(FVec a, FVec b) { return _mm256_mul_ps(a, b); }
  static FVec fmadd(FVec a, FVec b, FVec c) { return _mm256_fmadd_ps(a, b, c); }
  static void store(float* p, Mask m, FVec v) { _mm256_maskstore_ps(p, m, v); }
};

#if defined(TESSERA_KVQ_VNNI)
// 512-bit with AVX-512 VNNI: one vpdpbusd per group (unsigned K bytes x signed q): Q8_0 is biased
// by 128 to be unsigned, the dot then owes 128 x the sum of q's block.
struct ScoreLanes512Vnni {
  using IVec = __m512i;
  using FVec = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  static Mask mask(int32_t n) { return n >= 16 ? Mask(0xffff) : static_cast<Mask>((1u << n) - 1); }
  static IVec load_groups(const uint8_t* p, Mask m) { return _mm512_maskz_loadu_epi32(m, p); }
  static FVec load_scales(const uint16_t* p, Mask m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
  static IVec prepare_q8(IVec k) { return _mm512_xor_si512(k, _mm512_set1_epi8(static_cast<char>(0x80))); }
  static constexpr int32_t kQ8Offset = 128;
  static IVec low_nibbles(IVec k) { return _mm512_and_si512(k, _mm512_set1_epi8(0x0f)); }
  static IVec high_nibbles(IVec k) { return _mm512_and_si512(_mm512_srli_epi16(k, 4), _mm512_set1_epi8(0x0f)); }
  template <bool kUnsigned>
  static IVec dot(IVec acc, IVec k, int32_t q_word) { return _mm512_dpbusd_epi32(acc, k, _mm512_set1_epi32(q_word)); }
  static IVec set1_i(int32_t x) { return _mm512_set1_epi32(x); }
  static IVec sub_i(IVec a, IVec b) { return _mm512_sub_epi32(a, b); }
  static FVec to_float(IVec a) { return _mm512_cvtepi32_ps(a); }
  static FVec set1(float x) { return _mm512_set1_ps(x); }
  static FVec zero() { return _mm512_setzero_ps(); }
  static FVec mul(FVec a, FVec b) { return _mm512_mul_ps(a, b); }
  static FVec fmadd(FVec a, FVec b, FVec c) { return _mm512_fmadd_ps(a, b, c); }
  static void store(float* p, Mask m, FVec v) { _mm512_mask_storeu_ps(p, m, v); }
};
#endif

// Float vectors the V pass accumulates in: 16 lanes with AVX-512, 8 with AVX2.
struct KvqLanes {
#if defined(__AVX512F__)
  using Vec = __m512;
  static constexpr int kVecs = 2;         // per 32-value block
  static constexpr int kValueHeads = 8;   // accumulators 8 x 2 of 32 zmm
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

// The query heads of a group as Q8_0, with each block's value sum (for a K offset).
struct KvqQuery {
  std::vector<BlockQ8_0> blocks;  // [head, block]
  std::vector<int32_t> sums;      // [head, block]
  int32_t word(int64_t head_block, int j) const {  // q bytes 4j .. 4j + 3 of a block
    int32_t w;
    std::memcpy(&w, blocks[static_cast<size_t>(head_block)].qs + 4 * j, 4);
    return w;
  }
};

// Scores of positions [0, context) for every head of the group, a KV block's positions
// kLanes at a time: each position's 4-byte K groups of a 32-value block are 8 vectors (Q4_0: the
// 4 stored groups' low and high nibbles), prepared once for all heads; vector j pairs with q's
// bytes 4j .. 4j + 3. Integer sums are exact, and each position's float arithmetic is the same
// in every lane and tile, so a score depends on its query and K row only.
// NOTE: blocks sit at random places, where hardware prefetchers stop: K regions two blocks ahead
// and this block's V rows (for the pass over V that follows) are asked for here.
template <typename Lanes, typename KBlock>
void kvq_scores(const KvqQuery& query, int64_t num_group_heads, const PagedKvLayer& kv,
                std::span<const int32_t> block_table, int64_t kv_head, int64_t v_row_bytes, int32_t context,
                float scale, float* scores) {
  using IVec = typename Lanes::IVec;
  using FVec = typename Lanes::FVec;
  constexpr bool kQ4 = std::is_same_v<KBlock, BlockQ4_0>;
  constexpr int kGroups = kQ4 ? 4 : 8;  // stored 4-byte groups per position and 32-value block
  constexpr int32_t kOffset = kQ4 ? 8 : Lanes::kQ8Offset;
  const int64_t num_blocks = kv.head_dim / kLegacyBlockSize, block_size = kv.block_size;
  const int64_t k_block_bytes = block_size * static_cast<int64_t>(sizeof(KBlock));  // one 32-value block's
  const auto* k_base = static_cast<const uint8_t*>(kv.k);
  const auto* v_base = static_cast<const uint8_t*>(kv.v);
  auto prefetch = [](const uint8_t* start, int64_t bytes) {
    for (int64_t line = 0; line < bytes; line += 64) _mm_prefetch(reinterpret_cast<const char*>(start + line), _MM_HINT_T0);
  };
  constexpr int32_t kBlocksAhead = 2;
  const int32_t num_kv_blocks = static_cast<int32_t>((context + block_size - 1) / block_size);
  // Per 32-value block: its 8 prepared group vectors and its scales (a struct: a vector of bare
  // SIMD types would drop their attributes).
  struct Prepared {
    IVec groups[8];
    FVec scales;
  };
  thread_local std::vector<Prepared> prepared;
  prepared.resize(static_cast<size_t>(num_blocks));
  for (int32_t blk = 0; blk < num_kv_blocks; ++blk) {
    for (int32_t ahead = blk == 0 ? 1 : kBlocksAhead; ahead <= kBlocksAhead; ++ahead) {
      if (blk + ahead < num_kv_blocks) {
        prefetch(k_base + quantized_k_region_offset(kv, block_table[static_cast<size_t>(blk + ahead)], kv_head),
                 num_blocks * k_block_bytes);
      }
    }
    const int64_t block_id = block_table[static_cast<size_t>(blk)];
    prefetch(v_base + quantized_row_index(kv, block_id * block_size, kv_head) * v_row_bytes, block_size * v_row_bytes);
    const uint8_t* region = k_base + quantized_k_region_offset(kv, block_id, kv_head);
    const int32_t first = blk * static_cast<int32_t>(block_size);
    const int32_t count = std::min(static_cast<int32_t>(block_size), context - first);
    for (int32_t p0 = 0; p0 < count; p0 += Lanes::kLanes) {
      const typename Lanes::Mask m = Lanes::mask(std::min<int32_t>(Lanes::kLanes, count - p0));
      for (int64_t b = 0; b < num_blocks; ++b) {
        const uint8_t* block = region + b * k_block_bytes;
        prepared[static_cast<size_t>(b)].scales = Lanes::load_scales(reinterpret_cast<const uint16_t*>(block) + p0, m);
        const uint8_t* groups = block + 2 * block_size + 4 * p0;
        IVec* out = prepared[static_cast<size_t>(b)].groups;
        for (int i = 0; i < kGroups; ++i) {
          const IVec k = Lanes::load_groups(groups + i * block_size * 4, m);
          if constexpr (kQ4) {
            out[i] = Lanes::low_nibbles(k);
            out[i + 4] = Lanes::high_nibbles(k);
          } else {
            out[i] = Lanes::prepare_q8(k);
          }
        }
      }
      for (int64_t g = 0; g < num_group_heads; ++g) {
        FVec acc = Lanes::zero();
        for (int64_t b = 0; b < num_blocks; ++b) {
          const int64_t qb = g * num_blocks + b;
          IVec sum = Lanes::set1_i(0);
          const IVec* k = prepared[static_cast<size_t>(b)].groups;
#pragma GCC unroll 8
          for (int j = 0; j < 8; ++j) sum = Lanes::template dot<kQ4 || kOffset != 0>(sum, k[j], query.word(qb, j));
          if constexpr (kOffset != 0) sum = Lanes::sub_i(sum, Lanes::set1_i(kOffset * query.sums[static_cast<size_t>(qb)]));
          const FVec d = Lanes::mul(prepared[static_cast<size_t>(b)].scales,
                                    Lanes::set1(_cvtsh_ss(query.blocks[static_cast<size_t>(qb)].d)));
          acc = Lanes::fmadd(Lanes::to_float(sum), d, acc);
        }
        Lanes::store(scores + g * context + first + p0, m, Lanes::mul(acc, Lanes::set1(scale)));
      }
    }
  }
}

// out[g] = sum over positions [first, context) of weights[g][p] x V row p (row rows[p] of the
// cache), for kHeads heads, one 32-value block of the rows at a time.
template <typename Block, int kHeads>
void kvq_values_pass(const float* weights, int32_t context, int32_t first, int64_t num_blocks, const uint8_t* v_base,
                     const int64_t* rows, int64_t head_dim, float* out) {
  const int64_t row_bytes = num_blocks * static_cast<int64_t>(sizeof(Block));
  using Vec = KvqLanes::Vec;
  constexpr int kVecs = KvqLanes::kVecs;
  constexpr int kLanes = kLegacyBlockSize / kVecs;
  for (int64_t b = 0; b < num_blocks; ++b) {
    Vec acc[kHeads][kVecs];
    for (int g = 0; g < kHeads; ++g) {
      for (int i = 0; i < kVecs; ++i) acc[g][i] = KvqLanes::set1(0.0f);
    }
    for (int32_t p = first; p < context; ++p) {
      const Block& block = reinterpret_cast<const Block*>(v_base + rows[p] * row_bytes)[b];
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

template <typename Lanes, typename KBlock, typename VBlock>
void attention_heads_quantized_x86(const float* q, int32_t position, int32_t first_visible, float scale,
                                   float softcap, int64_t first_head, int64_t num_group_heads, int64_t num_heads,
                                   const PagedKvLayer& kv, std::span<const int32_t> block_table, float* scores,
                                   float* out) {
  const int64_t head_dim = kv.head_dim, num_blocks = head_dim / kLegacyBlockSize;
  const int64_t kv_head = first_head / (num_heads / kv.num_kv_heads);
  const int32_t context = position + 1;
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
  const int64_t v_row_bytes = num_blocks * static_cast<int64_t>(sizeof(VBlock));
  kvq_scores<Lanes, KBlock>(query, num_group_heads, kv, block_table, kv_head, v_row_bytes, context, scale, scores);
  for (int64_t g = 0; g < num_group_heads; ++g) {
    float* head_scores = scores + g * context;
    if (softcap > 0.0f) ref::softcap(head_scores + first_visible, context - first_visible, softcap);
    softmax_x86(head_scores + first_visible, context - first_visible);
    std::fill(head_scores, head_scores + first_visible, 0.0f);
    std::memset(out + g * head_dim, 0, static_cast<size_t>(head_dim) * sizeof(float));
  }
  // Each position's V row index (quantized_row_index), block by block.
  thread_local std::vector<int64_t> rows;
  rows.resize(static_cast<size_t>(context));
  for (int32_t p = first_visible; p < context;) {
    const int64_t first_row = quantized_row_index(kv, position_slot(kv, block_table, p), kv_head);
    const int32_t run = std::min<int32_t>(context - p, kv.block_size - p % kv.block_size);
    for (int32_t i = 0; i < run; ++i) rows[static_cast<size_t>(p + i)] = first_row + i;
    p += run;
  }
  const auto* v_base = static_cast<const uint8_t*>(kv.v);
  for (int64_t g = 0; g < num_group_heads; g += KvqLanes::kValueHeads) {
    with_count<KvqLanes::kValueHeads>(std::min<int64_t>(KvqLanes::kValueHeads, num_group_heads - g), [&](auto heads) {
      kvq_values_pass<VBlock, heads()>(scores + g * context, context, first_visible, num_blocks, v_base, rows.data(),
                                       head_dim, out + g * head_dim);
    });
  }
}

template <typename Lanes>
void attention_heads_quantized_x86(const float* q, int32_t position, int32_t first_visible, float scale, float softcap,
                                   int64_t first_head, int64_t num_group_heads, int64_t num_heads,
                                   const PagedKvLayer& kv, std::span<const int32_t> block_table, float* scores,
                                   float* out) {
  auto run = [&](auto k_block, auto v_block) {
    attention_heads_quantized_x86<Lanes, decltype(k_block), decltype(v_block)>(
        q, position, first_visible, scale, softcap, first_head, num_group_heads, num_heads, kv, block_table, scores,
        out);
  };
  const bool v_q8 = value_type(kv) == DType::kQ8_0;
  if (kv.type == DType::kQ8_0) {
    v_q8 ? run(BlockQ8_0{}, BlockQ8_0{}) : run(BlockQ8_0{}, BlockQ4_0{});
  } else {
    v_q8 ? run(BlockQ4_0{}, BlockQ8_0{}) : run(BlockQ4_0{}, BlockQ4_0{});
  }
}

void attention_heads_quantized_x86(const float* q, int32_t position, int32_t first_visible, float scale, float softcap,
                                   int64_t first_head, int64_t num_group_heads, int64_t num_heads,
                                   const PagedKvLayer& kv, std::span<const int32_t> block_table, float* scores,
                                   float* out) {
#if defined(TESSERA_KVQ_VNNI)
  // The AVX-512 file is compiled with VNNI; a CPU may still lack it.
  static const bool vnni = cpu_features().avx512vnni;
  if (vnni) {
    attention_heads_quantized_x86<ScoreLanes512Vnni>(q, position, first_visible, scale, softcap, first_head,
                                                     num_group_heads, num_heads, kv, block_table, scores, out);
    return;
  }
#endif
  attention_heads_quantized_x86<ScoreLanes256>(q, position, first_visible, scale, softcap, first_head,
                                               num_group_heads, num_heads, kv, block_table, scores, out);
}

}  // namespace
}  // namespace tessera::kernels
