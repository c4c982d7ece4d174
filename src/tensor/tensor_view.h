// MatrixView: a borrowed, read-only 2-D weight matrix in any DType, row-major by output row.
// Owns nothing; the bytes usually live in a memory-mapped GGUF file.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace tessera {

struct MatrixView {
  DType type = DType::kF32;
  int64_t num_rows = 0;         // output features (ggml ne[1])
  int64_t num_cols = 0;         // input features, contiguous within a row (ggml ne[0])
  const uint8_t* data = nullptr;
  size_t row_stride_bytes = 0;  // row_bytes(type, num_cols) for a dense matrix
  // 0: row-major, row(i) is valid. N > 0: repacked for the matmul kernels in tiles of N rows
  // (kernels/cpu/repack.h); only kernels::matmul reads it, row(i) must not be used.
  int32_t interleaved_rows = 0;

  const uint8_t* row(int64_t i) const { return data + static_cast<size_t>(i) * row_stride_bytes; }
  bool empty() const { return data == nullptr; }
};

}  // namespace tessera
