// Matmul of repacked Q4_0 / Q8_0 weights (kernels/cpu/repack.h) x Q8_0 activations, and of
// repacked Q4_K / Q5_K weights x Q8_K activations, with AVX2 (no VNNI). The 64-byte group of a 16-row
// tile is two 256-bit halves of 8 rows x 4 elements, so the 8 dot products of a half advance
// together with the activation group broadcast: no horizontal sums, 8 results per store, as on
// AVX-512.
// Products: maddubs (unsigned x signed bytes -> pairs summed to int16), then madd by ones (int32).
// - Q4_0: the nibbles (0..15) are the unsigned operand, so a block's eight maddubs results add up
//   in int16 before one madd: |16 x 15 x 127| = 30480 < 32767, exact for any Q8_0 activation
//   (|q| <= 127), with the bias 8 x sum(a) removed once per block for all rows.
// - Q4_K: as Q4_0 per 32-element sub-block, then one madd by the rows' 6-bit sub-block scales
//   (int32, exact); the mins times the activation's sub-block sums (bsums) are one madd per two
//   sub-blocks, and only the super-block's two sums are converted to float.
// - Q5_K: as Q4_K with the 5th bit ORed in; quants reach 31, so the int16 sums are widened
//   every 4 groups (|4 x 2 x 31 x 127| = 31496 < 32767).
// - Q8_0: the weights (stored q + 128) go back to signed and take the sign trick
//   (|w| x sign(a, w)); a maddubs result can reach 2 x 128 x 127, so each is widened at once.
// NOTE: a pass covers one or both 8-row halves of a tile x up to 4 tokens (both halves for
// decode, where the weights stream from DRAM once; one half for prefill, where 4 tokens' sums
// fill AVX2's 16 registers). Weight block loads are shared by the pass's tokens, which is what
// makes prefill a GEMM.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/repack.h"
#include "kernels/cpu/x86/count_dispatch_x86.h"
#include "kernels/cpu/x86/k4_scales_x86.h"
#include "tensor/quant_blocks.h"

namespace tessera::kernels {
namespace {

constexpr int kHalfRows = 8;
constexpr int kMaxTokensOneHalf = 4;   // tokens per pass over one half (prefill)
constexpr int kMaxTokensBothHalves = 2;  // tokens per pass over both halves (decode)
constexpr size_t kPrefetchBytes = 4096;  // decode: weights asked for this far ahead

// Quants 4g..4g+3 of an activation block, broadcast to every 32-bit lane.
inline __m256i broadcast_group(const uint8_t* quants, int g) {
  int32_t group;
  std::memcpy(&group, quants + 4 * g, sizeof(group));
  return _mm256_set1_epi32(group);
}

// Halves [first_half, first_half + kHalves) of one tile x tokens [0, kTokens).
template <bool kIsQ4, int kHalves, int kTokens>
void half_tile_kernel(const uint8_t* tile, int first_half, int64_t num_blocks, const uint8_t* x, size_t x_row_bytes,
                      const RepackedActivationBlock* info, float* out, int64_t out_stride) {
  constexpr size_t kQuantBytes = kIsQ4 ? 256 : 512;
  const __m256i ones_i16 = _mm256_set1_epi16(1);
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  const __m256i sign_bit = _mm256_set1_epi8(static_cast<char>(0x80));
  const auto* scales = reinterpret_cast<const uint16_t*>(tile + static_cast<size_t>(num_blocks) * kQuantBytes);
  __m256 acc[kHalves][kTokens];
  for (int h = 0; h < kHalves; ++h) {
    for (int t = 0; t < kTokens; ++t) acc[h][t] = _mm256_setzero_ps();
  }
  const uint8_t* a_quants[kTokens];
  for (int t = 0; t < kTokens; ++t) a_quants[t] = x + static_cast<size_t>(t) * x_row_bytes + 2;
  for (int64_t b = 0; b < num_blocks; ++b) {
    const uint8_t* block = tile + static_cast<size_t>(b) * kQuantBytes + 32 * first_half;
    if constexpr (kHalves == 2) {
      // Decode streams the weights once, and the unpacking (Q4_0 nibbles, Q8_0 sign trick)
      // keeps the out-of-order window short of the next lines. On AVX2 both types gain (Q8_0:
      // TinyLlama tg64 18.7 -> 20.4 tok/s; the AVX-512 Q8_0 kernel gained nothing,
      // docs/performance.md).
      for (size_t line = 0; line < kQuantBytes; line += 64) _mm_prefetch(block + kPrefetchBytes + line, _MM_HINT_T0);
    }
    // Block dot products, int16 pair sums (Q4_0) or int32 (Q8_0), lanes = rows.
    __m256i sums[kHalves][kTokens];
    for (int h = 0; h < kHalves; ++h) {
      for (int t = 0; t < kTokens; ++t) sums[h][t] = _mm256_setzero_si256();
    }
    if constexpr (kIsQ4) {
      for (int g = 0; g < 4; ++g) {
        for (int h = 0; h < kHalves; ++h) {
          const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 64 * g + 32 * h));
          const __m256i w_low = _mm256_and_si256(packed, low_nibbles);                          // elements 4g..4g+3
          const __m256i w_high = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles);  // 16+4g..16+4g+3
          for (int t = 0; t < kTokens; ++t) {
            const __m256i a_low = broadcast_group(a_quants[t] + b * sizeof(BlockQ8_0), g);
            const __m256i a_high = broadcast_group(a_quants[t] + b * sizeof(BlockQ8_0), g + 4);
            sums[h][t] = _mm256_add_epi16(sums[h][t], _mm256_add_epi16(_mm256_maddubs_epi16(w_low, a_low),
                                                                       _mm256_maddubs_epi16(w_high, a_high)));
          }
        }
      }
    } else {
      for (int g = 0; g < 8; ++g) {
        for (int h = 0; h < kHalves; ++h) {
          const __m256i w = _mm256_xor_si256(
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 64 * g + 32 * h)), sign_bit);  // signed q
          const __m256i w_abs = _mm256_abs_epi8(w);
          for (int t = 0; t < kTokens; ++t) {
            const __m256i a = _mm256_sign_epi8(broadcast_group(a_quants[t] + b * sizeof(BlockQ8_0), g), w);
            sums[h][t] = _mm256_add_epi32(sums[h][t], _mm256_madd_epi16(_mm256_maddubs_epi16(w_abs, a), ones_i16));
          }
        }
      }
    }
    for (int h = 0; h < kHalves; ++h) {
      const __m256 w_scale = _mm256_cvtph_ps(_mm_loadu_si128(
          reinterpret_cast<const __m128i*>(scales + b * kRepackRows + kHalfRows * (first_half + h))));
      for (int t = 0; t < kTokens; ++t) {
        const RepackedActivationBlock& a = info[t * num_blocks + b];
        __m256i dot = sums[h][t];
        if constexpr (kIsQ4) {
          dot = _mm256_add_epi32(_mm256_madd_epi16(dot, ones_i16), _mm256_set1_epi32(-8 * a.quant_sum));
        }
        acc[h][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(w_scale, _mm256_set1_ps(a.scale)), acc[h][t]);
      }
    }
  }
  for (int h = 0; h < kHalves; ++h) {
    for (int t = 0; t < kTokens; ++t) {
      _mm256_storeu_ps(out + t * out_stride + kHalfRows * (first_half + h), acc[h][t]);
    }
  }
}

// ---- Q4_K / Q5_K ----

// int16 lanes (sc_j[row], sc_j[row]) for the 8 rows: madd's operand for sub-block j's pair sums.
inline __m256i k4_sub_block_scales(const K4HalfScales& s, int j) {
  const __m256i dup = _mm256_setr_epi8(0, -1, 0, -1, 1, -1, 1, -1, 2, -1, 2, -1, 3, -1, 3, -1,  //
                                       4, -1, 4, -1, 5, -1, 5, -1, 6, -1, 6, -1, 7, -1, 7, -1);
  int64_t bytes;
  std::memcpy(&bytes, s.sc[j / 4] + 8 * (j % 4), sizeof(bytes));
  return _mm256_shuffle_epi8(_mm256_set1_epi64x(bytes), dup);
}

// int16 lanes (m_2p[row], m_2p+1[row]) for the 8 rows: madd's operand for the sub-block sums.
inline __m256i k4_min_pairs(const K4HalfScales& s, int p) {
  const __m256i pairs = _mm256_setr_epi8(0, -1, 8, -1, 1, -1, 9, -1, 2, -1, 10, -1, 3, -1, 11, -1,  //
                                         4, -1, 12, -1, 5, -1, 13, -1, 6, -1, 14, -1, 7, -1, 15, -1);
  const __m128i bytes = _mm_load_si128(reinterpret_cast<const __m128i*>(s.m[p / 2] + 16 * (p % 2)));
  return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(bytes), pairs);
}

// Halves [first_half, first_half + kHalves) of one tile x tokens [0, kTokens) (rows of Q8_K
// blocks at x, x_row_bytes apart). kHigh: Q5_K, else Q4_K.
template <bool kHigh, int kHalves, int kTokens>
void k4_half_tile_kernel(const uint8_t* tile, int first_half, int64_t num_super_blocks, const uint8_t* x,
                         size_t x_row_bytes, float* out, int64_t out_stride) {
  constexpr KQuantTileLayout layout = kHigh ? kQ5KTileLayout : kQ4KTileLayout;
  constexpr int kGroupsPerWidening = kHigh ? 4 : 8;  // int16 headroom, see the top of the file
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  [[maybe_unused]] const __m256i bit0 = _mm256_set1_epi8(0x01);
  [[maybe_unused]] const __m256i bit1 = _mm256_set1_epi8(0x02);
  __m256 acc[kHalves][kTokens];
  for (int h = 0; h < kHalves; ++h) {
    for (int t = 0; t < kTokens; ++t) acc[h][t] = _mm256_setzero_ps();
  }
  const BlockQ8_K* a[kTokens];
  for (int t = 0; t < kTokens; ++t) a[t] = reinterpret_cast<const BlockQ8_K*>(x + static_cast<size_t>(t) * x_row_bytes);
  for (int64_t s = 0; s < num_super_blocks; ++s) {
    const uint8_t* section = tile + static_cast<size_t>(s) * layout.section_bytes;
    if constexpr (kHalves == 2) {
      for (size_t line = 0; line < layout.section_bytes; line += 64) {
        _mm_prefetch(section + kPrefetchBytes + line, _MM_HINT_T0);
      }
    }
    K4HalfScales scales[kHalves];
    for (int h = 0; h < kHalves; ++h) {
      unpack_k4_half_scales(section + layout.scales_offset + kKQuantHalfScalesBytes * (first_half + h), &scales[h]);
    }
    __m256i dot[kHalves][kTokens];  // sum_j sc_j x (sub-block j's quants . activations), int32
    for (int h = 0; h < kHalves; ++h) {
      for (int t = 0; t < kTokens; ++t) dot[h][t] = _mm256_setzero_si256();
    }
    for (int c = 0; c < 4; ++c) {  // chunk c: sub-blocks 2c (low nibbles) and 2c + 1 (high)
      __m256i low_sums[kHalves][kTokens], high_sums[kHalves][kTokens];
      __m256i low_scales[kHalves], high_scales[kHalves];
      for (int h = 0; h < kHalves; ++h) {
        low_scales[h] = k4_sub_block_scales(scales[h], 2 * c);
        high_scales[h] = k4_sub_block_scales(scales[h], 2 * c + 1);
        for (int t = 0; t < kTokens; ++t) low_sums[h][t] = high_sums[h][t] = _mm256_setzero_si256();
      }
#pragma GCC unroll 8
      for (int g = 0; g < 8; ++g) {
        __m256i act_low[kTokens], act_high[kTokens];
        for (int t = 0; t < kTokens; ++t) {
          const auto* chunk = reinterpret_cast<const uint8_t*>(a[t][s].qs) + 64 * c;
          act_low[t] = broadcast_group(chunk, g);
          act_high[t] = broadcast_group(chunk + 32, g);
        }
        for (int h = 0; h < kHalves; ++h) {
          const __m256i packed = _mm256_loadu_si256(
              reinterpret_cast<const __m256i*>(section + 64 * (8 * c + g) + 32 * (first_half + h)));
          __m256i w_low = _mm256_and_si256(packed, low_nibbles);
          __m256i w_high = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles);
          if constexpr (kHigh) {
            // Bits 2c and 2c + 1 of the 5th-bit bytes, moved to bit 4 of each quant.
            const __m256i bits = _mm256_srli_epi16(
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(section + layout.high_bits_offset + 64 * g +
                                                                    32 * (first_half + h))),
                2 * c);
            w_low = _mm256_or_si256(w_low, _mm256_slli_epi16(_mm256_and_si256(bits, bit0), 4));
            w_high = _mm256_or_si256(w_high, _mm256_slli_epi16(_mm256_and_si256(bits, bit1), 3));
          }
          for (int t = 0; t < kTokens; ++t) {
            low_sums[h][t] = _mm256_add_epi16(low_sums[h][t], _mm256_maddubs_epi16(w_low, act_low[t]));
            high_sums[h][t] = _mm256_add_epi16(high_sums[h][t], _mm256_maddubs_epi16(w_high, act_high[t]));
          }
        }
        if ((g + 1) % kGroupsPerWidening == 0) {
          for (int h = 0; h < kHalves; ++h) {
            for (int t = 0; t < kTokens; ++t) {
              dot[h][t] = _mm256_add_epi32(dot[h][t],
                                           _mm256_add_epi32(_mm256_madd_epi16(low_sums[h][t], low_scales[h]),
                                                            _mm256_madd_epi16(high_sums[h][t], high_scales[h])));
              low_sums[h][t] = high_sums[h][t] = _mm256_setzero_si256();
            }
          }
        }
      }
    }
    for (int t = 0; t < kTokens; ++t) {
      // Sub-block sums of the activations (bsums are per 16), pairs (2p, 2p+1) in int32 p.
      const __m256i sub_sums = _mm256_castsi128_si256(
          _mm_hadd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a[t][s].bsums)),
                         _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[t][s].bsums + 8))));
      const __m256 a_scale = _mm256_set1_ps(a[t][s].d);
      for (int h = 0; h < kHalves; ++h) {
        __m256i mins = _mm256_setzero_si256();
        for (int p = 0; p < 4; ++p) {
          const __m256i pair = _mm256_permutevar8x32_epi32(sub_sums, _mm256_set1_epi32(p));
          mins = _mm256_add_epi32(mins, _mm256_madd_epi16(k4_min_pairs(scales[h], p), pair));
        }
        const auto* super_scales = reinterpret_cast<const __m128i*>(section + layout.super_scales_offset +
                                                                    32 * (first_half + h));
        const __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128(super_scales)), a_scale);
        const __m256 dmin = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128(super_scales + 1)), a_scale);
        acc[h][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[h][t]), d, acc[h][t]);
        acc[h][t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mins), dmin, acc[h][t]);
      }
    }
  }
  for (int h = 0; h < kHalves; ++h) {
    for (int t = 0; t < kTokens; ++t) {
      _mm256_storeu_ps(out + t * out_stride + kHalfRows * (first_half + h), acc[h][t]);
    }
  }
}

template <bool kHigh>
struct K4Pass {
  template <int kHalves, int kTokens>
  static void run(const uint8_t* tile, int first_half, int64_t num_cols, const RepackedActivation& x, int64_t t0,
                  float* out, int64_t out_stride) {
    k4_half_tile_kernel<kHigh, kHalves, kTokens>(tile, first_half, num_cols / kQK_K, x.rows + t0 * x.row_bytes,
                                                 x.row_bytes, out, out_stride);
  }
};
// Q4_0 / Q8_0: one pass of half_tile_kernel over tokens [t0, t0 + kTokens).
template <bool kIsQ4>
struct LegacyPass {
  template <int kHalves, int kTokens>
  static void run(const uint8_t* tile, int first_half, int64_t num_cols, const RepackedActivation& x, int64_t t0,
                  float* out, int64_t out_stride) {
    const int64_t num_blocks = num_cols / kLegacyBlockSize;
    half_tile_kernel<kIsQ4, kHalves, kTokens>(tile, first_half, num_blocks, x.rows + t0 * x.row_bytes, x.row_bytes,
                                              x.blocks + t0 * num_blocks, out, out_stride);
  }
};

template <typename Pass>
void repacked_matmul_rows(const MatrixView& weight, const RepackedActivation& x, int64_t row_begin, int64_t row_end,
                          float* out) {
  const int64_t num_tokens = x.num_tokens;
  const size_t tile_bytes = weight.row_stride_bytes * kRepackRows;
  for (int64_t r = row_begin; r < row_end; r += kRepackRows) {
    const uint8_t* tile = weight.data + static_cast<size_t>(r / kRepackRows) * tile_bytes;
    if (num_tokens <= kMaxTokensBothHalves) {
      with_count<kMaxTokensBothHalves>(num_tokens, [&](auto tokens) {
        Pass::template run<2, tokens()>(tile, 0, weight.num_cols, x, 0, out + r, weight.num_rows);
      });
      continue;
    }
    // NOTE: tokens inside halves: a half's weights (num_cols x 4.5 or 8.5 bytes) stay in L1/L2
    // while every token group passes over them.
    for (int half = 0; half < 2; ++half) {
      for (int64_t t = 0; t < num_tokens; t += kMaxTokensOneHalf) {
        const int64_t n = std::min<int64_t>(kMaxTokensOneHalf, num_tokens - t);
        with_count<kMaxTokensOneHalf>(n, [&](auto tokens) {
          Pass::template run<1, tokens()>(tile, half, weight.num_cols, x, t, out + t * weight.num_rows + r,
                                          weight.num_rows);
        });
      }
    }
  }
}

}  // namespace

void register_avx2_repacked_matmul(KernelTable& table) {
  table.matmul_rows_repacked[static_cast<int>(DType::kQ4_0)] = repacked_matmul_rows<LegacyPass<true>>;
  table.matmul_rows_repacked[static_cast<int>(DType::kQ8_0)] = repacked_matmul_rows<LegacyPass<false>>;
  table.matmul_rows_repacked[static_cast<int>(DType::kQ4_K)] = repacked_matmul_rows<K4Pass<false>>;
  table.matmul_rows_repacked[static_cast<int>(DType::kQ5_K)] = repacked_matmul_rows<K4Pass<true>>;
}

}  // namespace tessera::kernels
