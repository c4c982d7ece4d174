#include "kernels/cpu/repack.h"

#include <cstring>
#include <type_traits>
#include <vector>

#include "base/check.h"
#include "kernels/ref/ref_kernels.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

namespace tessera::kernels {
namespace {

constexpr int kGroupBytes = 4 * kRepackRows;  // one 4-element group of 16 rows: a 512-bit register

template <typename Block>
constexpr int kNumGroups = std::is_same_v<Block, BlockQ8_0> ? 8 : 4;

// Bytes of one block of one tile before the scales: the groups, then (Q5_0) the 5th-bit plane.
template <typename Block>
constexpr size_t kBlockQuantBytes = size_t{kGroupBytes} * kNumGroups<Block> + (std::is_same_v<Block, BlockQ5_0> ? 64 : 0);

// Q5_0's 5th-bit byte of group g of one row (repack.h): bits k = qh bit 4g + k, bits 4 + k = qh
// bit 16 + 4g + k.
uint8_t q5_high_bits_byte(const BlockQ5_0& block, int g) {
  uint32_t qh;
  std::memcpy(&qh, block.qh, sizeof(qh));
  return static_cast<uint8_t>(((qh >> (4 * g)) & 0xF) | ((qh >> (16 + 4 * g)) & 0xF) << 4);
}

// Inverse of q5_high_bits_byte over the four groups of one row.
void set_q5_high_bits(const uint8_t* bytes, BlockQ5_0* block) {
  uint32_t qh = 0;
  for (int g = 0; g < 4; ++g) qh |= (bytes[g] & 0xFu) << (4 * g) | (static_cast<uint32_t>(bytes[g]) >> 4) << (16 + 4 * g);
  std::memcpy(block->qh, &qh, sizeof(qh));
}

// Byte k of group g of a block of row-major `block`, in the repacked (unsigned) encoding.
template <typename Block>
uint8_t packed_byte(const Block& block, int g, int k) {
  if constexpr (std::is_same_v<Block, BlockQ8_0>) {
    return static_cast<uint8_t>(block.qs[4 * g + k] ^ 0x80);  // q + 128
  } else {
    return block.qs[4 * g + k];  // nibbles already hold q + 8
  }
}

template <typename Block>
void repack_tile(const MatrixView& w, int64_t tile, uint8_t* dst) {
  const int64_t num_blocks = w.num_cols / kLegacyBlockSize;
  const size_t quant_bytes = kBlockQuantBytes<Block>;
  uint8_t* quants = dst;
  auto* scales = reinterpret_cast<uint16_t*>(dst + static_cast<size_t>(num_blocks) * quant_bytes);
  for (int r = 0; r < kRepackRows; ++r) {
    const auto* row = reinterpret_cast<const Block*>(w.row(tile * kRepackRows + r));
    for (int64_t b = 0; b < num_blocks; ++b) {
      uint8_t* block_dst = quants + static_cast<size_t>(b) * quant_bytes;
      for (int g = 0; g < kNumGroups<Block>; ++g) {
        for (int k = 0; k < 4; ++k) block_dst[g * kGroupBytes + 4 * r + k] = packed_byte(row[b], g, k);
        if constexpr (std::is_same_v<Block, BlockQ5_0>) block_dst[4 * kGroupBytes + 16 * g + r] = q5_high_bits_byte(row[b], g);
      }
      scales[b * kRepackRows + r] = row[b].d;
    }
  }
}

// Inverse of repack_tile: rows 0..15 of the tile, row-major, into dst (16 rows of row_stride_bytes).
template <typename Block>
void unpack_tile(const MatrixView& w, const uint8_t* tile_src, uint8_t* dst) {
  const int64_t num_blocks = w.num_cols / kLegacyBlockSize;
  const size_t quant_bytes = kBlockQuantBytes<Block>;
  const auto* scales = reinterpret_cast<const uint16_t*>(tile_src + static_cast<size_t>(num_blocks) * quant_bytes);
  for (int r = 0; r < kRepackRows; ++r) {
    auto* row = reinterpret_cast<Block*>(dst + static_cast<size_t>(r) * w.row_stride_bytes);
    for (int64_t b = 0; b < num_blocks; ++b) {
      const uint8_t* block_src = tile_src + static_cast<size_t>(b) * quant_bytes;
      for (int g = 0; g < kNumGroups<Block>; ++g) {
        for (int k = 0; k < 4; ++k) {
          const uint8_t byte = block_src[g * kGroupBytes + 4 * r + k];
          if constexpr (std::is_same_v<Block, BlockQ8_0>) {
            row[b].qs[4 * g + k] = static_cast<int8_t>(byte ^ 0x80);
          } else {
            row[b].qs[4 * g + k] = byte;
          }
        }
      }
      if constexpr (std::is_same_v<Block, BlockQ5_0>) {
        const uint8_t bytes[4] = {block_src[4 * kGroupBytes + r], block_src[4 * kGroupBytes + 16 + r],
                                  block_src[4 * kGroupBytes + 32 + r], block_src[4 * kGroupBytes + 48 + r]};
        set_q5_high_bits(bytes, &row[b]);
      }
      row[b].d = scales[b * kRepackRows + r];
    }
  }
}

// Bytes [4gi, 4gi + 4) of src, for gi < num_groups, to bytes [4r, 4r + 4) of the 64-byte group
// gi at dst: how every repacked k-quant plane puts row r of a tile beside the other 15.
void interleave_groups(const uint8_t* src, int num_groups, int r, uint8_t* dst) {
  for (int gi = 0; gi < num_groups; ++gi) std::memcpy(dst + size_t{kGroupBytes} * gi + 4 * r, src + 4 * gi, 4);
}

// Inverse of interleave_groups.
void deinterleave_groups(const uint8_t* src, int num_groups, int r, uint8_t* dst) {
  for (int gi = 0; gi < num_groups; ++gi) std::memcpy(dst + 4 * gi, src + size_t{kGroupBytes} * gi + 4 * r, 4);
}

template <typename Block>
constexpr const KQuantTileLayout& kquant_layout() {
  return std::is_same_v<Block, BlockQ5_K> ? kQ5KTileLayout : kQ4KTileLayout;
}
static_assert(kQ4KTileLayout.section_bytes == kRepackRows * sizeof(BlockQ4_K));
static_assert(kQ5KTileLayout.section_bytes == kRepackRows * sizeof(BlockQ5_K));

// Q4_K / Q5_K: rows 0..15 of a tile in super-block sections (repack.h).
template <typename Block>
void repack_tile_k4(const MatrixView& w, int64_t tile, uint8_t* dst) {
  constexpr KQuantTileLayout layout = kquant_layout<Block>();
  const int64_t num_super_blocks = w.num_cols / kQK_K;
  for (int r = 0; r < kRepackRows; ++r) {
    const auto* row = reinterpret_cast<const Block*>(w.row(tile * kRepackRows + r));
    const int half = r / 8, i = r % 8;
    for (int64_t s = 0; s < num_super_blocks; ++s) {
      const Block& block = row[s];
      uint8_t* section = dst + static_cast<size_t>(s) * layout.section_bytes;
      interleave_groups(block.qs, 32, r, section);
      if constexpr (std::is_same_v<Block, BlockQ5_K>) interleave_groups(block.qh, 8, r, section + layout.high_bits_offset);
      uint8_t scale[8], min[8];
      for (int j = 0; j < 8; ++j) unpack_k4_scale_min(j, block.scales, &scale[j], &min[j]);
      uint8_t* scales = section + layout.scales_offset + kKQuantHalfScalesBytes * half;
      for (int j = 0; j < 8; ++j) scales[8 * j + i] = static_cast<uint8_t>((scale[j] & 15) | (min[j] & 15) << 4);
      for (int j = 0; j < 4; ++j) {
        scales[64 + 8 * j + i] = static_cast<uint8_t>((scale[j] >> 4) | (min[j] >> 4) << 2 | (scale[j + 4] >> 4) << 4 |
                                                      (min[j + 4] >> 4) << 6);
      }
      auto* super_scales = reinterpret_cast<uint16_t*>(section + layout.super_scales_offset + 32 * half);
      super_scales[i] = block.d;
      super_scales[8 + i] = block.dmin;
    }
  }
}

// Inverse of repack_tile_k4.
template <typename Block>
void unpack_tile_k4(const MatrixView& w, const uint8_t* tile_src, uint8_t* dst) {
  constexpr KQuantTileLayout layout = kquant_layout<Block>();
  const int64_t num_super_blocks = w.num_cols / kQK_K;
  for (int r = 0; r < kRepackRows; ++r) {
    auto* row = reinterpret_cast<Block*>(dst + static_cast<size_t>(r) * w.row_stride_bytes);
    const int half = r / 8, i = r % 8;
    for (int64_t s = 0; s < num_super_blocks; ++s) {
      Block& block = row[s];
      const uint8_t* section = tile_src + static_cast<size_t>(s) * layout.section_bytes;
      deinterleave_groups(section, 32, r, block.qs);
      if constexpr (std::is_same_v<Block, BlockQ5_K>) deinterleave_groups(section + layout.high_bits_offset, 8, r, block.qh);
      const uint8_t* scales = section + layout.scales_offset + kKQuantHalfScalesBytes * half;
      std::memset(block.scales, 0, sizeof(block.scales));
      for (int j = 0; j < 8; ++j) {
        const int top = scales[64 + 8 * (j % 4) + i] >> (j < 4 ? 0 : 4);
        const auto scale = static_cast<uint8_t>((scales[8 * j + i] & 15) | (top & 3) << 4);
        const auto min = static_cast<uint8_t>((scales[8 * j + i] >> 4) | ((top >> 2) & 3) << 4);
        pack_k4_scale_min(j, scale, min, block.scales);
      }
      const auto* super_scales = reinterpret_cast<const uint16_t*>(section + layout.super_scales_offset + 32 * half);
      block.d = super_scales[i];
      block.dmin = super_scales[8 + i];
    }
  }
}

static_assert(kQ6KTileLayout.section_bytes == kRepackRows * sizeof(BlockQ6_K));

// Q6_K: rows 0..15 of a tile in super-block sections (repack.h). unpack: the inverse.
void repack_tile_q6k(const MatrixView& w, int64_t tile, uint8_t* dst) {
  constexpr Q6KTileLayout layout = kQ6KTileLayout;
  for (int r = 0; r < kRepackRows; ++r) {
    const auto* row = reinterpret_cast<const BlockQ6_K*>(w.row(tile * kRepackRows + r));
    for (int64_t s = 0; s < w.num_cols / kQK_K; ++s) {
      uint8_t* section = dst + static_cast<size_t>(s) * layout.section_bytes;
      interleave_groups(row[s].ql, 32, r, section);
      interleave_groups(row[s].qh, 16, r, section + layout.high_bits_offset);
      for (int j = 0; j < 16; ++j) section[layout.scales_offset + 16 * j + r] = static_cast<uint8_t>(row[s].scales[j]);
      std::memcpy(section + layout.super_scales_offset + 2 * r, &row[s].d, 2);
    }
  }
}

void unpack_tile_q6k(const MatrixView& w, const uint8_t* tile_src, uint8_t* dst) {
  constexpr Q6KTileLayout layout = kQ6KTileLayout;
  for (int r = 0; r < kRepackRows; ++r) {
    auto* row = reinterpret_cast<BlockQ6_K*>(dst + static_cast<size_t>(r) * w.row_stride_bytes);
    for (int64_t s = 0; s < w.num_cols / kQK_K; ++s) {
      const uint8_t* section = tile_src + static_cast<size_t>(s) * layout.section_bytes;
      deinterleave_groups(section, 32, r, row[s].ql);
      deinterleave_groups(section + layout.high_bits_offset, 16, r, row[s].qh);
      for (int j = 0; j < 16; ++j) row[s].scales[j] = static_cast<int8_t>(section[layout.scales_offset + 16 * j + r]);
      std::memcpy(&row[s].d, section + layout.super_scales_offset + 2 * r, 2);
    }
  }
}

}  // namespace

bool repackable(const MatrixView& weight) {
  const bool legacy = weight.type == DType::kQ4_0 || weight.type == DType::kQ5_0 || weight.type == DType::kQ8_0;
  const bool k4 = weight.type == DType::kQ4_K || weight.type == DType::kQ5_K || weight.type == DType::kQ6_K;
  return weight.interleaved_rows == 0 && (legacy || k4) &&
         weight.num_rows % kRepackRows == 0 && weight.num_cols % (legacy ? kLegacyBlockSize : kQK_K) == 0 &&
         weight.row_stride_bytes == row_bytes(weight.type, weight.num_cols);
}

size_t repacked_block_quant_bytes(DType type) {
  return type == DType::kQ8_0 ? kBlockQuantBytes<BlockQ8_0>
         : type == DType::kQ5_0 ? kBlockQuantBytes<BlockQ5_0>
                                : kBlockQuantBytes<BlockQ4_0>;
}

MatrixView repack(const MatrixView& weight, uint8_t* dst) {
  TS_CHECK(repackable(weight), "matrix of %s [%lld, %lld] cannot be repacked", std::string(dtype_name(weight.type)).c_str(),
           static_cast<long long>(weight.num_rows), static_cast<long long>(weight.num_cols));
  const size_t tile_bytes = weight.row_stride_bytes * kRepackRows;
  for (int64_t tile = 0; tile < weight.num_rows / kRepackRows; ++tile) {
    uint8_t* tile_dst = dst + static_cast<size_t>(tile) * tile_bytes;
    if (weight.type == DType::kQ8_0) {
      repack_tile<BlockQ8_0>(weight, tile, tile_dst);
    } else if (weight.type == DType::kQ4_0) {
      repack_tile<BlockQ4_0>(weight, tile, tile_dst);
    } else if (weight.type == DType::kQ5_0) {
      repack_tile<BlockQ5_0>(weight, tile, tile_dst);
    } else if (weight.type == DType::kQ4_K) {
      repack_tile_k4<BlockQ4_K>(weight, tile, tile_dst);
    } else if (weight.type == DType::kQ6_K) {
      repack_tile_q6k(weight, tile, tile_dst);
    } else {
      repack_tile_k4<BlockQ5_K>(weight, tile, tile_dst);
    }
  }
  MatrixView view = weight;
  view.data = dst;
  view.interleaved_rows = kRepackRows;
  return view;
}

void summarize_activation_row(const uint8_t* row, int64_t num_blocks, RepackedActivationBlock* blocks) {
  const auto* q8 = reinterpret_cast<const BlockQ8_0*>(row);
  for (int64_t b = 0; b < num_blocks; ++b) {
    int32_t sum = 0;
    for (int8_t q : q8[b].qs) sum += q;
    blocks[b] = {f16_to_f32(q8[b].d), sum};
  }
}

void repacked_matmul_rows_portable(const MatrixView& weight, const RepackedActivation& x, int64_t row_begin,
                                   int64_t row_end, float* out) {
  const uint8_t* x_converted = x.rows;
  const size_t x_row_bytes = x.row_bytes;
  const int64_t num_tokens = x.num_tokens;
  TS_CHECK(row_begin % kRepackRows == 0 && row_end % kRepackRows == 0, "row range not whole tiles");
  const size_t tile_bytes = weight.row_stride_bytes * kRepackRows;
  std::vector<uint8_t> rows(tile_bytes);
  std::vector<float> tile_out(static_cast<size_t>(num_tokens) * kRepackRows);
  for (int64_t tile = row_begin / kRepackRows; tile < row_end / kRepackRows; ++tile) {
    const uint8_t* src = weight.data + static_cast<size_t>(tile) * tile_bytes;
    if (weight.type == DType::kQ8_0) {
      unpack_tile<BlockQ8_0>(weight, src, rows.data());
    } else if (weight.type == DType::kQ4_0) {
      unpack_tile<BlockQ4_0>(weight, src, rows.data());
    } else if (weight.type == DType::kQ5_0) {
      unpack_tile<BlockQ5_0>(weight, src, rows.data());
    } else if (weight.type == DType::kQ4_K) {
      unpack_tile_k4<BlockQ4_K>(weight, src, rows.data());
    } else if (weight.type == DType::kQ6_K) {
      unpack_tile_q6k(weight, src, rows.data());
    } else {
      unpack_tile_k4<BlockQ5_K>(weight, src, rows.data());
    }
    const MatrixView tile_view{weight.type, kRepackRows, weight.num_cols, rows.data(), weight.row_stride_bytes};
    ref::matmul_rows(tile_view, x_converted, x_row_bytes, num_tokens, 0, kRepackRows, tile_out.data());
    for (int64_t t = 0; t < num_tokens; ++t) {
      std::memcpy(out + t * weight.num_rows + tile * kRepackRows, tile_out.data() + t * kRepackRows,
                  kRepackRows * sizeof(float));
    }
  }
}

}  // namespace tessera::kernels
