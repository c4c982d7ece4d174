// Weight repacking for the matmul kernels: Q4_0 and Q8_0 matrices rearranged at load time into
// tiles of kRepackRows rows whose bytes one 512-bit VNNI dot product consumes directly. Owns the
// layout and a portable (reference-exact) reader of it; knows nothing about models or files.
//
// Layout of one tile (rows 16i .. 16i+15, num_blocks = num_cols / 32 blocks each), exactly
// 16 * row_bytes(type, num_cols) bytes, so a repacked matrix is as large as the original:
//   quants: num_blocks x kGroupBytes * groups: for block b and 4-element group g, 64 bytes, of
//           which bytes [4r, 4r+4) are elements 4g..4g+3 of row r, stored unsigned:
//           Q8_0: q + 128 (8 groups, 512 bytes per block);
//           Q4_0: the block's nibble bytes q + 8, byte k of group g (g < 4) holding element
//                 4g+k in its low nibble and element 16+4g+k in its high nibble (256 bytes).
//   scales: num_blocks x 16 f16, the block scales of rows 0..15.
// NOTE: the unsigned weights let vpdpbusd (u8 x s8) take the activation bytes unchanged; the
// bias (128 or 8) times the activation block's sum is removed once per block for all 16 rows.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/tensor_view.h"

namespace tessera::kernels {

inline constexpr int kRepackRows = 16;

// True when `weight` (row-major) has a repacked layout: Q4_0 or Q8_0, rows a multiple of 16.
bool repackable(const MatrixView& weight);

// Writes the repacked form of the row-major `weight` to dst (16 * row_bytes * num_rows / 16
// bytes, i.e. as many as the original) and returns a view of it (interleaved_rows = 16).
MatrixView repack(const MatrixView& weight, uint8_t* dst);

// Bytes of the quant part of one block of one tile (512 for Q8_0, 256 for Q4_0).
size_t repacked_block_quant_bytes(DType type);

// What the repacked kernels need of one Q8_0 activation block beside its quants: the scale as
// f32 and the sum of the quants (the biased weights' correction is -bias x quant_sum).
struct RepackedActivationBlock {
  float scale;
  int32_t quant_sum;
};

// Q8_0 activation rows and their block summaries, prepared once per matmul (kernels.cpp) and
// shared by every thread's row range.
struct RepackedActivation {
  const uint8_t* rows;  // num_tokens rows of row_bytes (Q8_0 blocks)
  size_t row_bytes;
  int64_t num_tokens;
  const RepackedActivationBlock* blocks;  // [num_tokens, num_cols / 32]
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
