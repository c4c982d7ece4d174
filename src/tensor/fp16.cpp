// Scalar f16 and bf16 conversions (declared in quant.h), in pure integer arithmetic so the result
// never depends on compiler flags, the FPU's rounding mode or denormals-are-zero settings.
// f32 -> f16 matches x86 F16C's VCVTPS2PH with round-to-nearest-even (what ggml's
// GGML_FP32_TO_FP16 compiles to there); f32 -> bf16 matches ggml_compute_fp32_to_bf16.
#include <cstdint>
#include <cstring>

#include "tensor/quant.h"

namespace tessera {
namespace {

uint32_t float_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  return bits;
}

float float_from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

constexpr uint32_t kF32AbsMask = 0x7FFFFFFFu;
constexpr uint32_t kF32Infinity = 0x7F800000u;
constexpr uint32_t kF32QuietBit = 0x00400000u;
constexpr uint16_t kF16Infinity = 0x7C00u;
constexpr uint16_t kF16QuietBit = 0x0200u;
// 127 - 15: the difference of the f32 and f16 exponent biases, in f32 exponent position.
constexpr uint32_t kExponentRebias = 112u << 23;

}  // namespace

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0x1F) {
    // Inf stays inf. A NaN keeps its payload and comes out quiet, as F16C's VCVTPH2PS does.
    const uint32_t quiet = mantissa != 0 ? kF32QuietBit : 0;
    return float_from_bits(sign | kF32Infinity | quiet | (mantissa << 13));
  }
  if (exponent != 0) return float_from_bits(sign | ((exponent << 23) + kExponentRebias) | (mantissa << 13));
  if (mantissa == 0) return float_from_bits(sign);
  // Subnormal f16 (mantissa * 2^-24): normalise it, since every one of them is a normal f32.
  uint32_t f32_exponent = 113;  // biased f32 exponent of 2^-14, the f16 subnormal exponent
  while ((mantissa & 0x400u) == 0) {
    mantissa <<= 1;
    --f32_exponent;
  }
  return float_from_bits(sign | (f32_exponent << 23) | ((mantissa & 0x3FFu) << 13));
}

uint16_t f32_to_f16(float f) {
  const uint32_t bits = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & kF32AbsMask;

  if (magnitude > kF32Infinity) {
    // NaN: quiet it and keep the top 9 payload bits (VCVTPS2PH truncates the payload).
    return static_cast<uint16_t>(sign | kF16Infinity | kF16QuietBit | ((magnitude >> 13) & 0x3FFu));
  }
  // 65520 = 65504 (largest f16) + half an ulp; ties round to the even neighbour, which is inf.
  if (magnitude >= 0x477FF000u) return static_cast<uint16_t>(sign | kF16Infinity);

  if (magnitude >= 0x38800000u) {  // >= 2^-14: the result is a normal f16
    // Round to nearest even at bit 13, then drop 13 bits. A carry out of the mantissa correctly
    // bumps the exponent (the overflow case was handled above).
    const uint32_t rounded = magnitude + 0xFFFu + ((magnitude >> 13) & 1u);
    return static_cast<uint16_t>(sign | ((rounded - kExponentRebias) >> 13));
  }
  // <= 2^-25 is at most half the smallest subnormal (2^-24); the tie goes to even, i.e. zero.
  if (magnitude <= 0x33000000u) return sign;

  // Subnormal result: value / 2^-24 = significand * 2^(exponent - 126), a right shift of 14..24.
  const uint32_t exponent = magnitude >> 23;
  const uint32_t significand = (magnitude & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126 - exponent;
  uint32_t quotient = significand >> shift;
  const uint32_t remainder = significand & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  // Round to nearest even; a carry may produce 0x400, which is exactly the least normal f16.
  if (remainder > half || (remainder == half && (quotient & 1u))) ++quotient;
  return static_cast<uint16_t>(sign | quotient);
}

float bf16_to_f32(uint16_t h) { return float_from_bits(static_cast<uint32_t>(h) << 16); }

uint16_t f32_to_bf16(float f) {
  const uint32_t bits = float_bits(f);
  if ((bits & kF32AbsMask) > kF32Infinity) {
    // NaN: truncating could clear every remaining payload bit and make it inf, so force the
    // quiet bit (bit 6 of the bf16 mantissa) instead.
    return static_cast<uint16_t>((bits >> 16) | 0x40u);
  }
  // Round to nearest even at bit 16; subnormals are rounded like any other value (not flushed).
  return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

}  // namespace tessera
