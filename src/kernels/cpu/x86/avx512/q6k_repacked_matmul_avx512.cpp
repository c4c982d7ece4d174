// Matmul of repacked Q6_K weights (kernels/cpu/repack.h) x Q8_K activations with AVX-512 VNNI.
// A 64-byte group of the tile is 16 rows x 4 quants, so one vpdpbusd advances all 16 rows' dot
// products by 4 elements with the activation group broadcast: no horizontal sums, and the 16
// results of a tile are one store (the row-major kernel, kquant_matmul_avx512.cpp, reduces a
// 512-bit accumulator per row and spreads the 16-element scales with a permute per 64 elements).
// Per half of a super-block and group g, three loads (two ql groups, one qh group) make the four
// 6-bit quant vectors of elements 4g.., 32 + 4g.., 64 + 4g.., 96 + 4g..: a mask (and a shift)
// for the nibble, a shift for the two top bits, one vpternlogd to merge them (q = 0..63,
// unsigned, as vpdpbusd wants). Each 16-element sub-block's int32 sum starts at -32 x the
// activation's sum over it (Q8_K's bsums: the bias of 32, exact) and is multiplied by the rows'
// int8 scales once (vpmulld); one float conversion per super-block.
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
#include "kernels/cpu/x86/avx512/load_once_avx512.h"
#include "kernels/cpu/x86/count_dispatch_x86.h"
#include "kernels/cpu/x86/prefetch_x86.h"
#include "tensor/quant_blocks.h"

namespace tessera::kernels {
namespace {

constexpr int kMaxTokens = 3;           // tokens per pass over one tile (4 spill sums to the stack)
constexpr int kMaxPrefetchTokens = 2;   // passes of at most this many tokens (decode) prefetch weights

// Activation quants [4 * index, 4 * index + 4) of a Q8_K block, broadcast to every 32-bit lane.
inline __m512i broadcast_group(const int8_t* quants, int index) {
  int32_t group;
  std::memcpy(&group, quants + 4 * index, sizeof(group));
  return _mm512_set1_epi32(group);
}

// vpternlogd immediate for (a | (b & c)).
constexpr int kOrAnd = 0xF8;

// One tile x tokens [0, kTokens) (rows of Q8_K blocks at x, x_row_bytes apart).
template <int kTokens>
void q6k_tile_kernel(const uint8_t* tile, int64_t num_super_blocks, const uint8_t* x, size_t x_row_bytes, float* out,
                     int64_t out_stride) {
  constexpr Q6KTileLayout layout = kQ6KTileLayout;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i top2 = _mm512_set1_epi8(0x30);
  __m512 acc[kTokens] = {};
  for (int64_t s = 0; s < num_super_blocks; ++s) {
    const uint8_t* section = tile + static_cast<size_t>(s) * layout.section_bytes;
    if constexpr (kTokens <= kMaxPrefetchTokens) prefetch_weights_ahead(section, layout.section_bytes);
    const BlockQ8_K* a[kTokens];  // super-block s of each token's activations
    for (int t = 0; t < kTokens; ++t) a[t] = reinterpret_cast<const BlockQ8_K*>(x + t * x_row_bytes) + s;
    const uint8_t* scales = section + layout.scales_offset;
    __m512i dot[kTokens];  // sum_j scale_j x sub-block j's (q - 32) . a, int32
    for (int t = 0; t < kTokens; ++t) dot[t] = _mm512_setzero_si512();
    for (int h = 0; h < 2; ++h) {
      for (int q = 0; q < 2; ++q) {  // groups 4q..4q+3: sub-blocks 8h + 2m + q, m = 0..3
        __m512i sums[kTokens][4];
        for (int t = 0; t < kTokens; ++t) {
          for (int m = 0; m < 4; ++m) sums[t][m] = _mm512_set1_epi32(-32 * a[t]->bsums[8 * h + 2 * m + q]);
        }
        for (int g = 4 * q; g < 4 * q + 4; ++g) {
          const __m512i ql0 = load_once(section + 64 * (16 * h + g));      // chunk 2h
          const __m512i ql1 = load_once(section + 64 * (16 * h + 8 + g));  // chunk 2h + 1
          const __m512i qh = load_once(section + layout.high_bits_offset + 64 * (8 * h + g));
          __m512i w[4];
          w[0] = _mm512_ternarylogic_epi32(_mm512_and_si512(ql0, low4), _mm512_slli_epi16(qh, 4), top2, kOrAnd);
          w[1] = _mm512_ternarylogic_epi32(_mm512_and_si512(ql1, low4), _mm512_slli_epi16(qh, 2), top2, kOrAnd);
          w[2] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(ql0, 4), low4), qh, top2, kOrAnd);
          w[3] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(ql1, 4), low4), _mm512_srli_epi16(qh, 2),
                                           top2, kOrAnd);
          for (int t = 0; t < kTokens; ++t) {
            const int8_t* quants = a[t]->qs + 128 * h;
            for (int m = 0; m < 4; ++m) sums[t][m] = _mm512_dpbusd_epi32(sums[t][m], w[m], broadcast_group(quants, 8 * m + g));
          }
        }
        for (int m = 0; m < 4; ++m) {
          const __m512i scale = _mm512_cvtepi8_epi32(
              _mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + 16 * (8 * h + 2 * m + q))));
          for (int t = 0; t < kTokens; ++t) dot[t] = _mm512_add_epi32(dot[t], _mm512_mullo_epi32(sums[t][m], scale));
        }
      }
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(section + layout.super_scales_offset)));
    for (int t = 0; t < kTokens; ++t) {
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[t]), _mm512_mul_ps(d, _mm512_set1_ps(a[t]->d)), acc[t]);
    }
  }
  for (int t = 0; t < kTokens; ++t) _mm512_storeu_ps(out + t * out_stride, acc[t]);
}

void q6k_repacked_matmul_rows(const MatrixView& weight, const RepackedActivation& x, int64_t row_begin, int64_t row_end,
                              float* out) {
  const int64_t num_super_blocks = weight.num_cols / kQK_K;
  const size_t tile_bytes = weight.row_stride_bytes * kRepackRows;
  for (int64_t r = row_begin; r < row_end; r += kRepackRows) {
    const uint8_t* tile = weight.data + static_cast<size_t>(r / kRepackRows) * tile_bytes;
    // NOTE: tokens inside tiles: a tile's weights (num_cols x 13 bytes) stay in L1/L2 while every
    // token group passes over them.
    for (int64_t t = 0; t < x.num_tokens; t += kMaxTokens) {
      const int64_t n = std::min<int64_t>(kMaxTokens, x.num_tokens - t);
      with_count<kMaxTokens>(n, [&](auto tokens) {
        q6k_tile_kernel<tokens()>(tile, num_super_blocks, x.rows + t * x.row_bytes, x.row_bytes,
                                  out + t * weight.num_rows + r, weight.num_rows);
      });
    }
  }
}

}  // namespace

void register_avx512_q6k_repacked_matmul(KernelTable& table) {
  if (!cpu_features().avx512vnni) return;
  table.matmul_rows_repacked[static_cast<int>(DType::kQ6_K)] = q6k_repacked_matmul_rows;
}

}  // namespace tessera::kernels
