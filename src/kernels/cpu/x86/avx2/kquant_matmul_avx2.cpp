// k-quant (Q2_K..Q6_K) x Q8_K matmul kernels for AVX2. Per super-block: unpack the weight
// quants to unsigned bytes, maddubs them with the int8 activations (int16 pairs), madd with the
// group scales (int32), then one float multiply-add by d_w * d_a. Mins and biases are applied
// from the activation's precomputed group sums (bsums), never element by element.
// Integer ranges: |maddubs pair| <= 63 * 128 * 2 = 16128 (Q6_K worst case): no saturation.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/x86/kquant_rows_x86.h"
#include "tensor/quant_blocks.h"

namespace tessera::kernels {
namespace {

inline float f16(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hsum(__m128 s) {
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256i load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Broadcasts the int16 at index k of each 128-bit lane of `scales16` across that lane.
inline __m256i bcast_i16(__m256i scales16, int k) {
  return _mm256_shuffle_epi8(scales16, _mm256_set1_epi16(static_cast<int16_t>(0x0100 + 0x0202 * k)));
}

// From 16 signed int8 group scales (groups of 16 elements): the int16 vector whose low lane
// holds scale 2k and whose high lane scale 2k+1, to madd with the maddubs of 32 elements.
inline __m256i pair_scales(__m128i scales8, int k) {
  const __m128i shuf = _mm_set_epi64x(0x0101010101010101LL * (2 * k + 1), 0x0101010101010101LL * (2 * k));
  return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales8, shuf));
}

// int32 lanes of the 32-element dot of unsigned quants `q` with activations `a`, times `scales`.
inline __m256i dot32(__m256i q, const int8_t* a, __m256i scales) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(q, load(a)), scales);
}

// The Q4_K/Q5_K 6-bit scales (bytes 0..7) and mins (bytes 8..15) of one block.
inline __m128i unpack_k4_scales(const uint8_t* packed) {
  constexpr uint32_t kMask1 = 0x3f3f3f3f, kMask2 = 0x0f0f0f0f, kMask3 = 0x03030303;
  uint32_t u[4];
  std::memcpy(u, packed, kK_SCALE_SIZE);
  u[3] = ((u[2] >> 4) & kMask2) | (((u[1] >> 6) & kMask3) << 4);
  const uint32_t mins_low = u[1] & kMask1;
  u[1] = (u[2] & kMask2) | (((u[0] >> 6) & kMask3) << 4);
  u[2] = mins_low;
  u[0] &= kMask1;
  return _mm_set_epi32(static_cast<int>(u[3]), static_cast<int>(u[2]), static_cast<int>(u[1]),
                       static_cast<int>(u[0]));
}

// The 16 Q3_K scales, minus their bias of 32, as int8.
inline __m128i unpack_q3_scales(const uint8_t* packed) {
  constexpr uint32_t kMask1 = 0x03030303, kMask2 = 0x0f0f0f0f;
  uint32_t a[3], u[4];
  std::memcpy(a, packed, kK_SCALE_SIZE);
  u[3] = ((a[1] >> 4) & kMask2) | (((a[2] >> 6) & kMask1) << 4);
  u[2] = ((a[0] >> 4) & kMask2) | (((a[2] >> 4) & kMask1) << 4);
  u[1] = (a[1] & kMask2) | (((a[2] >> 2) & kMask1) << 4);
  u[0] = (a[0] & kMask2) | ((a[2] & kMask1) << 4);
  const __m128i s = _mm_set_epi32(static_cast<int>(u[3]), static_cast<int>(u[2]), static_cast<int>(u[1]),
                                  static_cast<int>(u[0]));
  return _mm_sub_epi8(s, _mm_set1_epi8(32));
}

// sum_g mins[g] * (bsums[2g] + bsums[2g+1]) for 8 int16 mins (Q4_K/Q5_K), as 4 int32 lanes.
inline __m128i mins_dot_k4(__m128i mins16, const int16_t* bsums) {
  const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bsums));
  const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bsums + 8));
  return _mm_madd_epi16(mins16, _mm_hadd_epi16(lo, hi));
}

// The Q4_K/Q5_K/Q6_K kernels compute the dots of one weight row with kTokens activation rows
// at once: the weight quants and scales are decoded once per block and reused for every token.

// Q4_K and Q5_K share everything but the 5th bit; kHigh selects Q5_K.
template <bool kHigh, int kTokens, typename Block>
void dot_k4_style(int64_t num_blocks, const Block* w, const BlockQ8_K* const* a, float* result) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i m1 = _mm256_set1_epi8(0x01);
  __m256 acc[kTokens];
  __m128 acc_mins[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = _mm256_setzero_ps(), acc_mins[t] = _mm_setzero_ps();
  for (int64_t b = 0; b < num_blocks; ++b) {
    const float wd = f16(w[b].d);
    const float wdmin = -f16(w[b].dmin);
    const __m256i scales_mins = _mm256_cvtepu8_epi16(unpack_k4_scales(w[b].scales));
    const __m128i mins16 = _mm256_extracti128_si256(scales_mins, 1);
    const __m256i scales = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(scales_mins));
    [[maybe_unused]] __m256i high_bits;
    if constexpr (kHigh) high_bits = load(w[b].qh);
    __m256i sum[kTokens];
    for (int t = 0; t < kTokens; ++t) {
      const __m128i mins = mins_dot_k4(mins16, a[t][b].bsums);
      acc_mins[t] = _mm_fmadd_ps(_mm_set1_ps(wdmin * a[t][b].d), _mm_cvtepi32_ps(mins), acc_mins[t]);
      sum[t] = _mm256_setzero_si256();
    }
    for (int j = 0; j < 4; ++j) {
      const __m256i bytes = load(w[b].qs + 32 * j);
      __m256i lo = _mm256_and_si256(bytes, m4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4);
      if constexpr (kHigh) {
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high_bits, 2 * j), m1), 4));
        hi = _mm256_or_si256(hi,
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high_bits, 2 * j + 1), m1), 4));
      }
      const __m256i sc_lo = bcast_i16(scales, 2 * j);
      const __m256i sc_hi = bcast_i16(scales, 2 * j + 1);
      for (int t = 0; t < kTokens; ++t) {
        const int8_t* q8 = a[t][b].qs + 64 * j;
        sum[t] = _mm256_add_epi32(sum[t], _mm256_add_epi32(dot32(lo, q8, sc_lo), dot32(hi, q8 + 32, sc_hi)));
      }
    }
    for (int t = 0; t < kTokens; ++t)
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(wd * a[t][b].d), _mm256_cvtepi32_ps(sum[t]), acc[t]);
  }
  for (int t = 0; t < kTokens; ++t) result[t] = hsum(acc[t]) + hsum(acc_mins[t]);
}

// Q6_K's bias of 32 against the activations, per token group: for token t, block b and
// 32-element group k, maddubs(32, a) (32 x each pair sum, int16), the vector the kernel
// subtracts. It depends on the activations only, so it is made once for all rows of a tile.
template <int kTokens>
struct Q6KBias {
  const int16_t* values = nullptr;  // [kTokens][num_blocks][8][16]
  void prepare(int64_t num_blocks, const BlockQ8_K* const* a) {
    thread_local std::vector<int16_t> storage;
    storage.resize(static_cast<size_t>(kTokens * num_blocks) * 8 * 16);
    const __m256i m32 = _mm256_set1_epi8(32);
    for (int t = 0; t < kTokens; ++t) {
      for (int64_t b = 0; b < num_blocks; ++b) {
        for (int k = 0; k < 8; ++k) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(&storage[((t * num_blocks + b) * 8 + k) * 16]),
                              _mm256_maddubs_epi16(m32, load(a[t][b].qs + 32 * k)));
        }
      }
    }
    values = storage.data();
  }
};

template <int kTokens>
void dot_q6_K(int64_t num_blocks, const BlockQ6_K* w, const BlockQ8_K* const* a, const Q6KBias<kTokens>& bias,
              float* result) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i m3 = _mm256_set1_epi8(0x03);
  __m256 acc[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < num_blocks; ++b) {
    if constexpr (kTokens == 1) {
      // Decode streams the rows once: ask for the weights 4 KiB ahead (the next rows of the tile
      // follow this one in memory), as the repacked decode kernels do.
      for (int line = 0; line < 4; ++line) {
        _mm_prefetch(reinterpret_cast<const char*>(w + b) + 4096 + 64 * line, _MM_HINT_T0);
      }
    }
    const float wd = f16(w[b].d);
    const __m128i scales8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].scales));
    __m256i sum[kTokens];
    for (int t = 0; t < kTokens; ++t) sum[t] = _mm256_setzero_si256();
    for (int c = 0; c < 2; ++c) {
      const __m256i ql0 = load(w[b].ql + 64 * c);
      const __m256i ql1 = load(w[b].ql + 64 * c + 32);
      const __m256i qh = load(w[b].qh + 32 * c);
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4)),
          _mm256_or_si256(_mm256_and_si256(ql1, m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4)),
      };
      for (int s = 0; s < 4; ++s) {
        const __m256i sc = pair_scales(scales8, 4 * c + s);
        for (int t = 0; t < kTokens; ++t) {
          // (q - 32) * a as q * a - 32 * a, per subgroup: the int32 lanes then hold the same
          // partial sums as llama.cpp's AVX2 kernel, so the float rounding matches it too.
          const __m256i act = load(a[t][b].qs + 128 * c + 32 * s);
          const __m256i biased = load(bias.values + ((t * num_blocks + b) * 8 + 4 * c + s) * 16);
          const __m256i prod = _mm256_sub_epi16(_mm256_maddubs_epi16(q[s], act), biased);
          sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(prod, sc));
        }
      }
    }
    for (int t = 0; t < kTokens; ++t)
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(wd * a[t][b].d), _mm256_cvtepi32_ps(sum[t]), acc[t]);
  }
  for (int t = 0; t < kTokens; ++t) result[t] = hsum(acc[t]);
}

template <int kTokens> struct Q4K {
  static void run(int64_t n, const BlockQ4_K* w, const BlockQ8_K* const* a, float* r) {
    dot_k4_style<false, kTokens>(n, w, a, r);
  }
};
template <int kTokens> struct Q5K {
  static void run(int64_t n, const BlockQ5_K* w, const BlockQ8_K* const* a, float* r) {
    dot_k4_style<true, kTokens>(n, w, a, r);
  }
};
template <int kTokens> struct Q6K {
  using Group = Q6KBias<kTokens>;
  static void run(int64_t n, const BlockQ6_K* w, const BlockQ8_K* const* a, const Group& bias, float* r) {
    dot_q6_K<kTokens>(n, w, a, bias, r);
  }
};

float dot_q3_K(int64_t num_blocks, const BlockQ3_K* w, const BlockQ8_K* a) {
  const __m256i m3 = _mm256_set1_epi8(0x03);
  const __m256i m1 = _mm256_set1_epi8(0x01);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < num_blocks; ++b) {
    const float d = a[b].d * f16(w[b].d);
    const __m128i scales8 = unpack_q3_scales(w[b].scales);
    // 4 where the high bit is clear: q = low - 4 * !high.
    const __m256i no_high = _mm256_xor_si256(load(w[b].hmask), _mm256_set1_epi8(-1));
    const int8_t* q8 = a[b].qs;
    __m256i sum = _mm256_setzero_si256();
    for (int c = 0; c < 2; ++c) {
      const __m256i bits = load(w[b].qs + 32 * c);
      for (int s = 0; s < 4; ++s) {
        const int k = 4 * c + s;
        const __m256i low = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * s), m3);
        const __m256i minus = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(no_high, k), m1), 2);
        const __m256i act = load(q8 + 32 * k);
        const __m256i prod = _mm256_sub_epi16(_mm256_maddubs_epi16(low, act), _mm256_maddubs_epi16(minus, act));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(prod, pair_scales(scales8, k)));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sum), acc);
  }
  return hsum(acc);
}

float dot_q2_K(int64_t num_blocks, const BlockQ2_K* w, const BlockQ8_K* a) {
  const __m256i m3 = _mm256_set1_epi8(0x03);
  const __m128i m4 = _mm_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  __m256 acc_mins = _mm256_setzero_ps();
  for (int64_t b = 0; b < num_blocks; ++b) {
    const float d = a[b].d * f16(w[b].d);
    const float dmin = -a[b].d * f16(w[b].dmin);
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].scales));
    const __m128i scales8 = _mm_and_si128(packed, m4);
    const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), m4));
    const __m256i mins = _mm256_madd_epi16(mins16, load(a[b].bsums));
    acc_mins = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(mins), acc_mins);
    const int8_t* q8 = a[b].qs;
    __m256i sum = _mm256_setzero_si256();
    for (int c = 0; c < 2; ++c) {
      const __m256i bits = load(w[b].qs + 32 * c);
      for (int s = 0; s < 4; ++s) {
        const int k = 4 * c + s;
        const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * s), m3);
        sum = _mm256_add_epi32(sum, dot32(q, q8 + 32 * k, pair_scales(scales8, k)));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sum), acc);
  }
  return hsum(acc) + hsum(acc_mins);
}

}  // namespace

void register_avx2_kquant_matmul(KernelTable& table) {
  table.matmul_rows[static_cast<int>(DType::kQ2_K)] =
      kquant_matmul_rows<BlockQ2_K, PerTokenDot<BlockQ2_K, dot_q2_K>::template Dot>;
  table.matmul_rows[static_cast<int>(DType::kQ3_K)] =
      kquant_matmul_rows<BlockQ3_K, PerTokenDot<BlockQ3_K, dot_q3_K>::template Dot>;
  table.matmul_rows[static_cast<int>(DType::kQ4_K)] = kquant_matmul_rows<BlockQ4_K, Q4K>;
  table.matmul_rows[static_cast<int>(DType::kQ5_K)] = kquant_matmul_rows<BlockQ5_K, Q5K>;
  table.matmul_rows[static_cast<int>(DType::kQ6_K)] = kquant_matmul_rows<BlockQ6_K, Q6K>;
}

}  // namespace tessera::kernels
