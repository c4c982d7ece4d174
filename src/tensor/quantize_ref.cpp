// quantize_row_ref: the DType dispatcher, the plain float types and the 32-element legacy formats.
// Every formula mirrors ggml's quantize_row_*_ref operation for operation (same float expressions
// in the same order, same integer conversions), because the bytes must equal llama.cpp's.
// NOTE: never build these files with -ffast-math: reassociation would change roundings and bytes.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <string>

#include "base/check.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"
#include "tensor/quant_ref_internal.h"

// NOTE: no fused multiply-add contraction here: ggml's reference code rounds every product and
// sum on its own, and fusing a * b + c changes results (and bytes, as seen with -march=native).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace tessera {
namespace {

constexpr int kBlock = kLegacyBlockSize;
constexpr int kHalfBlock = kLegacyBlockSize / 2;

// The element of largest magnitude, sign included (the first one on ties); 0 for an all-zero
// block. Symmetric formats divide by it so that the extreme maps exactly onto the most negative
// quant, which has one more level than the positive side.
float signed_absolute_max(const float* x) {
  float absolute_max = 0.0f;
  float signed_max = 0.0f;
  for (int j = 0; j < kBlock; ++j) {
    if (absolute_max < std::fabs(x[j])) {
      absolute_max = std::fabs(x[j]);
      signed_max = x[j];
    }
  }
  return signed_max;
}

void minimum_and_maximum(const float* x, float* minimum, float* maximum) {
  *minimum = FLT_MAX;
  *maximum = -FLT_MAX;
  for (int j = 0; j < kBlock; ++j) {
    if (x[j] < *minimum) *minimum = x[j];
    if (x[j] > *maximum) *maximum = x[j];
  }
}

// 16-bit 5th-bit mask of the Q5 formats: bit j (0..31) is bit 4 of quant j.
void store_fifth_bits(const uint8_t* quants, uint8_t* qh_bytes) {
  uint32_t high_bits = 0;
  for (int j = 0; j < kBlock; ++j) high_bits |= static_cast<uint32_t>((quants[j] >> 4) & 1u) << j;
  for (int b = 0; b < 4; ++b) qh_bytes[b] = static_cast<uint8_t>(high_bits >> (8 * b));
}

void quantize_q4_0(const float* x, BlockQ4_0* y) {
  const float d = signed_absolute_max(x) / -8;
  const float inverse_d = d != 0.0f ? 1.0f / d : 0.0f;
  y->d = f32_to_f16(d);
  for (int j = 0; j < kHalfBlock; ++j) {
    // x * inverse_d is in [-8, 8]; +8.5 then truncation rounds half up into [0, 16], clamped to 15.
    const int q0 = std::min(15, static_cast<int>(x[j] * inverse_d + 8.5f));
    const int q1 = std::min(15, static_cast<int>(x[j + kHalfBlock] * inverse_d + 8.5f));
    y->qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
  }
}

void quantize_q4_1(const float* x, BlockQ4_1* y) {
  float minimum, maximum;
  minimum_and_maximum(x, &minimum, &maximum);
  const float d = (maximum - minimum) / ((1 << 4) - 1);
  const float inverse_d = d != 0.0f ? 1.0f / d : 0.0f;
  y->d = f32_to_f16(d);
  y->m = f32_to_f16(minimum);
  for (int j = 0; j < kHalfBlock; ++j) {
    const int q0 = std::min(15, static_cast<int>((x[j] - minimum) * inverse_d + 0.5f));
    const int q1 = std::min(15, static_cast<int>((x[j + kHalfBlock] - minimum) * inverse_d + 0.5f));
    y->qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
  }
}

void quantize_q5_0(const float* x, BlockQ5_0* y) {
  const float d = signed_absolute_max(x) / -16;
  const float inverse_d = d != 0.0f ? 1.0f / d : 0.0f;
  y->d = f32_to_f16(d);
  uint8_t quants[kBlock];
  for (int j = 0; j < kBlock; ++j) {
    quants[j] = static_cast<uint8_t>(std::min(31, static_cast<int>(x[j] * inverse_d + 16.5f)));
  }
  for (int j = 0; j < kHalfBlock; ++j) {
    y->qs[j] = static_cast<uint8_t>((quants[j] & 0x0F) | ((quants[j + kHalfBlock] & 0x0F) << 4));
  }
  store_fifth_bits(quants, y->qh);
}

void quantize_q5_1(const float* x, BlockQ5_1* y) {
  float minimum, maximum;
  minimum_and_maximum(x, &minimum, &maximum);
  const float d = (maximum - minimum) / ((1 << 5) - 1);
  const float inverse_d = d != 0.0f ? 1.0f / d : 0.0f;
  y->d = f32_to_f16(d);
  y->m = f32_to_f16(minimum);
  uint8_t quants[kBlock];
  // NOTE: no clamp to 31, as in ggml: (x - min) / d <= 31 up to rounding, so +0.5 stays below 32.
  for (int j = 0; j < kBlock; ++j) {
    quants[j] = static_cast<uint8_t>((x[j] - minimum) * inverse_d + 0.5f);
  }
  for (int j = 0; j < kHalfBlock; ++j) {
    y->qs[j] = static_cast<uint8_t>((quants[j] & 0x0F) | ((quants[j + kHalfBlock] & 0x0F) << 4));
  }
  store_fifth_bits(quants, y->qh);
}

// Shared by Q8_0 and Q8_1: d = amax / 127 and qs = round-half-away-from-zero(x / d).
float quantize_q8_values(const float* x, int8_t* qs) {
  float absolute_max = 0.0f;
  for (int j = 0; j < kBlock; ++j) absolute_max = std::max(absolute_max, std::fabs(x[j]));
  const float d = absolute_max / ((1 << 7) - 1);
  const float inverse_d = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < kBlock; ++j) qs[j] = static_cast<int8_t>(std::round(x[j] * inverse_d));
  return d;
}

void quantize_q8_0(const float* x, BlockQ8_0* y) { y->d = f32_to_f16(quantize_q8_values(x, y->qs)); }

void quantize_q8_1(const float* x, BlockQ8_1* y) {
  const float d = quantize_q8_values(x, y->qs);
  int sum = 0;
  for (int j = 0; j < kBlock; ++j) sum += y->qs[j];
  y->d = f32_to_f16(d);
  y->s = f32_to_f16(static_cast<float>(sum) * d);
}

// Applies `quantize_block` to each of the n / block_size blocks of one row.
template <typename Block, typename QuantizeBlock>
void quantize_blocks(const float* src, void* dst, int64_t n, int block_size, QuantizeBlock quantize_block) {
  Block* blocks = static_cast<Block*>(dst);
  for (int64_t i = 0; i < n / block_size; ++i) quantize_block(src + i * block_size, &blocks[i]);
}

}  // namespace

void quantize_row_ref(DType type, const float* src, void* dst, int64_t n) {
  const DTypeTraits& type_traits = traits(type);
  TS_CHECK(n % type_traits.block_size == 0, "%lld elements is not a whole number of %s blocks",
           static_cast<long long>(n), std::string(type_traits.name).c_str());
  const int64_t num_blocks = n / type_traits.block_size;
  using namespace quant_internal;
  switch (type) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::kF16: {
      uint16_t* out = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = f32_to_f16(src[i]);
      return;
    }
    case DType::kBF16: {
      uint16_t* out = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = f32_to_bf16(src[i]);
      return;
    }
    case DType::kQ4_0:
      return quantize_blocks<BlockQ4_0>(src, dst, n, kBlock, quantize_q4_0);
    case DType::kQ4_1:
      return quantize_blocks<BlockQ4_1>(src, dst, n, kBlock, quantize_q4_1);
    case DType::kQ5_0:
      return quantize_blocks<BlockQ5_0>(src, dst, n, kBlock, quantize_q5_0);
    case DType::kQ5_1:
      return quantize_blocks<BlockQ5_1>(src, dst, n, kBlock, quantize_q5_1);
    case DType::kQ8_0:
      return quantize_blocks<BlockQ8_0>(src, dst, n, kBlock, quantize_q8_0);
    case DType::kQ8_1:
      return quantize_blocks<BlockQ8_1>(src, dst, n, kBlock, quantize_q8_1);
    case DType::kQ2_K:
      return quantize_q2_K_blocks(src, static_cast<BlockQ2_K*>(dst), num_blocks);
    case DType::kQ3_K:
      return quantize_q3_K_blocks(src, static_cast<BlockQ3_K*>(dst), num_blocks);
    case DType::kQ4_K:
      return quantize_q4_K_blocks(src, static_cast<BlockQ4_K*>(dst), num_blocks);
    case DType::kQ5_K:
      return quantize_q5_K_blocks(src, static_cast<BlockQ5_K*>(dst), num_blocks);
    case DType::kQ6_K:
      return quantize_q6_K_blocks(src, static_cast<BlockQ6_K*>(dst), num_blocks);
    case DType::kQ8_K:
      return quantize_q8_K_blocks(src, static_cast<BlockQ8_K*>(dst), num_blocks);
  }
  TS_CHECK(false, "quantize_row_ref: unhandled dtype %s", std::string(type_traits.name).c_str());
}

}  // namespace tessera
