// Q8_0 / Q4_0 / Q5_0 weight x Q8_0 activation and Q4_1 / Q5_1 x Q8_1 matmul and the Q8_0/Q8_1 activation quantizer, written
// once with 256-bit integer intrinsics and included by the AVX2 and the AVX-512 legacy files.
// NOTE: everything here has internal linkage (anonymous namespace): each including file is
// compiled with different ISA flags, and a shared inline symbol could let the linker pick the
// AVX-512 copy for the AVX2 table (an ODR violation that would crash on AVX2-only CPUs).
// With AVX512_VNNI + AVX512VL each block's int8 dot is one vpdpbusd on biased-unsigned weights
// (the bias correction is computed once per activation block and shared by all rows);
// otherwise the classic sign trick + maddubs + madd.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/kernel_table.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

namespace tessera::kernels {
namespace {

inline float load_f16(uint16_t h) { return _cvtsh_ss(h); }

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define TESSERA_LEGACY_VNNI 1
#endif

// 8 int32 partial sums of w[j] * a[j] (signed bytes). The sign trick moves w's sign onto a so
// the unsigned x signed byte multiply applies (|w| <= 127, so maddubs cannot saturate).
inline __m256i dot_i8x32(__m256i w, __m256i a) {
  const __m256i w_abs = _mm256_sign_epi8(w, w);
  const __m256i a_signed = _mm256_sign_epi8(a, w);
  const __m256i pairs = _mm256_maddubs_epi16(w_abs, a_signed);
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The 32 weights of a block as unsigned bytes q = w + kBias (vpdpbusd and maddubs multiply
// unsigned by signed bytes); the bias is removed once per activation block. Types with an
// offset m (Q4_1, Q5_1) have kBias 0 and kHasOffset.
inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  // Low nibbles are elements 0..15, high nibbles 16..31.
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// 0x10 in byte j where bit j of the little-endian qh is set (ggml's bytes_from_bits_32).
inline __m256i unpack_fifth_bits(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof(bits));
  const __m256i shuffle = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
  __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), shuffle);
  // Byte k of every 8 has all bits but bit k set: all ones exactly when bit k is set.
  bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_and_si256(_mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1)), _mm256_set1_epi8(0x10));
}

template <typename WBlock>
struct WeightBytes;
template <>
struct WeightBytes<BlockQ8_0> {
  using ABlock = BlockQ8_0;
  static constexpr int kBias = 128;
  static constexpr bool kHasOffset = false;
  static __m256i load_signed(const BlockQ8_0& block) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qs));
  }
  static __m256i load(const BlockQ8_0& block) {
    return _mm256_xor_si256(load_signed(block), _mm256_set1_epi8(static_cast<char>(0x80)));  // w + 128
  }
};
template <>
struct WeightBytes<BlockQ4_0> {
  using ABlock = BlockQ8_0;
  static constexpr int kBias = 8;
  static constexpr bool kHasOffset = false;
  static __m256i load(const BlockQ4_0& block) { return unpack_nibbles(block.qs); }
};
template <>
struct WeightBytes<BlockQ5_0> {
  using ABlock = BlockQ8_0;
  static constexpr int kBias = 16;
  static constexpr bool kHasOffset = false;
  static __m256i load(const BlockQ5_0& block) {
    return _mm256_or_si256(unpack_nibbles(block.qs), unpack_fifth_bits(block.qh));
  }
};
template <>
struct WeightBytes<BlockQ4_1> {
  using ABlock = BlockQ8_1;
  static constexpr int kBias = 0;
  static constexpr bool kHasOffset = true;
  static __m256i load(const BlockQ4_1& block) { return unpack_nibbles(block.qs); }
};
template <>
struct WeightBytes<BlockQ5_1> {
  using ABlock = BlockQ8_1;
  static constexpr int kBias = 0;
  static constexpr bool kHasOffset = true;
  static __m256i load(const BlockQ5_1& block) {
    return _mm256_or_si256(unpack_nibbles(block.qs), unpack_fifth_bits(block.qh));
  }
};

// Signed weights for the non-VNNI sign trick (Q8_0 loads them directly).
template <typename WBlock>
inline __m256i load_signed_weights(const WBlock& block) {
  if constexpr (std::is_same_v<WBlock, BlockQ8_0>) {
    return WeightBytes<WBlock>::load_signed(block);
  } else {
    return _mm256_sub_epi8(WeightBytes<WBlock>::load(block), _mm256_set1_epi8(WeightBytes<WBlock>::kBias));
  }
}

// kRows weight rows x kTokens activation rows: every loaded (and unpacked) block is reused
// kRows or kTokens times. Per block the int32 dot is scaled in float lanes with FMA (as ggml);
// the offset term m * s of Q4_1/Q5_1 goes to a scalar sum per output.
template <typename WBlock, int kRows, int kTokens>
void legacy_tile(const uint8_t* const* w_rows, const uint8_t* x, size_t x_row_bytes, int64_t num_blocks, float* out,
                 int64_t out_stride) {
  using Traits = WeightBytes<WBlock>;
  using ABlock = typename Traits::ABlock;
  __m256 acc[kRows][kTokens];
  float offset[kRows][kTokens] = {};
  for (int r = 0; r < kRows; ++r)
    for (int t = 0; t < kTokens; ++t) acc[r][t] = _mm256_setzero_ps();
  const ABlock* a[kTokens];
  for (int t = 0; t < kTokens; ++t) a[t] = reinterpret_cast<const ABlock*>(x + static_cast<size_t>(t) * x_row_bytes);
  const WBlock* w[kRows];
  for (int r = 0; r < kRows; ++r) w[r] = reinterpret_cast<const WBlock*>(w_rows[r]);
  for (int64_t b = 0; b < num_blocks; ++b) {
    __m256i a_q[kTokens];
    float a_d[kTokens];
    float a_s[kTokens];
#if defined(TESSERA_LEGACY_VNNI)
    // -bias * sum(a) per lane group, the starting value of every row's dot with this block:
    // sum((w + bias) * a) - bias * sum(a) = sum(w * a). Shared by all kRows rows.
    __m256i a_bias[kTokens];
#endif
    for (int t = 0; t < kTokens; ++t) {
      a_q[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t][b].qs));
      a_d[t] = load_f16(a[t][b].d);
      if constexpr (Traits::kHasOffset) a_s[t] = load_f16(a[t][b].s);
#if defined(TESSERA_LEGACY_VNNI)
      if constexpr (Traits::kBias != 0) {
        const __m256i bias_bytes = _mm256_set1_epi8(static_cast<char>(Traits::kBias));
        a_bias[t] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                     _mm256_dpbusd_epi32(_mm256_setzero_si256(), bias_bytes, a_q[t]));
      } else {
        a_bias[t] = _mm256_setzero_si256();
      }
#endif
    }
    for (int r = 0; r < kRows; ++r) {
#if defined(TESSERA_LEGACY_VNNI)
      const __m256i w_q = Traits::load(w[r][b]);
#else
      // Unsigned weights (no bias) go straight into maddubs; biased ones take the sign trick.
      __m256i w_q;
      if constexpr (Traits::kBias != 0) {
        w_q = load_signed_weights(w[r][b]);
      } else {
        w_q = Traits::load(w[r][b]);
      }
#endif
      const float w_d = load_f16(w[r][b].d);
      for (int t = 0; t < kTokens; ++t) {
#if defined(TESSERA_LEGACY_VNNI)
        const __m256i dot = _mm256_dpbusd_epi32(a_bias[t], w_q, a_q[t]);
#else
        __m256i dot;
        if constexpr (Traits::kBias != 0) {
          dot = dot_i8x32(w_q, a_q[t]);
        } else {
          // q <= 31, so 2 * 31 * 127 fits maddubs' int16 without saturating.
          dot = _mm256_madd_epi16(_mm256_maddubs_epi16(w_q, a_q[t]), _mm256_set1_epi16(1));
        }
#endif
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(w_d * a_d[t]), acc[r][t]);
      }
      if constexpr (Traits::kHasOffset) {
        const float w_m = load_f16(w[r][b].m);
        for (int t = 0; t < kTokens; ++t) offset[r][t] += w_m * a_s[t];
      }
    }
  }
  for (int r = 0; r < kRows; ++r)
    for (int t = 0; t < kTokens; ++t) out[t * out_stride + r] = horizontal_sum(acc[r][t]) + offset[r][t];
}

template <typename WBlock, int kTokens>
void legacy_rows_for_tokens(const MatrixView& weight, const uint8_t* x, size_t x_row_bytes, int64_t row_begin,
                            int64_t row_end, float* out) {
  constexpr int kRowTile = 4;
  const int64_t num_blocks = weight.num_cols / kLegacyBlockSize;
  int64_t r = row_begin;
  for (; r + kRowTile <= row_end; r += kRowTile) {
    const uint8_t* rows[kRowTile] = {weight.row(r), weight.row(r + 1), weight.row(r + 2), weight.row(r + 3)};
    legacy_tile<WBlock, kRowTile, kTokens>(rows, x, x_row_bytes, num_blocks, out + r, weight.num_rows);
  }
  for (; r < row_end; ++r) {
    const uint8_t* rows[1] = {weight.row(r)};
    legacy_tile<WBlock, 1, kTokens>(rows, x, x_row_bytes, num_blocks, out + r, weight.num_rows);
  }
}

// MatmulRowsFn for WBlock weights; tokens go in tiles of up to kMaxTokens.
template <typename WBlock, int kMaxTokens>
void legacy_matmul_rows(const MatrixView& weight, const uint8_t* x_converted, size_t x_row_bytes, int64_t num_tokens,
                        int64_t row_begin, int64_t row_end, float* out) {
  int64_t t = 0;
  for (; t + kMaxTokens <= num_tokens; t += kMaxTokens) {
    legacy_rows_for_tokens<WBlock, kMaxTokens>(weight, x_converted + t * x_row_bytes, x_row_bytes, row_begin, row_end,
                                               out + t * weight.num_rows);
  }
  const uint8_t* x = x_converted + t * x_row_bytes;
  float* o = out + t * weight.num_rows;
  switch (num_tokens - t) {
    case 0: break;
    case 1: legacy_rows_for_tokens<WBlock, 1>(weight, x, x_row_bytes, row_begin, row_end, o); break;
    case 2: legacy_rows_for_tokens<WBlock, 2>(weight, x, x_row_bytes, row_begin, row_end, o); break;
    case 3: legacy_rows_for_tokens<WBlock, 3>(weight, x, x_row_bytes, row_begin, row_end, o); break;
    default: legacy_rows_for_tokens<WBlock, 1>(weight, x, x_row_bytes, row_begin, row_end, o); break;
  }
}

// The largest of 8 floats (none NaN), and the sum of 8 int32 lanes.
inline float horizontal_max(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

inline int horizontal_sum(__m256i v) {
  __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
  return _mm_cvtsi128_si32(s4);
}

// One block of 32 floats to int8, bit for bit as quantize_activation_row: d = amax / 127,
// q = round-half-even(x * (127 / amax)) with a separate (unfused) multiply. Returns d and,
// through *sum, the sum of the quants (for Q8_1).
inline float quantize_q8_block_simd(const float* x, int8_t* qs, int* sum) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  __m256 v[4];
  __m256 amax = _mm256_setzero_ps();
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm256_loadu_ps(x + 8 * i);
    amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_mask, v[i]));
  }
  const float absolute_max = horizontal_max(amax);
  const float d = absolute_max / 127.0f;
  const float inverse = absolute_max != 0.0f ? 127.0f / absolute_max : 0.0f;
  const __m256 mul = _mm256_set1_ps(inverse);
  __m256i q[4];
  for (int i = 0; i < 4; ++i) {
    const __m256 scaled = _mm256_round_ps(_mm256_mul_ps(v[i], mul), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    q[i] = _mm256_cvtps_epi32(scaled);
  }
  // packs interleave 128-bit lanes; the final permute restores element order.
  const __m256i q01 = _mm256_packs_epi32(q[0], q[1]);
  const __m256i q23 = _mm256_packs_epi32(q[2], q[3]);
  __m256i bytes = _mm256_packs_epi16(q01, q23);
  bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), bytes);
  if (sum != nullptr) {
    *sum = horizontal_sum(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
  }
  return d;
}

inline uint16_t store_f16(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// One Q8_K block (256 floats), bit for bit as quantize_activation_row: the first element of
// largest magnitude (NaNs skipped, as the reference's `>` skips them) sets
// d = max / -127, q = min(127, nearest_int(x * (-127 / max))) by ggml's float bit trick, and
// bsums are the sums of 16 quants.
inline void quantize_q8_K_block_simd(const float* x, BlockQ8_K* y) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  __m256 amax = _mm256_setzero_ps();
  // max_ps returns its second operand when either is NaN: a NaN |x| leaves amax as it was.
  for (int i = 0; i < kQK_K / 8; ++i) amax = _mm256_max_ps(_mm256_andnot_ps(sign_mask, _mm256_loadu_ps(x + 8 * i)), amax);
  const float absolute_max = horizontal_max(amax);
  if (absolute_max == 0) {
    std::memset(y, 0, sizeof(*y));
    return;
  }
  const __m256 target = _mm256_set1_ps(absolute_max);
  int first = 0;
  for (int i = 0; i < kQK_K / 8; ++i) {
    const __m256 magnitude = _mm256_andnot_ps(sign_mask, _mm256_loadu_ps(x + 8 * i));
    const int mask = _mm256_movemask_ps(_mm256_cmp_ps(magnitude, target, _CMP_EQ_OQ));
    if (mask != 0) {
      first = 8 * i + __builtin_ctz(static_cast<unsigned>(mask));
      break;
    }
  }
  const float inverse_scale = -127.f / x[first];
  const __m256 inverse = _mm256_set1_ps(inverse_scale);
  const __m256 magic = _mm256_set1_ps(12582912.f);  // 1.5 x 2^23, see nearest_int
  const __m256i mantissa = _mm256_set1_epi32(0x007FFFFF), offset = _mm256_set1_epi32(0x00400000);
  const __m256i top = _mm256_set1_epi32(127);
  // Byte 0 of each int32 (static_cast<int8_t> truncates), per 128-bit lane, then lanes joined.
  const __m256i low_bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  //
                                             0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i join = _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1);
  for (int g = 0; g < kQK_K / 16; ++g) {
    __m256i sum = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const int j = 16 * g + 8 * h;
      __m256 product = _mm256_mul_ps(inverse, _mm256_loadu_ps(x + j));
      // The reference rounds the product before adding: keep GCC from contracting into an FMA.
      asm("" : "+v"(product));
      const __m256 shifted = _mm256_add_ps(product, magic);
      const __m256i q = _mm256_min_epi32(
          _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(shifted), mantissa), offset), top);
      const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(q, low_bytes), join);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(y->qs + j), _mm256_castsi256_si128(bytes));
      // The reference sums the stored int8 values.
      sum = _mm256_add_epi32(sum, _mm256_cvtepi8_epi32(_mm256_castsi256_si128(bytes)));
    }
    y->bsums[g] = static_cast<int16_t>(horizontal_sum(sum));
  }
  y->d = 1 / inverse_scale;
}

// QuantizeActivationFn: Q8_0 / Q8_1 / Q8_K here, every other type via the reference.
void quantize_activation_simd(DType act_type, const float* src, void* dst, int64_t n) {
  if (act_type == DType::kQ8_K && n % kQK_K == 0) {
    auto* blocks = static_cast<BlockQ8_K*>(dst);
    for (int64_t b = 0; b < n / kQK_K; ++b) quantize_q8_K_block_simd(src + b * kQK_K, &blocks[b]);
    return;
  }
  if ((act_type != DType::kQ8_0 && act_type != DType::kQ8_1) || n % kLegacyBlockSize != 0) {
    quantize_activation_row(act_type, src, dst, n);
    return;
  }
  const int64_t num_blocks = n / kLegacyBlockSize;
  if (act_type == DType::kQ8_0) {
    auto* blocks = static_cast<BlockQ8_0*>(dst);
    for (int64_t b = 0; b < num_blocks; ++b) {
      blocks[b].d = store_f16(quantize_q8_block_simd(src + b * kLegacyBlockSize, blocks[b].qs, nullptr));
    }
  } else {
    auto* blocks = static_cast<BlockQ8_1*>(dst);
    for (int64_t b = 0; b < num_blocks; ++b) {
      int sum = 0;
      const float d = quantize_q8_block_simd(src + b * kLegacyBlockSize, blocks[b].qs, &sum);
      blocks[b].d = store_f16(d);
      blocks[b].s = store_f16(d * static_cast<float>(sum));
    }
  }
}

// SummarizeActivationFn: a block's quant sum as one vpsadbw of the quants made unsigned (each
// byte + 128, so the four 64-bit lane sums less 32 x 128). The scalar loop it replaces took as
// long as the quantization itself (3.3% of a batched SmolLM run).
void summarize_activation_simd(const uint8_t* row, int64_t num_blocks, RepackedActivationBlock* blocks) {
  const auto* q8 = reinterpret_cast<const BlockQ8_0*>(row);
  const __m256i to_unsigned = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t b = 0; b < num_blocks; ++b) {
    const __m256i quants = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8[b].qs));
    const __m256i lanes = _mm256_sad_epu8(_mm256_xor_si256(quants, to_unsigned), _mm256_setzero_si256());
    __m128i sum = _mm_add_epi64(_mm256_castsi256_si128(lanes), _mm256_extracti128_si256(lanes, 1));
    sum = _mm_add_epi64(sum, _mm_unpackhi_epi64(sum, sum));
    blocks[b] = {_cvtsh_ss(q8[b].d), _mm_cvtsi128_si32(sum) - 32 * 128};
  }
}

}  // namespace
}  // namespace tessera::kernels
