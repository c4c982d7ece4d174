// Matmul of repacked Q4_0 / Q5_0 / Q8_0 weights (kernels/cpu/repack.h) x Q8_0 activations, and of
// repacked Q4_K / Q5_K weights x Q8_K activations (below), with
// AVX-512 VNNI. One 512-bit register holds one 4-element group of 16 rows, so each vpdpbusd
// advances 16 row dot products at once, with the activation group broadcast: no horizontal sums
// anywhere, and the 16 results of a tile are one vector store.
// NOTE: a tile of 16 rows x up to kMaxTokens tokens: each weight block is loaded (and its nibbles
// unpacked) once and reused for every token of the tile, which is what makes prefill a GEMM
// rather than repeated matrix-vector products. Row tiles are the outer loop, so a tile's weights
// (num_cols / 32 x 288, 352 or 544 bytes) stay in L1/L2 while every token tile passes over them.
// Tiles go in pairs (32 rows x up to 4 tokens): each activation broadcast then feeds two
// vpdpbusd, and decode streams two weight sequences at once. A lone last tile of a row range
// takes up to kMaxTokens tokens per pass.
// GCC 12's AVX-512 headers self-initialise their "undefined" vectors, which its own
// -Wuninitialized then reports at every use.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/repack.h"
#include "kernels/cpu/x86/count_dispatch_x86.h"
#include "kernels/cpu/x86/k4_scales_x86.h"
#include "kernels/cpu/x86/avx512/load_once_avx512.h"
#include "kernels/cpu/x86/prefetch_x86.h"
#include "tensor/quant_blocks.h"

namespace tessera::kernels {
namespace {

constexpr int kMaxTokens = 8;         // tokens per pass over one tile
constexpr int kMaxTokensPerPair = 4;  // tokens per pass over two tiles
constexpr int kMaxPrefetchTokens = 2;  // Q4_0 tiles of at most this many tokens prefetch weights

// Quants 4g..4g+3 of an activation block as one int32 (the quants sit 2 bytes into a 34-byte
// block, so the load is unaligned: memcpy, which compiles to a plain load).
inline int32_t load_group(const uint8_t* quants, int g) {
  int32_t group;
  std::memcpy(&group, quants + 4 * g, sizeof(group));
  return group;
}

// Dword i of the table: bit k of i moved to bit 4 of byte k (k < 4). Indexed (vpermd, low 4 bits of
// each lane) by a row's Q5_0 5th-bit byte, it gives the 0x10 of the row's 4 quants of one group.
inline __m512i q5_high_bit_table() {
  alignas(64) uint32_t table[16];
  for (uint32_t i = 0; i < 16; ++i) {
    table[i] = 0;
    for (uint32_t k = 0; k < 4; ++k) table[i] |= ((i >> k) & 1u) << (8 * k + 4);
  }
  return _mm512_load_si512(table);
}

// Tokens [0, kTokens) of the activation rows x against kTiles consecutive tiles (16 rows each,
// tile_bytes apart). out: row stride out_stride. With two tiles each activation broadcast feeds
// two vpdpbusd. kIsQ4: Q4_0, or with kHigh Q5_0 (the 5th bits ORed in); else Q8_0.
template <bool kIsQ4, bool kHigh, int kTokens, int kTiles>
void tile_kernel(const uint8_t* tile, size_t tile_bytes, int64_t num_blocks, const uint8_t* x, size_t x_row_bytes,
                 const RepackedActivationBlock* info, float* out, int64_t out_stride) {
  constexpr size_t kQuantBytes = kIsQ4 ? (kHigh ? 320 : 256) : 512;
  constexpr int32_t kBias = kIsQ4 ? (kHigh ? 16 : 8) : 128;
  const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
  [[maybe_unused]] const __m512i high_bit_table = q5_high_bit_table();
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
        // Decode streams the weights from DRAM once: ask for them kWeightPrefetchBytes ahead
        // (past the last block this runs into the scales, then the next tile).
        // NOTE: Q4_0 and Q5_0 only. Q4_0's nibble unpacking doubles the instructions per byte, so the
        // out-of-order window reaches half as far ahead as Q8_0's: TinyLlama Q4_0 tg64 went from
        // ~52 to 66-73 tokens/s with 4 KiB (2 and 8 KiB: 58-63), Q8_0 gained nothing.
        prefetch_weights_ahead(block, kQuantBytes);
      }
      if constexpr (kIsQ4) {
        for (int g = 0; g < 4; ++g) {
          const __m512i packed = _mm512_loadu_si512(block + 64 * g);
          w[i][g] = _mm512_and_si512(packed, low_nibbles);
          w[i][g + 4] = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_nibbles);
          if constexpr (kHigh) {
            // Row r's 5th-bit byte in lane r: bits 0..3 for the low nibbles, 4..7 the high.
            const __m512i bits = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 256 + 16 * g)));
            w[i][g] = _mm512_or_si512(w[i][g], _mm512_permutexvar_epi32(bits, high_bit_table));
            w[i][g + 4] = _mm512_or_si512(w[i][g + 4], _mm512_permutexvar_epi32(_mm512_srli_epi32(bits, 4), high_bit_table));
          }
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

template <bool kIsQ4, bool kHigh>
void repacked_matmul_rows(const MatrixView& weight, const RepackedActivation& x, int64_t row_begin, int64_t row_end,
                          float* out) {
  const int64_t num_blocks = weight.num_cols / kLegacyBlockSize;
  const int64_t num_tokens = x.num_tokens;
  const uint8_t* x_converted = x.rows;
  const size_t x_row_bytes = x.row_bytes;
  const size_t tile_bytes = weight.row_stride_bytes * kRepackRows;
  // NOTE: tile pairs halve the activation broadcasts per vpdpbusd; measured 1.1-1.3x faster
  // prefill, and 1.1-1.3x faster for 1-3 tokens too (one-thread GEMV from DRAM: Q4_0 1 token
  // 47.5 -> 61.8 GMAC/s, Q8_0 36.0 -> 40.5; docs/performance.md).
  for (int64_t r = row_begin; r < row_end;) {
    const uint8_t* tile = weight.data + static_cast<size_t>(r / kRepackRows) * tile_bytes;
    if (r + 2 * kRepackRows <= row_end) {
      // Two tiles x up to kMaxTokensPerPair tokens.
      for (int64_t t = 0; t < num_tokens; t += kMaxTokensPerPair) {
        const int64_t n = std::min<int64_t>(kMaxTokensPerPair, num_tokens - t);
        with_count<kMaxTokensPerPair>(n, [&](auto tokens) {
          tile_kernel<kIsQ4, kHigh, tokens(), 2>(tile, tile_bytes, num_blocks, x_converted + t * x_row_bytes, x_row_bytes,
                                          x.blocks + t * num_blocks, out + t * weight.num_rows + r, weight.num_rows);
        });
      }
      r += 2 * kRepackRows;
      continue;
    }
    for (int64_t t = 0; t < num_tokens; t += kMaxTokens) {
      const int64_t n = std::min<int64_t>(kMaxTokens, num_tokens - t);
      with_count<kMaxTokens>(n, [&](auto tokens) {
        tile_kernel<kIsQ4, kHigh, tokens(), 1>(tile, tile_bytes, num_blocks, x_converted + t * x_row_bytes, x_row_bytes,
                                        x.blocks + t * num_blocks, out + t * weight.num_rows + r, weight.num_rows);
      });
    }
    r += kRepackRows;
  }
}

// ---- Q4_K / Q5_K x Q8_K ----
// A 64-byte group of a repacked k-quant tile (repack.h) is 16 rows x 4 bytes: one register, so
// vpdpbusd advances all 16 rows' dot products by 4 elements (low nibbles: sub-block 2c, high
// nibbles: 2c + 1 of chunk c), with the activation group broadcast. A sub-block's 8 vpdpbusd sum
// exactly in int32; one vpmulld by the rows' 6-bit scales and an add give the super-block's
// scaled sum, and the mins times the activation's sub-block sums are 4 vpdpwssd. Only two int32
// sums per super-block are converted to float, in the same order as the AVX2 kernel, whose
// results these match bit for bit.

constexpr int kMaxK4Tokens = 4;  // tokens per pass over one tile

// One super-block's scales of one 16-row tile, laid out for the kernel's loads. Unpacked once per
// tile and shared by every token pass over it.
struct K4TileScales {
  alignas(64) int16_t min_pairs[4][32];  // lanes (m_2p[row], m_2p+1[row]), rows 0..15: vpdpwssd operand
  alignas(64) float d[16];
  alignas(64) float dmin[16];
  alignas(16) uint8_t sc[8][16];  // sc[j][row]: sub-block j's scale
};

void unpack_k4_tile_scales(const uint8_t* section, const KQuantTileLayout& layout, K4TileScales* out) {
  K4HalfScales halves[2];  // [j][row] per half, sub-blocks 0..3 then 4..7
  for (int h = 0; h < 2; ++h) {
    unpack_k4_half_scales(section + layout.scales_offset + kKQuantHalfScalesBytes * h, &halves[h]);
  }
  alignas(16) uint8_t mins[8][16];
  // Rows 0..7 from half 0 and 8..15 from half 1: unpacklo_epi64 gives sub-blocks 4q and 4q + 2,
  // unpackhi 4q + 1 and 4q + 3, one per 128-bit lane.
  auto merge = [](const uint8_t* half0, const uint8_t* half1, uint8_t (*dst)[16]) {
    const __m256i h0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(half0));
    const __m256i h1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(half1));
    const __m256i even = _mm256_unpacklo_epi64(h0, h1), odd = _mm256_unpackhi_epi64(h0, h1);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst[0]), _mm256_permute2x128_si256(even, odd, 0x20));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst[2]), _mm256_permute2x128_si256(even, odd, 0x31));
  };
  for (int q = 0; q < 2; ++q) {
    merge(halves[0].sc[q], halves[1].sc[q], out->sc + 4 * q);
    merge(halves[0].m[q], halves[1].m[q], mins + 4 * q);
  }
  for (int p = 0; p < 4; ++p) {
    const __m128i m0 = _mm_load_si128(reinterpret_cast<const __m128i*>(mins[2 * p]));
    const __m128i m1 = _mm_load_si128(reinterpret_cast<const __m128i*>(mins[2 * p + 1]));
    const __m256i pairs = _mm256_set_m128i(_mm_unpackhi_epi8(m0, m1), _mm_unpacklo_epi8(m0, m1));
    _mm512_store_si512(out->min_pairs[p], _mm512_cvtepu8_epi16(pairs));
  }
  // Per half: 8 f16 d, then 8 f16 dmin.
  const auto* super_scales = reinterpret_cast<const __m128i*>(section + layout.super_scales_offset);
  _mm512_store_ps(out->d, _mm512_cvtph_ps(_mm256_set_m128i(_mm_loadu_si128(super_scales + 2),
                                                           _mm_loadu_si128(super_scales))));
  _mm512_store_ps(out->dmin, _mm512_cvtph_ps(_mm256_set_m128i(_mm_loadu_si128(super_scales + 3),
                                                              _mm_loadu_si128(super_scales + 1))));
}

// One tile x tokens [0, kTokens) (rows of Q8_K blocks at x, x_row_bytes apart); scales: the
// tile's unpacked super-block scales. kHigh: Q5_K, else Q4_K.
template <bool kHigh, int kTokens>
void k4_tile_kernel(const uint8_t* tile, int64_t num_super_blocks, const K4TileScales* scales, const uint8_t* x,
                    size_t x_row_bytes, float* out, int64_t out_stride) {
  constexpr KQuantTileLayout layout = kHigh ? kQ5KTileLayout : kQ4KTileLayout;
  const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
  [[maybe_unused]] const __m512i bit0 = _mm512_set1_epi8(0x01);
  [[maybe_unused]] const __m512i bit1 = _mm512_set1_epi8(0x02);
  __m512 acc[kTokens];
  const BlockQ8_K* a[kTokens];
  for (int t = 0; t < kTokens; ++t) {
    acc[t] = _mm512_setzero_ps();
    a[t] = reinterpret_cast<const BlockQ8_K*>(x + static_cast<size_t>(t) * x_row_bytes);
  }
  for (int64_t s = 0; s < num_super_blocks; ++s) {
    const uint8_t* section = tile + static_cast<size_t>(s) * layout.section_bytes;
    // Decode streams the weights once (as Q4_0 above; the AVX2 kernel measured the same).
    if constexpr (kTokens <= kMaxPrefetchTokens) prefetch_weights_ahead(section, layout.section_bytes);
    const K4TileScales& sc = scales[s];
    __m512i dot[kTokens];  // sum_j sc_j x (sub-block j's quants . activations), int32
    for (int t = 0; t < kTokens; ++t) dot[t] = _mm512_setzero_si512();
    for (int c = 0; c < 4; ++c) {  // chunk c: sub-blocks 2c (low nibbles) and 2c + 1 (high)
      __m512i low_sums[kTokens], high_sums[kTokens];
      for (int t = 0; t < kTokens; ++t) low_sums[t] = high_sums[t] = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int g = 0; g < 8; ++g) {
        // Decode: one load per group (load_once_avx512.h); prefill keeps GCC's folded loads (its
        // 4 tokens' sums need the registers).
        const __m512i packed = kTokens <= kMaxPrefetchTokens ? load_once(section + 64 * (8 * c + g))
                                                             : _mm512_loadu_si512(section + 64 * (8 * c + g));
        __m512i w_low = _mm512_and_si512(packed, low_nibbles);
        __m512i w_high = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_nibbles);
        if constexpr (kHigh) {
          // Bits 2c and 2c + 1 of the 5th-bit bytes, moved to bit 4 of each quant.
          const __m512i bits = _mm512_srli_epi16(_mm512_loadu_si512(section + layout.high_bits_offset + 64 * g), 2 * c);
          w_low = _mm512_or_si512(w_low, _mm512_slli_epi16(_mm512_and_si512(bits, bit0), 4));
          w_high = _mm512_or_si512(w_high, _mm512_slli_epi16(_mm512_and_si512(bits, bit1), 3));
        }
        for (int t = 0; t < kTokens; ++t) {
          const auto* chunk = reinterpret_cast<const uint8_t*>(a[t][s].qs) + 64 * c;
          low_sums[t] = _mm512_dpbusd_epi32(low_sums[t], w_low, _mm512_set1_epi32(load_group(chunk, g)));
          high_sums[t] = _mm512_dpbusd_epi32(high_sums[t], w_high, _mm512_set1_epi32(load_group(chunk + 32, g)));
        }
      }
      const __m512i low_scales = _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(sc.sc[2 * c])));
      const __m512i high_scales =
          _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(sc.sc[2 * c + 1])));
      for (int t = 0; t < kTokens; ++t) {
        dot[t] = _mm512_add_epi32(dot[t], _mm512_add_epi32(_mm512_mullo_epi32(low_sums[t], low_scales),
                                                           _mm512_mullo_epi32(high_sums[t], high_scales)));
      }
    }
    const __m512 d = _mm512_load_ps(sc.d), dmin = _mm512_load_ps(sc.dmin);
    for (int t = 0; t < kTokens; ++t) {
      // Sub-block sums of the activations (bsums are per 16), pairs (2p, 2p+1) in int32 p.
      alignas(16) int32_t sub_sums[4];
      _mm_store_si128(reinterpret_cast<__m128i*>(sub_sums),
                      _mm_hadd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a[t][s].bsums)),
                                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[t][s].bsums + 8))));
      __m512i mins = _mm512_setzero_si512();
      for (int p = 0; p < 4; ++p) {
        mins = _mm512_dpwssd_epi32(mins, _mm512_load_si512(sc.min_pairs[p]), _mm512_set1_epi32(sub_sums[p]));
      }
      const __m512 a_scale = _mm512_set1_ps(a[t][s].d);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[t]), _mm512_mul_ps(d, a_scale), acc[t]);
      acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mins), _mm512_mul_ps(dmin, a_scale), acc[t]);
    }
  }
  for (int t = 0; t < kTokens; ++t) _mm512_storeu_ps(out + t * out_stride, acc[t]);
}

template <bool kHigh>
void k4_repacked_matmul_rows(const MatrixView& weight, const RepackedActivation& x, int64_t row_begin,
                             int64_t row_end, float* out) {
  constexpr KQuantTileLayout layout = kHigh ? kQ5KTileLayout : kQ4KTileLayout;
  const int64_t num_super_blocks = weight.num_cols / kQK_K;
  const size_t tile_bytes = weight.row_stride_bytes * kRepackRows;
  thread_local std::vector<K4TileScales> scales;  // grows only
  if (scales.size() < static_cast<size_t>(num_super_blocks)) scales.resize(static_cast<size_t>(num_super_blocks));
  for (int64_t r = row_begin; r < row_end; r += kRepackRows) {
    const uint8_t* tile = weight.data + static_cast<size_t>(r / kRepackRows) * tile_bytes;
    for (int64_t s = 0; s < num_super_blocks; ++s) {
      unpack_k4_tile_scales(tile + static_cast<size_t>(s) * layout.section_bytes, layout, &scales[s]);
    }
    // NOTE: tokens inside tiles: a tile's weights (num_cols x 9 or 11 bytes) stay in L1/L2 while
    // every token group passes over them.
    for (int64_t t = 0; t < x.num_tokens; t += kMaxK4Tokens) {
      const int64_t n = std::min<int64_t>(kMaxK4Tokens, x.num_tokens - t);
      with_count<kMaxK4Tokens>(n, [&](auto tokens) {
        k4_tile_kernel<kHigh, tokens()>(tile, num_super_blocks, scales.data(), x.rows + t * x.row_bytes, x.row_bytes,
                                        out + t * weight.num_rows + r, weight.num_rows);
      });
    }
  }
}

}  // namespace

void register_avx512_repacked_matmul(KernelTable& table) {
  // NOTE: without VNNI the AVX2 repacked k-quant kernels (inherited from the AVX2 table) are
  // unmeasured on AVX-512, so those CPUs keep Q4_K / Q5_K row-major, on the AVX-512 k-quant kernels.
  table.matmul_rows_repacked[static_cast<int>(DType::kQ4_K)] = nullptr;
  table.matmul_rows_repacked[static_cast<int>(DType::kQ5_K)] = nullptr;
  if (!cpu_features().avx512vnni) return;
  table.matmul_rows_repacked[static_cast<int>(DType::kQ4_0)] = repacked_matmul_rows<true, false>;
  table.matmul_rows_repacked[static_cast<int>(DType::kQ5_0)] = repacked_matmul_rows<true, true>;
  table.matmul_rows_repacked[static_cast<int>(DType::kQ8_0)] = repacked_matmul_rows<false, false>;
  table.matmul_rows_repacked[static_cast<int>(DType::kQ4_K)] = k4_repacked_matmul_rows<false>;
  table.matmul_rows_repacked[static_cast<int>(DType::kQ5_K)] = k4_repacked_matmul_rows<true>;
}

}  // namespace tessera::kernels
