// The row/token loop of the x86 k-quant matmul kernels (AVX2 and AVX-512): it calls a
// multi-token dot, `Dot<k>::run(num_blocks, weight_row, activations[k], results[k])`, which
// decodes each weight block once for its k (1..4) tokens. A Dot that declares a `Group` type
// gets one made per token group and tile (`group.prepare(num_blocks, activations)`: work that
// depends on the activations only) and passed to every row: `run(..., activations, group, ...)`.
// NOTE: internal linkage only (anonymous namespace), like the other headers in this folder.
// NOTE: cache blocking. The loop visits rows in tiles of kKquantRowTile. Inside a tile, each
// group of 4 tokens meets every row of the tile. A group's activations (4 x 292 bytes per 256
// columns: 26 KiB at ffn_down's 5632) stay in L1 while the tile's rows pass, and the tile's
// weights (16 rows x 3-5 KiB) stay in L2 while the token groups pass. The former loop went
// rows outer, all tokens inner, so every row streamed the whole activation matrix (820 KiB at
// 128 tokens x 5632) from L3.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/x86/count_dispatch_x86.h"
#include "tensor/quant_blocks.h"

namespace tessera::kernels {
namespace {

constexpr int64_t kKquantRowTile = 16;
constexpr int kKquantTokenGroup = 4;

template <typename Block, template <int> class Dot>
void kquant_matmul_rows(const MatrixView& weight, const uint8_t* x_converted, size_t x_row_bytes, int64_t num_tokens,
                        int64_t row_begin, int64_t row_end, float* out) {
  const int64_t num_blocks = weight.num_cols / kQK_K;
  for (int64_t tile = row_begin; tile < row_end; tile += kKquantRowTile) {
    const int64_t tile_end = std::min(tile + kKquantRowTile, row_end);
    for (int64_t t0 = 0; t0 < num_tokens; t0 += kKquantTokenGroup) {
      const int count = static_cast<int>(std::min<int64_t>(kKquantTokenGroup, num_tokens - t0));
      const BlockQ8_K* x[kKquantTokenGroup];
      for (int t = 0; t < count; ++t)
        x[t] = reinterpret_cast<const BlockQ8_K*>(x_converted + static_cast<size_t>(t0 + t) * x_row_bytes);
      with_count<kKquantTokenGroup>(count, [&](auto tokens) {
        using TokensDot = Dot<tokens()>;
        auto rows = [&](auto&&... group) {
          for (int64_t r = tile; r < tile_end; ++r) {
            const auto* w = reinterpret_cast<const Block*>(weight.row(r));
            float result[kKquantTokenGroup];
            TokensDot::run(num_blocks, w, x, group..., result);
            for (int t = 0; t < tokens(); ++t) out[(t0 + t) * weight.num_rows + r] = result[t];
          }
        };
        if constexpr (requires { typename TokensDot::Group; }) {
          typename TokensDot::Group group;
          group.prepare(num_blocks, x);
          rows(group);
        } else {
          rows();
        }
      });
    }
  }
}

// A one-token dot, `float Single(num_blocks, weight_row, activation)`, as a Dot for the driver.
template <typename Block, float (*Single)(int64_t, const Block*, const BlockQ8_K*)>
struct PerTokenDot {
  template <int kTokens>
  struct Dot {
    static void run(int64_t num_blocks, const Block* w, const BlockQ8_K* const* a, float* result) {
      for (int t = 0; t < kTokens; ++t) result[t] = Single(num_blocks, w, a[t]);
    }
  };
};

}  // namespace
}  // namespace tessera::kernels
