// Activation quantization as llama.cpp's CPU backend does it before a matmul (see quant.h).
#include <algorithm>
#include <cmath>

#include "base/check.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

// NOTE: no FMA contraction, so x * inverse is rounded exactly once, as in the SIMD original.
#pragma GCC optimize("fp-contract=off")

namespace tessera {
namespace {

// d = amax / 127; q = round-half-even(x * (127 / amax)). Returns d.
float quantize_q8_block(const float* x, int8_t* qs) {
  float absolute_max = 0.0f;
  for (int j = 0; j < kLegacyBlockSize; ++j) absolute_max = std::max(absolute_max, std::fabs(x[j]));
  const float d = absolute_max / 127.0f;
  const float inverse = absolute_max != 0.0f ? 127.0f / absolute_max : 0.0f;
  for (int j = 0; j < kLegacyBlockSize; ++j) qs[j] = static_cast<int8_t>(std::nearbyint(x[j] * inverse));
  return d;
}

}  // namespace

void quantize_activation_row(DType act_type, const float* src, void* dst, int64_t n) {
  if (act_type != DType::kQ8_0 && act_type != DType::kQ8_1) {
    quantize_row_ref(act_type, src, dst, n);
    return;
  }
  TS_CHECK(n % kLegacyBlockSize == 0, "row of %lld is not a whole number of blocks", static_cast<long long>(n));
  const int64_t num_blocks = n / kLegacyBlockSize;
  for (int64_t b = 0; b < num_blocks; ++b) {
    const float* x = src + b * kLegacyBlockSize;
    if (act_type == DType::kQ8_0) {
      auto* block = static_cast<BlockQ8_0*>(dst) + b;
      block->d = f32_to_f16(quantize_q8_block(x, block->qs));
    } else {
      auto* block = static_cast<BlockQ8_1*>(dst) + b;
      const float d = quantize_q8_block(x, block->qs);
      int sum = 0;
      for (int j = 0; j < kLegacyBlockSize; ++j) sum += block->qs[j];
      block->d = f32_to_f16(d);
      block->s = f32_to_f16(d * static_cast<float>(sum));
    }
  }
}

}  // namespace tessera
