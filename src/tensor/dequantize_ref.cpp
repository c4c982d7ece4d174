// dequantize_row_ref: decodes any DType row to f32. The float expressions follow ggml's
// dequantize_row_* term by term (e.g. (d * scale) * q - (dmin * min)), so results are bit-identical.
#include <cstring>
#include <string>

#include "base/check.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

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

uint32_t load_fifth_bits(const uint8_t* qh_bytes) {
  uint32_t bits;
  std::memcpy(&bits, qh_bytes, sizeof(bits));  // little-endian on every platform we build for
  return bits;
}

void dequantize_q4_0(const BlockQ4_0& x, float* y) {
  const float d = f16_to_f32(x.d);
  for (int j = 0; j < kHalfBlock; ++j) {
    y[j] = ((x.qs[j] & 0x0F) - 8) * d;
    y[j + kHalfBlock] = ((x.qs[j] >> 4) - 8) * d;
  }
}

void dequantize_q4_1(const BlockQ4_1& x, float* y) {
  const float d = f16_to_f32(x.d);
  const float m = f16_to_f32(x.m);
  for (int j = 0; j < kHalfBlock; ++j) {
    y[j] = (x.qs[j] & 0x0F) * d + m;
    y[j + kHalfBlock] = (x.qs[j] >> 4) * d + m;
  }
}

void dequantize_q5_0(const BlockQ5_0& x, float* y) {
  const float d = f16_to_f32(x.d);
  const uint32_t high_bits = load_fifth_bits(x.qh);
  for (int j = 0; j < kHalfBlock; ++j) {
    const int high0 = ((high_bits >> j) & 1) << 4;
    const int high1 = ((high_bits >> (j + kHalfBlock)) & 1) << 4;
    y[j] = (((x.qs[j] & 0x0F) | high0) - 16) * d;
    y[j + kHalfBlock] = (((x.qs[j] >> 4) | high1) - 16) * d;
  }
}

void dequantize_q5_1(const BlockQ5_1& x, float* y) {
  const float d = f16_to_f32(x.d);
  const float m = f16_to_f32(x.m);
  const uint32_t high_bits = load_fifth_bits(x.qh);
  for (int j = 0; j < kHalfBlock; ++j) {
    const int high0 = ((high_bits >> j) & 1) << 4;
    const int high1 = ((high_bits >> (j + kHalfBlock)) & 1) << 4;
    y[j] = ((x.qs[j] & 0x0F) | high0) * d + m;
    y[j + kHalfBlock] = ((x.qs[j] >> 4) | high1) * d + m;
  }
}

void dequantize_q8_0(const BlockQ8_0& x, float* y) {
  const float d = f16_to_f32(x.d);
  for (int j = 0; j < kBlock; ++j) y[j] = x.qs[j] * d;
}

void dequantize_q8_1(const BlockQ8_1& x, float* y) {
  const float d = f16_to_f32(x.d);
  for (int j = 0; j < kBlock; ++j) y[j] = x.qs[j] * d;
}

// The 2-bit field of element 128c + 32s + l (see BlockQ2_K::qs), for c = chunk and i = 32s + l.
int two_bit_field(const uint8_t* qs, int chunk, int i) {
  return (qs[32 * chunk + i % 32] >> (2 * (i / 32))) & 3;
}

void dequantize_q2_K(const BlockQ2_K& x, float* y) {
  const float d = f16_to_f32(x.d);
  const float dmin = f16_to_f32(x.dmin);
  for (int i = 0; i < kQK_K; ++i) {
    const uint8_t scale_min = x.scales[i / 16];
    const float group_d = d * (scale_min & 0xF);
    const float group_min = dmin * (scale_min >> 4);
    y[i] = group_d * two_bit_field(x.qs, i / 128, i % 128) - group_min;
  }
}

void dequantize_q3_K(const BlockQ3_K& x, float* y) {
  const float d = f16_to_f32(x.d);
  for (int i = 0; i < kQK_K; ++i) {
    const float group_d = d * unpack_q3_K_scale(i / 16, x.scales);
    const bool high_bit = (x.hmask[i % 32] >> (i / 32)) & 1;
    y[i] = group_d * (two_bit_field(x.qs, i / 128, i % 128) - (high_bit ? 0 : 4));
  }
}

// The 4-bit field of element 64c + i (i < 64) of a Q4_K/Q5_K qs array.
int nibble_field(const uint8_t* qs, int chunk, int i) {
  const uint8_t byte = qs[32 * chunk + i % 32];
  return i < 32 ? byte & 0xF : byte >> 4;
}

void dequantize_q4_K(const BlockQ4_K& x, float* y) {
  const float d = f16_to_f32(x.d);
  const float dmin = f16_to_f32(x.dmin);
  for (int i = 0; i < kQK_K; ++i) {
    uint8_t scale, min;
    unpack_k4_scale_min(i / 32, x.scales, &scale, &min);
    const float group_d = d * scale;
    const float group_min = dmin * min;
    y[i] = group_d * nibble_field(x.qs, i / 64, i % 64) - group_min;
  }
}

void dequantize_q5_K(const BlockQ5_K& x, float* y) {
  const float d = f16_to_f32(x.d);
  const float dmin = f16_to_f32(x.dmin);
  for (int i = 0; i < kQK_K; ++i) {
    uint8_t scale, min;
    unpack_k4_scale_min(i / 32, x.scales, &scale, &min);
    const float group_d = d * scale;
    const float group_min = dmin * min;
    const int high = ((x.qh[i % 32] >> (i / 32)) & 1) ? 16 : 0;
    y[i] = group_d * (nibble_field(x.qs, i / 64, i % 64) + high) - group_min;
  }
}

void dequantize_q6_K(const BlockQ6_K& x, float* y) {
  const float d = f16_to_f32(x.d);
  for (int i = 0; i < kQK_K; ++i) {
    const int chunk = i / 128;
    const int within = i % 128;
    const uint8_t low_byte = x.ql[64 * chunk + within % 64];
    const int low = within < 64 ? low_byte & 0xF : low_byte >> 4;
    const int high = (x.qh[32 * chunk + within % 32] >> (2 * (within / 32))) & 3;
    const int q = (low | (high << 4)) - 32;
    y[i] = d * x.scales[i / 16] * q;
  }
}

void dequantize_q8_K(const BlockQ8_K& x, float* y) {
  for (int j = 0; j < kQK_K; ++j) y[j] = x.d * x.qs[j];
}

template <typename Block, typename DequantizeBlock>
void dequantize_blocks(const void* src, float* dst, int64_t n, int block_size,
                       DequantizeBlock dequantize_block) {
  const Block* blocks = static_cast<const Block*>(src);
  for (int64_t i = 0; i < n / block_size; ++i) dequantize_block(blocks[i], dst + i * block_size);
}

}  // namespace

void dequantize_row_ref(DType type, const void* src, float* dst, int64_t n) {
  const DTypeTraits& type_traits = traits(type);
  TS_CHECK(n % type_traits.block_size == 0, "%lld elements is not a whole number of %s blocks",
           static_cast<long long>(n), std::string(type_traits.name).c_str());
  switch (type) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::kF16: {
      const uint16_t* in = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(in[i]);
      return;
    }
    case DType::kBF16: {
      const uint16_t* in = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(in[i]);
      return;
    }
    case DType::kQ4_0:
      return dequantize_blocks<BlockQ4_0>(src, dst, n, kBlock, dequantize_q4_0);
    case DType::kQ4_1:
      return dequantize_blocks<BlockQ4_1>(src, dst, n, kBlock, dequantize_q4_1);
    case DType::kQ5_0:
      return dequantize_blocks<BlockQ5_0>(src, dst, n, kBlock, dequantize_q5_0);
    case DType::kQ5_1:
      return dequantize_blocks<BlockQ5_1>(src, dst, n, kBlock, dequantize_q5_1);
    case DType::kQ8_0:
      return dequantize_blocks<BlockQ8_0>(src, dst, n, kBlock, dequantize_q8_0);
    case DType::kQ8_1:
      return dequantize_blocks<BlockQ8_1>(src, dst, n, kBlock, dequantize_q8_1);
    case DType::kQ2_K:
      return dequantize_blocks<BlockQ2_K>(src, dst, n, kQK_K, dequantize_q2_K);
    case DType::kQ3_K:
      return dequantize_blocks<BlockQ3_K>(src, dst, n, kQK_K, dequantize_q3_K);
    case DType::kQ4_K:
      return dequantize_blocks<BlockQ4_K>(src, dst, n, kQK_K, dequantize_q4_K);
    case DType::kQ5_K:
      return dequantize_blocks<BlockQ5_K>(src, dst, n, kQK_K, dequantize_q5_K);
    case DType::kQ6_K:
      return dequantize_blocks<BlockQ6_K>(src, dst, n, kQK_K, dequantize_q6_K);
    case DType::kQ8_K:
      return dequantize_blocks<BlockQ8_K>(src, dst, n, kQK_K, dequantize_q8_K);
  }
  TS_CHECK(false, "dequantize_row_ref: unhandled dtype %s", std::string(type_traits.name).c_str());
}

}  // namespace tessera
