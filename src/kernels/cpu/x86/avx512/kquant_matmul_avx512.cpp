// k-quant x Q8_K matmul kernels for AVX-512 (BW + VNNI): Q4_K, Q5_K and Q6_K; Q2_K and Q3_K keep
// the AVX2 kernels. 64 elements per step: maddubs (u8 x s8 -> int16 pairs), then vpdpwssd
// multiplies by the int16 group scales and accumulates in int32. Q6_K's bias of 32 is applied
// once per block from the activation group sums (bsums), not per element.
// GCC 12's AVX-512 headers self-initialise their "undefined" vectors, which its own
// -Wuninitialized then reports at every use.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/x86/kquant_rows_x86.h"
#include "tensor/quant_blocks.h"

namespace tessera::kernels {
namespace {

inline float f16(uint16_t h) { return _cvtsh_ss(h); }

inline __m512i load(const void* p) { return _mm512_loadu_si512(p); }
inline __m512i bcast256(const void* p) {
  return _mm512_broadcast_i64x4(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
}

// Shifts the upper 256 bits of `v` right by `bits` within each 16-bit lane; the lower stay.
inline __m512i shift_high_half(__m512i v, unsigned bits) {
  return _mm512_mask_srli_epi16(v, 0xFFFF0000u, v, bits);
}

// The index vector that spreads int16 scale (base + i / per) over lane i of 32.
inline __m512i scale_index(int base, int per) {
  alignas(64) int16_t idx[32];
  for (int i = 0; i < 32; ++i) idx[i] = static_cast<int16_t>(base + i / per);
  return _mm512_load_si512(idx);
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

// Each kernel computes the dots of one weight row with kTokens activation rows at once: the
// weight quants and scales are decoded once per block and reused for every token.

// Q4_K and Q5_K; kHigh selects Q5_K's 5th bit.
template <bool kHigh, int kTokens, typename Block>
void dot_k4_style(int64_t num_blocks, const Block* w, const BlockQ8_K* const* a, float* result) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i m1 = _mm512_set1_epi8(0x01);
  const __m512i index[4] = {scale_index(0, 16), scale_index(2, 16), scale_index(4, 16), scale_index(6, 16)};
  __m512 acc[kTokens];
  __m128 acc_mins[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = _mm512_setzero_ps(), acc_mins[t] = _mm_setzero_ps();
  for (int64_t b = 0; b < num_blocks; ++b) {
    const float wd = f16(w[b].d);
    const float wdmin = -f16(w[b].dmin);
    const __m256i scales_mins = _mm256_cvtepu8_epi16(unpack_k4_scales(w[b].scales));
    const __m128i mins16 = _mm256_extracti128_si256(scales_mins, 1);
    const __m512i scales = _mm512_castsi256_si512(scales_mins);
    [[maybe_unused]] __m512i high_bits;
    if constexpr (kHigh) high_bits = shift_high_half(bcast256(w[b].qh), 1);
    __m512i sum[kTokens];
    for (int t = 0; t < kTokens; ++t) {
      const __m128i bsum_lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[t][b].bsums));
      const __m128i bsum_hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[t][b].bsums + 8));
      const __m128i mins = _mm_madd_epi16(mins16, _mm_hadd_epi16(bsum_lo, bsum_hi));
      acc_mins[t] = _mm_fmadd_ps(_mm_set1_ps(wdmin * a[t][b].d), _mm_cvtepi32_ps(mins), acc_mins[t]);
      sum[t] = _mm512_setzero_si512();
    }
    for (int j = 0; j < 4; ++j) {
      // Lower half: low nibbles (group 2j); upper half: high nibbles (group 2j + 1).
      __m512i q = _mm512_and_si512(shift_high_half(bcast256(w[b].qs + 32 * j), 4), m4);
      if constexpr (kHigh)
        q = _mm512_or_si512(q, _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(high_bits, 2 * j), m1), 4));
      const __m512i sc = _mm512_permutexvar_epi16(index[j], scales);
      for (int t = 0; t < kTokens; ++t)
        sum[t] = _mm512_dpwssd_epi32(sum[t], _mm512_maddubs_epi16(q, load(a[t][b].qs + 64 * j)), sc);
    }
    for (int t = 0; t < kTokens; ++t)
      acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(wd * a[t][b].d), _mm512_cvtepi32_ps(sum[t]), acc[t]);
  }
  for (int t = 0; t < kTokens; ++t) {
    const __m128 m = _mm_hadd_ps(acc_mins[t], acc_mins[t]);
    result[t] = _mm512_reduce_add_ps(acc[t]) + _mm_cvtss_f32(_mm_hadd_ps(m, m));
  }
}

template <int kTokens>
void dot_q4_K(int64_t n, const BlockQ4_K* w, const BlockQ8_K* const* a, float* result) {
  dot_k4_style<false, kTokens>(n, w, a, result);
}
template <int kTokens>
void dot_q5_K(int64_t n, const BlockQ5_K* w, const BlockQ8_K* const* a, float* result) {
  dot_k4_style<true, kTokens>(n, w, a, result);
}

template <int kTokens>
void dot_q6_K(int64_t num_blocks, const BlockQ6_K* w, const BlockQ8_K* const* a, float* result) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i m3 = _mm512_set1_epi8(0x03);
  const __m512i index[4] = {scale_index(0, 8), scale_index(4, 8), scale_index(8, 8), scale_index(12, 8)};
  __m512 acc[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < num_blocks; ++b) {
    const float wd = f16(w[b].d);
    const __m256i scales16 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].scales)));
    const __m512i scales = _mm512_castsi256_si512(scales16);
    __m512i sum[kTokens];
    for (int t = 0; t < kTokens; ++t) {
      // -32 * sum_g scale[g] * bsum[g]: the bias of 32 of every quant, applied once.
      const __m256i bias =
          _mm256_madd_epi16(scales16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t][b].bsums)));
      sum[t] = _mm512_zextsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(bias, 5)));
    }
    for (int c = 0; c < 2; ++c) {
      const __m512i ql = load(w[b].ql + 64 * c);  // elements 128c + [0, 64) low, [64, 128) high nibbles
      const __m512i qh = shift_high_half(bcast256(w[b].qh + 32 * c), 2);  // bits 0-1: [0,32) | [32,64)
      const __m512i q01 = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(_mm512_and_si512(qh, m3), 4));
      const __m512i q23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                          _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(qh, 4), m3), 4));
      const __m512i sc01 = _mm512_permutexvar_epi16(index[2 * c], scales);
      const __m512i sc23 = _mm512_permutexvar_epi16(index[2 * c + 1], scales);
      for (int t = 0; t < kTokens; ++t) {
        const int8_t* q8 = a[t][b].qs + 128 * c;
        sum[t] = _mm512_dpwssd_epi32(sum[t], _mm512_maddubs_epi16(q01, load(q8)), sc01);
        sum[t] = _mm512_dpwssd_epi32(sum[t], _mm512_maddubs_epi16(q23, load(q8 + 64)), sc23);
      }
    }
    for (int t = 0; t < kTokens; ++t)
      acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(wd * a[t][b].d), _mm512_cvtepi32_ps(sum[t]), acc[t]);
  }
  for (int t = 0; t < kTokens; ++t) result[t] = _mm512_reduce_add_ps(acc[t]);
}

template <int kTokens> struct Q4K { static void run(int64_t n, const BlockQ4_K* w, const BlockQ8_K* const* a, float* r) { dot_q4_K<kTokens>(n, w, a, r); } };
template <int kTokens> struct Q5K { static void run(int64_t n, const BlockQ5_K* w, const BlockQ8_K* const* a, float* r) { dot_q5_K<kTokens>(n, w, a, r); } };
template <int kTokens> struct Q6K { static void run(int64_t n, const BlockQ6_K* w, const BlockQ8_K* const* a, float* r) { dot_q6_K<kTokens>(n, w, a, r); } };

}  // namespace

void register_avx512_kquant_matmul(KernelTable& table) {
  if (!cpu_features().avx512vnni) return;  // keeps the AVX2 kernels
  table.matmul_rows[static_cast<int>(DType::kQ4_K)] = kquant_matmul_rows<BlockQ4_K, Q4K>;
  table.matmul_rows[static_cast<int>(DType::kQ5_K)] = kquant_matmul_rows<BlockQ5_K, Q5K>;
  table.matmul_rows[static_cast<int>(DType::kQ6_K)] = kquant_matmul_rows<BlockQ6_K, Q6K>;
}

}  // namespace tessera::kernels
