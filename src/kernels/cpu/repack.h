// Weight repacking for the matmul kernels: Q4_0, Q5_0, Q8_0, Q4_K, Q5_K and Q6_K matrices rearranged at load time
// into tiles of kRepackRows rows whose bytes a SIMD dot product consumes directly, 8 or 16 rows
// per register. Owns the layouts and a portable (reference-exact) reader of them; knows nothing
// about models or files. A repacked matrix is exactly as large as the original: one tile
// (rows 16i .. 16i+15) is 16 * row_bytes(type, num_cols) bytes.
//
// Q4_0 / Q5_0 / Q8_0 (Q8_0 activations), num_blocks = num_cols / 32 blocks per row:
//   quants: num_blocks x kGroupBytes * groups: for block b and 4-element group g, 64 bytes, of
//           which bytes [4r, 4r+4) are elements 4g..4g+3 of row r, stored unsigned:
//           Q8_0: q + 128 (8 groups, 512 bytes per block);
//           Q4_0: the block's nibble bytes q + 8, byte k of group g (g < 4) holding element
//                 4g+k in its low nibble and element 16+4g+k in its high nibble (256 bytes);
//           Q5_0: as Q4_0 (its nibbles), then the 5th bits, 16 bytes per group g at 256 + 16g:
//                 byte r holds row r's bits of elements 4g+k at bit k and 16+4g+k at bit 4+k
//                 (320 bytes). Values q + 16 = nibble | 5th bit << 4, unsigned.
//   scales: num_blocks x 16 f16, the block scales of rows 0..15.
// NOTE: the unsigned weights let vpdpbusd (u8 x s8) take the activation bytes unchanged; the
// bias (128, 8 or 16) times the activation block's sum is removed once per block for all 16 rows.
//
// Q4_K (Q8_K activations): one section of kQ4KTileSuperBlockBytes per super-block of 256
// columns, each laid out as:
//   [0, 2048)     quants: for 64-element chunk c (0..3) and group g (0..7), 64 bytes at
//                 64 * (8c + g), of which bytes [4r, 4r+4) are bytes 32c+4g .. 32c+4g+3 of row
//                 r's qs: low nibbles elements 64c+4g+k (sub-block 2c), high nibbles elements
//                 64c+32+4g+k (sub-block 2c+1). Bytes [32h, 32h+32) of a group are half h (rows
//                 8h..8h+7), one 256-bit register.
//   [2048, 2240)  per half h, 96 bytes at 2048 + 96h: the 6-bit sub-block scales sc and mins m
//                 of its 8 rows (i = row - 8h): byte 8j + i = (sc_j & 15) | (m_j & 15) << 4
//                 (j = 0..7), then byte 64 + 8j + i (j = 0..3) = the top 2 bits of sc_j, m_j,
//                 sc_j+4, m_j+4 at bits 0, 2, 4, 6.
//   [2240, 2304)  per half h, 32 bytes at 2240 + 32h: 8 f16 d, then 8 f16 dmin.
// Q5_K (Q8_K activations): as Q4_K, with the 5th quant bits inserted after the quants, so one
// section is kQ5KTileLayout.section_bytes = 2816:
//   [2048, 2560)  for group g (0..7), 64 bytes at 2048 + 64g, of which bytes [4r, 4r+4) are
//                 qh[4g .. 4g+3] of row r: bit 2c the 5th bit of element 64c+4g+k, bit 2c+1
//                 that of element 64c+32+4g+k.
//   [2560, 2752)  scales and mins, [2752, 2816) d and dmin, as Q4_K.
// Q6_K (Q8_K activations): one section of kQ6KTileLayout.section_bytes = 3360 per super-block:
//   [0, 2048)     ql: for 32-byte chunk c (0..3) and group g (0..7), 64 bytes at 64 * (8c + g), of
//                 which bytes [4r, 4r+4) are ql[32c + 4g .. 32c + 4g + 3] of row r (as Q4_K's
//                 quants). With c = 2h + k (h: the 128-element half): low nibbles elements
//                 128h + 32k + 4g + i, high nibbles 128h + 64 + 32k + 4g + i.
//   [2048, 3072)  qh: for half h (0..1) and group g (0..7), 64 bytes at 2048 + 64 * (8h + g), of
//                 which bytes [4r, 4r+4) are qh[32h + 4g .. 32h + 4g + 3] of row r: bits 2m, 2m+1
//                 the top bits of element 128h + 32m + 4g + i.
//   [3072, 3328)  for sub-block j (0..15), 16 bytes at 3072 + 16j: byte r = row r's int8 scale j.
//   [3328, 3360)  16 f16 d, rows 0..15.
// NOTE: the quants (0..63) are unsigned, so vpdpbusd takes them as they are; the bias of 32
// times the activation's sum over a 16-element sub-block (Q8_K's bsums) starts each sub-block's
// int32 sum, and the sub-block's scale multiplies it.
// NOTE: the rows of a half advance in the lanes of one register (AVX2; a whole group, both
// halves, in one AVX-512 register), so AVX2 adds a sub-block's maddubs products up in int16 (Q4_K:
// |8 x 2 x 15 x 127| < 32767; Q5_K: per 4 groups, |4 x 2 x 31 x 127|) and one madd by the rows'
// scales widens them; AVX-512 VNNI sums a sub-block in int32 with vpdpbusd.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/tensor_view.h"

namespace tessera::kernels {

inline constexpr int kRepackRows = 16;

// The super-block sections of Q4_K and Q5_K tiles (see above): offsets inside one section.
struct KQuantTileLayout {
  size_t section_bytes;        // kRepackRows x sizeof(block)
  size_t high_bits_offset;     // Q5_K's 5th-bit plane (Q4_K: none)
  size_t scales_offset;        // per half h, kKQuantHalfScalesBytes at + 96h
  size_t super_scales_offset;  // per half h, 8 f16 d and 8 f16 dmin at + 32h
};
inline constexpr KQuantTileLayout kQ4KTileLayout{2304, 2048, 2048, 2240};
inline constexpr KQuantTileLayout kQ5KTileLayout{2816, 2048, 2560, 2752};
// Q6_K's super-block sections (see above).
struct Q6KTileLayout {
  size_t section_bytes, high_bits_offset, scales_offset, super_scales_offset;
};
inline constexpr Q6KTileLayout kQ6KTileLayout{3360, 2048, 3072, 3328};
inline constexpr size_t kKQuantHalfScalesBytes = 96;

// True when `weight` (row-major) has a repacked layout: Q4_0, Q5_0 or Q8_0, or Q4_K, Q5_K or Q6_K,
// rows a multiple of 16.
bool repackable(const MatrixView& weight);

// Writes the repacked form of the row-major `weight` to dst (16 * row_bytes * num_rows / 16
// bytes, i.e. as many as the original) and returns a view of it (interleaved_rows = 16).
MatrixView repack(const MatrixView& weight, uint8_t* dst);

// Bytes of the quant part of one block of one tile (512 for Q8_0, 256 for Q4_0, 320 for Q5_0).
size_t repacked_block_quant_bytes(DType type);

// What the repacked kernels need of one Q8_0 activation block beside its quants: the scale as
// f32 and the sum of the quants (the biased weights' correction is -bias x quant_sum).
struct RepackedActivationBlock {
  float scale;
  int32_t quant_sum;
};

// Activation rows (vec_dot_type of the weight: Q8_0, or Q8_K for Q4_K / Q5_K / Q6_K) and, for Q8_0, their
// block summaries, prepared once per matmul (kernels.cpp) and shared by every thread's row range.
struct RepackedActivation {
  const uint8_t* rows;  // num_tokens rows of row_bytes
  size_t row_bytes;
  int64_t num_tokens;
  const RepackedActivationBlock* blocks;  // Q8_0: [num_tokens, num_cols / 32]; Q8_K: null
};

// Fills blocks[0, num_blocks) from one Q8_0 activation row.
void summarize_activation_row(const uint8_t* row, int64_t num_blocks, RepackedActivationBlock* blocks);

// out[t, r] (row stride weight.num_rows) for t < x.num_tokens, r in [row_begin, row_end): whole
// tiles (multiples of 16) of a repacked view.
using RepackedMatmulRowsFn = void (*)(const MatrixView& weight, const RepackedActivation& x, int64_t row_begin,
                                      int64_t row_end, float* out);

// A RepackedMatmulRowsFn that restores each tile to row-major and runs the reference, so results
// match ref::matmul_rows exactly: the fallback for ISAs without a repacked kernel (and the tests'
// oracle).
void repacked_matmul_rows_portable(const MatrixView& weight, const RepackedActivation& x, int64_t row_begin,
                                   int64_t row_end, float* out);

}  // namespace tessera::kernels
