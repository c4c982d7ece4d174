// Matmul of repacked Q4_0 / Q8_0 weights (kernels/cpu/repack.h) x Q8_0 activations with AVX2
// (no VNNI). The 64-byte group of a 16-row tile is two 256-bit halves of 8 rows x 4 elements,
// so the 8 dot products of a half advance together with the activation group broadcast: no
// horizontal sums, 8 results per store, as on AVX-512.
// Products: maddubs (unsigned x signed bytes -> pairs summed to int16), then madd by ones (int32).
// - Q4_0: the nibbles (0..15) are the unsigned operand, so a block's eight maddubs results add up
//   in int16 before one madd: |16 x 15 x 127| = 30480 < 32767, exact for any Q8_0 activation
//   (|q| <= 127), with the bias 8 x sum(a) removed once per block for all rows.
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

template <bool kIsQ4>
void repacked_matmul_rows(const MatrixView& weight, const RepackedActivation& x, int64_t row_begin, int64_t row_end,
                          float* out) {
  const int64_t num_blocks = weight.num_cols / kLegacyBlockSize;
  const int64_t num_tokens = x.num_tokens;
  const uint8_t* x_converted = x.rows;
  const size_t x_row_bytes = x.row_bytes;
  const size_t tile_bytes = weight.row_stride_bytes * kRepackRows;
  for (int64_t r = row_begin; r < row_end; r += kRepackRows) {
    const uint8_t* tile = weight.data + static_cast<size_t>(r / kRepackRows) * tile_bytes;
    if (num_tokens <= kMaxTokensBothHalves) {
      with_count<kMaxTokensBothHalves>(num_tokens, [&](auto tokens) {
        half_tile_kernel<kIsQ4, 2, tokens()>(tile, 0, num_blocks, x_converted, x_row_bytes, x.blocks, out + r,
                                             weight.num_rows);
      });
      continue;
    }
    // NOTE: tokens inside halves: a half's weights (num_cols / 32 x 144 or 272 bytes) stay in
    // L1/L2 while every token group passes over them.
    for (int half = 0; half < 2; ++half) {
      for (int64_t t = 0; t < num_tokens; t += kMaxTokensOneHalf) {
        const int64_t n = std::min<int64_t>(kMaxTokensOneHalf, num_tokens - t);
        with_count<kMaxTokensOneHalf>(n, [&](auto tokens) {
          half_tile_kernel<kIsQ4, 1, tokens()>(tile, half, num_blocks, x_converted + t * x_row_bytes, x_row_bytes,
                                               x.blocks + t * num_blocks, out + t * weight.num_rows + r,
                                               weight.num_rows);
        });
      }
    }
  }
}

}  // namespace

void register_avx2_repacked_matmul(KernelTable& table) {
  table.matmul_rows_repacked[static_cast<int>(DType::kQ4_0)] = repacked_matmul_rows<true>;
  table.matmul_rows_repacked[static_cast<int>(DType::kQ8_0)] = repacked_matmul_rows<false>;
}

}  // namespace tessera::kernels
