// Private to the reference quantizers (quantize_ref.cpp, quantize_kquants_ref.cpp): the per-type
// entry points the DType dispatcher calls, and the rounding helper they share. Not for other modules.
#pragma once

#include <cstdint>
#include <cstring>

#include "tensor/quant_blocks.h"

namespace tessera::quant_internal {

// Round to nearest, ties to even, for |value| <= 2^22 - 1, exactly as ggml's nearest_int: adding
// 1.5 * 2^23 leaves the rounded integer in the low mantissa bits. NOTE: kept as this bit trick
// (not lrintf) so that even out-of-range inputs give ggml's bytes.
inline int nearest_int(float value) {
  const float shifted = value + 12582912.f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof(bits));
  return (bits & 0x007FFFFF) - 0x00400000;
}

// Each encodes num_blocks * 256 floats from `src` into `dst` (quantize_kquants_ref.cpp).
void quantize_q2_K_blocks(const float* src, BlockQ2_K* dst, int64_t num_blocks);
void quantize_q3_K_blocks(const float* src, BlockQ3_K* dst, int64_t num_blocks);
void quantize_q4_K_blocks(const float* src, BlockQ4_K* dst, int64_t num_blocks);
void quantize_q5_K_blocks(const float* src, BlockQ5_K* dst, int64_t num_blocks);
void quantize_q6_K_blocks(const float* src, BlockQ6_K* dst, int64_t num_blocks);
void quantize_q8_K_blocks(const float* src, BlockQ8_K* dst, int64_t num_blocks);

}  // namespace tessera::quant_internal
