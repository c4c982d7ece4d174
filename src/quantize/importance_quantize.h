// Importance-weighted row quantizers: the same block formats as quantize_row_ref, but every
// scale (and offset) is chosen to minimise sum_j w_j * (x_j - dequantized_j)^2, where w_j grows with
// the importance of input channel j (the mean square of the activations it multiplies, from
// `tessera imatrix`). See docs/quantization.md for the method. Knows nothing about files.
#pragma once

#include <cstdint>

#include "tensor/dtype.h"

namespace tessera::quantize {

// Encodes src[0..n) into dst (row_bytes(type, n) bytes). `importance` is [n] (one value per
// column of the weight row, >= 0); nullptr means plain rounding, i.e. quantize_row_ref (byte for
// byte what llama.cpp writes without an imatrix). Q8_0 and the float types ignore `importance`,
// as llama.cpp does (8 bits leave nothing to gain). n must be a multiple of the block size.
// `gram` ([n, n] row-major, may be null) is the input Gram matrix E[a a^T] of the row's input
// channels; when given, the codes are then re-rounded greedily to lower the correlated output
// error e^T G e instead of the per-channel one.
void quantize_row_with_importance(DType type, const float* src, void* dst, int64_t n, const float* importance,
                                  const float* gram = nullptr);

}  // namespace tessera::quantize
