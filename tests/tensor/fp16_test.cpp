// f16 / bf16 scalar conversions: special values, every f16 bit pattern, and (where the CPU has
// F16C) agreement with the hardware conversion ggml uses on x86.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "tensor/quant.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tessera {
namespace {

uint32_t bits_of(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  return bits;
}

float float_of(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

bool is_f16_nan(uint16_t h) { return (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0; }

TEST(Fp16, ConvertsSpecialValuesExactly) {
  EXPECT_EQ(f32_to_f16(0.0f), 0x0000);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xC000);
  EXPECT_EQ(f32_to_f16(0.5f), 0x3800);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);               // largest finite
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);  // least normal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // least subnormal
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(f32_to_f16(-std::numeric_limits<float>::infinity()), 0xFC00);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::denorm_min()), 0x0000);  // f32 subnormal
  EXPECT_EQ(f32_to_f16(-std::numeric_limits<float>::denorm_min()), 0x8000);

  EXPECT_EQ(f16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(bits_of(f16_to_f32(0x8000)), 0x80000000u);
  EXPECT_EQ(f16_to_f32(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(f16_to_f32(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7E00)));
}

TEST(Fp16, RoundsToNearestEvenAtEveryBoundary) {
  // 1 + 2^-11 is exactly between 1 and the next f16 (1 + 2^-10): ties go to the even mantissa.
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(f32_to_f16(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3C01);
  // Overflow: 65519.99 rounds down to 65504, 65520 (the midpoint) rounds to inf.
  EXPECT_EQ(f32_to_f16(std::nextafter(65520.0f, 0.0f)), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);
  EXPECT_EQ(f32_to_f16(1e10f), 0x7C00);
  // Subnormal ties: 2^-25 (half the least subnormal) goes to 0, 3 * 2^-25 to 2 * 2^-24.
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(f32_to_f16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(f32_to_f16(3 * std::ldexp(1.0f, -25)), 0x0002);
  // Largest subnormal + half an ulp rounds up into the least normal.
  EXPECT_EQ(f32_to_f16(std::ldexp(1023.5f, -24)), 0x0400);
}

TEST(Fp16, QuietsNanAndKeepsItsTopPayloadBits) {
  EXPECT_EQ(f32_to_f16(float_of(0x7FC00000u)), 0x7E00);
  EXPECT_EQ(f32_to_f16(float_of(0xFFC00000u)), 0xFE00);
  EXPECT_EQ(f32_to_f16(float_of(0x7F800001u)), 0x7E00);  // payload below f16 precision: still NaN
  EXPECT_EQ(f32_to_f16(float_of(0x7FA02000u)), 0x7F01);  // signaling: quiet bit set, payload kept
  EXPECT_EQ(bits_of(f16_to_f32(0x7C01)), 0x7FC02000u);   // signaling f16 NaN comes back quiet
}

TEST(Fp16, EveryF16BitPatternRoundTrips) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const uint16_t half = static_cast<uint16_t>(h);
    const float value = f16_to_f32(half);
    // A NaN comes back quiet (bit 9 set); every other pattern, including -0, comes back unchanged.
    const uint16_t expected = is_f16_nan(half) ? static_cast<uint16_t>(half | 0x0200u) : half;
    ASSERT_EQ(f32_to_f16(value), expected) << "f16 0x" << std::hex << h;
    if (!is_f16_nan(half)) {
      // The value is exact: f16 -> f32 -> f64 equals the f16 formula evaluated in double.
      const int exponent = (h >> 10) & 0x1F;
      const int mantissa = h & 0x3FF;
      const double magnitude = exponent == 0x1F ? INFINITY
                               : exponent == 0  ? std::ldexp(mantissa, -24)
                                                : std::ldexp(1024 + mantissa, exponent - 25);
      ASSERT_EQ(static_cast<double>(value), (h & 0x8000) ? -magnitude : magnitude)
          << "f16 0x" << std::hex << h;
    }
  }
}

#if defined(__x86_64__)
__attribute__((target("f16c"))) uint16_t hardware_f32_to_f16(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, 0));  // 0 = round to nearest even
}
__attribute__((target("f16c"))) float hardware_f16_to_f32(uint16_t h) { return _cvtsh_ss(h); }

TEST(Fp16, MatchesF16cHardwareConversion) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "CPU has no F16C";
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    ASSERT_EQ(bits_of(f16_to_f32(static_cast<uint16_t>(h))),
              bits_of(hardware_f16_to_f32(static_cast<uint16_t>(h))))
        << "f16 0x" << std::hex << h;
  }
  // Every f32 that lies within a few ulps of an f16 rounding boundary (the midpoints between
  // neighbouring f16 values, both signs), plus a coarse sweep over all 2^32 patterns.
  for (uint32_t h = 0; h < 0x7C00; ++h) {
    const float low = f16_to_f32(static_cast<uint16_t>(h));
    const float high = f16_to_f32(static_cast<uint16_t>(h + 1));
    const uint32_t midpoint = bits_of(low + (high - low) / 2);  // exact: one more bit than f16
    for (uint32_t bits = midpoint - 3; bits <= midpoint + 3; ++bits) {
      for (uint32_t sign : {0u, 0x80000000u}) {
        const float f = float_of(bits | sign);
        ASSERT_EQ(f32_to_f16(f), hardware_f32_to_f16(f)) << "f32 0x" << std::hex << (bits | sign);
      }
    }
  }
  for (uint64_t bits = 0; bits <= 0xFFFFFFFFull; bits += 4093) {
    const float f = float_of(static_cast<uint32_t>(bits));
    ASSERT_EQ(f32_to_f16(f), hardware_f32_to_f16(f)) << "f32 0x" << std::hex << bits;
  }
}
#endif

TEST(Bf16, ConvertsSpecialValuesAndRoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(f32_to_bf16(float_of(0x3F808000u)), 0x3F80);  // tie, even stays
  EXPECT_EQ(f32_to_bf16(float_of(0x3F818000u)), 0x3F82);  // tie, odd rounds up
  EXPECT_EQ(f32_to_bf16(float_of(0x3F808001u)), 0x3F81);
  EXPECT_EQ(f32_to_bf16(float_of(0x7F7FFFFFu)), 0x7F80);  // FLT_MAX rounds to inf
  EXPECT_EQ(f32_to_bf16(float_of(0x00018000u)), 0x0002);  // subnormals round, not flush
  EXPECT_EQ(f32_to_bf16(float_of(0x7F800001u)), 0x7FC0);  // NaN stays NaN (quiet bit forced)
  EXPECT_EQ(f32_to_bf16(float_of(0xFFC00000u)), 0xFFC0);
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(bits_of(bf16_to_f32(0x8001)), 0x80010000u);
}

TEST(Bf16, EveryBf16BitPatternRoundTrips) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const uint16_t brain = static_cast<uint16_t>(h);
    const bool is_nan = (h & 0x7F80u) == 0x7F80u && (h & 0x7Fu) != 0;
    const uint16_t expected = is_nan ? static_cast<uint16_t>(brain | 0x40u) : brain;
    ASSERT_EQ(f32_to_bf16(bf16_to_f32(brain)), expected) << "bf16 0x" << std::hex << h;
    ASSERT_EQ(bits_of(bf16_to_f32(brain)), h << 16);
  }
}

}  // namespace
}  // namespace tessera
