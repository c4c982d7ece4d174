// Matmul of repacked Q4_0 / Q8_0 weights (kernels/cpu/repack.h) x Q8_0 activations with
// AVX-512 VNNI. One 512-bit register holds one 4-element group of 16 rows, so each vpdpbusd
// advances 16 row dot products at once, with the activation group broadcast: no horizontal sums
// anywhere, and the 16 results of a tile are one vector store.
// NOTE: a tile of 16 rows x up to kMaxTokens tokens: each weight block is loaded (and its nibbles
// unpacked) once and reused for every token of the tile, which is what makes prefill a GEMM
// rather than repeated matrix-vector products. Row tiles are the outer loop, so a tile's weights
// (num_cols / 32 x 288 or 544 bytes) stay in L1/L2 while every token tile passes over them.
// With 4 or more tokens, tiles go in pairs (32 rows x 4 tokens): each activation broadcast then
// feeds two vpdpbusd.
// GCC 12's AVX-512 headers self-initialise their "undefined" vectors, which its own
// -Wuninitialized then reports at every use.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/repack.h"
#include "kernels/cpu/x86/count_dispatch_x86.h"
#include "tensor/quant_blocks.h"

namespace tessera::kernels {
namespace {

constexpr int kMaxTokens = 8;         // tokens per pass over one tile
constexpr int kMaxTokensPerPair = 4;  // tokens per pass over two tiles
constexpr int kMaxPrefetchTokens = 2;  // Q4_0 tiles of at most this many tokens prefetch weights
constexpr size_t kPrefetchBytes = 4096;

// Quants 4g..4g+3 of an activation block as one int32 (the quants sit 2 bytes into a 34-byte
// block, so the load is unaligned: memcpy, which compiles to a plain load).
inline int32_t load_group(const uint8_t* quants, int g) {
  int32_t group;
  std::memcpy(&group, quants + 4 * g, sizeof(group));
  return group;
}

// Tokens [0, kTokens) of the activation rows x against kTiles consecutive tiles (16 rows each,
// tile_bytes apart). out: row stride out_stride. With two tiles each activation broadcast feeds
// two vpdpbusd.
template <bool kIsQ4, int kTokens, int kTiles>
void tile_kernel(const uint8_t* tile, size_t tile_bytes, int64_t num_blocks, const uint8_t* x, size_t x_row_bytes,
                 const RepackedActivationBlock* info, float* out, int64_t out_stride) {
  constexpr size_t kQuantBytes = kIsQ4 ? 256 : 512;
  constexpr int32_t kBias = kIsQ4 ? 8 : 128;
  const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
  __m512 acc[kTiles][kTokens];
  for (int i = 0; i < kTiles; ++i) {
    for (int t = 0; t < kTokens; ++t) acc[i][t] = _mm512_setzero_ps();
  }
  for (int64_t b = 0; b < num_blocks; ++b) {
    __m512i w[kTiles][8];
    __m512 w_scale[kTiles];
    for (int i = 0; i < kTiles; ++i) {
      const uint8_t* tile_i = tile + static_cast<size_t>(i) * tile_bytes;
      const uint8_t* block = tile_i + static_cast<size_t>(b) * kQuantBytes;
      if constexpr (kIsQ4 && kTokens <= kMaxPrefetchTokens) {
        // Decode streams the weights from DRAM once: ask for them kPrefetchBytes ahead (past
        // the last block this runs into the scales, then the next tile: prefetches never fault).
        // NOTE: Q4_0 only. Its nibble unpacking doubles the instructions per byte, so the
        // out-of-order window reaches half as far ahead as Q8_0's: TinyLlama Q4_0 tg64 went from
        // ~52 to 66-73 tokens/s with 4 KiB (2 and 8 KiB: 58-63), Q8_0 gained nothing.
        for (size_t line = 0; line < kQuantBytes; line += 64) _mm_prefetch(block + kPrefetchBytes + line, _MM_HINT_T0);
      }
      if constexpr (kIsQ4) {
        for (int g = 0; g < 4; ++g) {
          const __m512i packed = _mm512_loadu_si512(block + 64 * g);
          w[i][g] = _mm512_and_si512(packed, low_nibbles);
          w[i][g + 4] = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_nibbles);
        }
      } else {
        for (int g = 0; g < 8; ++g) w[i][g] = _mm512_loadu_si512(block + 64 * g);
      }
      const auto* scales = reinterpret_cast<const __m256i*>(tile_i + static_cast<size_t>(num_blocks) * kQuantBytes);
      w_scale[i] = _mm512_cvtph_ps(_mm256_loadu_si256(scales + b));
    }
    for (int t = 0; t < kTokens; ++t) {
      const RepackedActivationBlock& a = info[t * num_blocks + b];
      const uint8_t* a_quants = x + static_cast<size_t>(t) * x_row_bytes + b * sizeof(BlockQ8_0) + 2;
      // Two chains per tile, so one token's eight dependent vpdpbusd do not serialise on their latency.
      __m512i even[kTiles], odd[kTiles];
      for (int i = 0; i < kTiles; ++i) {
        even[i] = _mm512_set1_epi32(-kBias * a.quant_sum);  // the weights are biased unsigned
        odd[i] = _mm512_setzero_si512();
      }
      for (int g = 0; g < 8; g += 2) {
        const __m512i a_even = _mm512_set1_epi32(load_group(a_quants, g));
        const __m512i a_odd = _mm512_set1_epi32(load_group(a_quants, g + 1));
        for (int i = 0; i < kTiles; ++i) {
          even[i] = _mm512_dpbusd_epi32(even[i], w[i][g], a_even);
          odd[i] = _mm512_dpbusd_epi32(odd[i], w[i][g + 1], a_odd);
        }
      }
      const __m512 a_scale = _mm512_set1_ps(a.scale);
      for (int i = 0; i < kTiles; ++i) {
        const __m512 dot = _mm512_cvtepi32_ps(_mm512_add_epi32(even[i], odd[i]));
        acc[i][t] = _mm512_fmadd_ps(dot, _mm512_mul_ps(w_scale[i], a_scale), acc[i][t]);
      }
    }
  }
  for (int i = 0; i < kTiles; ++i) {
    for (int t = 0; t < kTokens; ++t) _mm512_storeu_ps(out + t * out_stride + i * kRepackRows, acc[i][t]);
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
  // NOTE: tile pairs halve the activation broadcasts per vpdpbusd; measured 1.1-1.3x faster
  // prefill (docs/performance.md). Below kMaxTokensPerPair tokens (decode) single tiles with
  // more tokens each stay faster.
  const bool pairs = num_tokens >= kMaxTokensPerPair;
  for (int64_t r = row_begin; r < row_end;) {
    const uint8_t* tile = weight.data + static_cast<size_t>(r / kRepackRows) * tile_bytes;
    if (pairs && r + 2 * kRepackRows <= row_end) {
      // Two tiles x up to kMaxTokensPerPair tokens.
      for (int64_t t = 0; t < num_tokens; t += kMaxTokensPerPair) {
        const int64_t n = std::min<int64_t>(kMaxTokensPerPair, num_tokens - t);
        with_count<kMaxTokensPerPair>(n, [&](auto tokens) {
          tile_kernel<kIsQ4, tokens(), 2>(tile, tile_bytes, num_blocks, x_converted + t * x_row_bytes, x_row_bytes,
                                          x.blocks + t * num_blocks, out + t * weight.num_rows + r, weight.num_rows);
        });
      }
      r += 2 * kRepackRows;
      continue;
    }
    for (int64_t t = 0; t < num_tokens; t += kMaxTokens) {
      const int64_t n = std::min<int64_t>(kMaxTokens, num_tokens - t);
      with_count<kMaxTokens>(n, [&](auto tokens) {
        tile_kernel<kIsQ4, tokens(), 1>(tile, tile_bytes, num_blocks, x_converted + t * x_row_bytes, x_row_bytes,
                                        x.blocks + t * num_blocks, out + t * weight.num_rows + r, weight.num_rows);
      });
    }
    r += kRepackRows;
  }
}

}  // namespace

void register_avx512_repacked_matmul(KernelTable& table) {
  // NOTE: the AVX2 repacked Q4_K / Q5_K kernels (inherited from the AVX2 table) are unmeasured
  // on an AVX-512 machine, so those stay row-major there, on the AVX-512 k-quant kernels.
  table.matmul_rows_repacked[static_cast<int>(DType::kQ4_K)] = nullptr;
  table.matmul_rows_repacked[static_cast<int>(DType::kQ5_K)] = nullptr;
  if (!cpu_features().avx512vnni) return;
  table.matmul_rows_repacked[static_cast<int>(DType::kQ4_0)] = repacked_matmul_rows<true>;
  table.matmul_rows_repacked[static_cast<int>(DType::kQ8_0)] = repacked_matmul_rows<false>;
}

}  // namespace tessera::kernels
