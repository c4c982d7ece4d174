// Reference quantizers, dequantizers and dot products of every DType: block layouts, decoding of
// hand-built blocks, quantization error bounds, and vec_dot_ref against dequantize-then-dot.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

namespace tessera {
namespace {

constexpr DType kAllTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ4_0, DType::kQ4_1,
                               DType::kQ5_0, DType::kQ5_1, DType::kQ8_0, DType::kQ8_1, DType::kQ2_K,
                               DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kQ8_K};

std::vector<float> gaussian_values(int64_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> values(static_cast<size_t>(n));
  for (float& v : values) v = normal(rng);
  return values;
}

std::vector<uint8_t> quantize(DType type, const std::vector<float>& values) {
  const int64_t n = static_cast<int64_t>(values.size());
  std::vector<uint8_t> bytes(row_bytes(type, n));
  quantize_row_ref(type, values.data(), bytes.data(), n);
  return bytes;
}

std::vector<float> dequantize(DType type, const std::vector<uint8_t>& bytes, int64_t n) {
  std::vector<float> values(static_cast<size_t>(n));
  dequantize_row_ref(type, bytes.data(), values.data(), n);
  return values;
}

std::string name_of(DType type) { return std::string(dtype_name(type)); }

TEST(QuantBlocks, SizesMatchDTypeTraits) {
  EXPECT_EQ(sizeof(BlockQ4_0), traits(DType::kQ4_0).block_bytes);
  EXPECT_EQ(sizeof(BlockQ4_1), traits(DType::kQ4_1).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5_0), traits(DType::kQ5_0).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5_1), traits(DType::kQ5_1).block_bytes);
  EXPECT_EQ(sizeof(BlockQ8_0), traits(DType::kQ8_0).block_bytes);
  EXPECT_EQ(sizeof(BlockQ8_1), traits(DType::kQ8_1).block_bytes);
  EXPECT_EQ(sizeof(BlockQ2_K), traits(DType::kQ2_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ3_K), traits(DType::kQ3_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ4_K), traits(DType::kQ4_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5_K), traits(DType::kQ5_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ6_K), traits(DType::kQ6_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ8_K), traits(DType::kQ8_K).block_bytes);
  for (DType type : {DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kQ8_K}) {
    EXPECT_EQ(dtype_block_size(type), kQK_K) << name_of(type);
  }
}

TEST(QuantVecDotType, FollowsGgmlCpuTable) {
  EXPECT_EQ(vec_dot_type(DType::kF32), DType::kF32);
  EXPECT_EQ(vec_dot_type(DType::kF16), DType::kF16);
  EXPECT_EQ(vec_dot_type(DType::kBF16), DType::kBF16);
  EXPECT_EQ(vec_dot_type(DType::kQ4_0), DType::kQ8_0);
  EXPECT_EQ(vec_dot_type(DType::kQ5_0), DType::kQ8_0);
  EXPECT_EQ(vec_dot_type(DType::kQ8_0), DType::kQ8_0);
  EXPECT_EQ(vec_dot_type(DType::kQ4_1), DType::kQ8_1);
  EXPECT_EQ(vec_dot_type(DType::kQ5_1), DType::kQ8_1);
  for (DType type : {DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    EXPECT_EQ(vec_dot_type(type), DType::kQ8_K) << name_of(type);
  }
}

// ---- Decoding hand-built blocks (expected values worked out by hand from the layouts) ---------

TEST(QuantDequantize, DecodesHandBuiltLegacyBlocks) {
  BlockQ4_0 q4_0{};
  q4_0.d = 0x3800;  // 0.5
  for (int j = 0; j < 16; ++j) q4_0.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float out[32];
  dequantize_row_ref(DType::kQ4_0, &q4_0, out, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], (j - 8) * 0.5f);
    EXPECT_EQ(out[j + 16], (7 - j) * 0.5f);
  }

  BlockQ4_1 q4_1{};
  q4_1.d = 0x3400;  // 0.25
  q4_1.m = 0xBC00;  // -1
  for (int j = 0; j < 16; ++j) q4_1.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  dequantize_row_ref(DType::kQ4_1, &q4_1, out, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], j * 0.25f - 1);
    EXPECT_EQ(out[j + 16], (15 - j) * 0.25f - 1);
  }

  BlockQ5_0 q5_0{};
  q5_0.d = 0x3C00;  // 1
  std::fill(std::begin(q5_0.qs), std::end(q5_0.qs), uint8_t{0x5A});
  const uint8_t high_bits_0_and_31[4] = {0x01, 0x00, 0x00, 0x80};
  std::memcpy(q5_0.qh, high_bits_0_and_31, 4);
  dequantize_row_ref(DType::kQ5_0, &q5_0, out, 32);
  EXPECT_EQ(out[0], 10.0f);    // 0xA | 16 = 26, - 16
  EXPECT_EQ(out[1], -6.0f);    // 0xA - 16
  EXPECT_EQ(out[16], -11.0f);  // 0x5 - 16
  EXPECT_EQ(out[31], 5.0f);    // 0x5 | 16 = 21, - 16

  BlockQ5_1 q5_1{};
  q5_1.d = 0x3800;  // 0.5
  q5_1.m = 0x4000;  // 2
  std::fill(std::begin(q5_1.qs), std::end(q5_1.qs), uint8_t{0x5A});
  const uint8_t high_bits_1_and_16[4] = {0x02, 0x00, 0x01, 0x00};
  std::memcpy(q5_1.qh, high_bits_1_and_16, 4);
  dequantize_row_ref(DType::kQ5_1, &q5_1, out, 32);
  EXPECT_EQ(out[0], 7.0f);    // 10 * 0.5 + 2
  EXPECT_EQ(out[1], 15.0f);   // 26 * 0.5 + 2
  EXPECT_EQ(out[16], 12.5f);  // 21 * 0.5 + 2
  EXPECT_EQ(out[17], 4.5f);   // 5 * 0.5 + 2

  BlockQ8_0 q8_0{};
  q8_0.d = 0x4000;  // 2
  for (int j = 0; j < 32; ++j) q8_0.qs[j] = static_cast<int8_t>(j - 16);
  dequantize_row_ref(DType::kQ8_0, &q8_0, out, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], 2.0f * (j - 16));

  BlockQ8_1 q8_1{};
  q8_1.d = 0x3800;  // 0.5
  q8_1.s = 0x7BFF;  // not used by decoding
  for (int j = 0; j < 32; ++j) q8_1.qs[j] = static_cast<int8_t>(127 - 8 * j);
  dequantize_row_ref(DType::kQ8_1, &q8_1, out, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], 0.5f * (127 - 8 * j));
}

TEST(QuantDequantize, DecodesHandBuiltQ2_KAndQ3_KBlocks) {
  float out[kQK_K];
  BlockQ2_K q2{};
  q2.d = 0x3800;                                                                          // 0.5
  q2.dmin = 0x3400;                                                                       // 0.25
  for (int g = 0; g < 16; ++g) q2.scales[g] = static_cast<uint8_t>(g | ((15 - g) << 4));  // scale g, min 15-g
  q2.qs[32 + 5] = 0xE4;  // bits 3,2,1,0 (from the top): elements 133, 165, 197, 229 get quants 0, 1, 2, 3
  dequantize_row_ref(DType::kQ2_K, &q2, out, kQK_K);
  EXPECT_EQ(out[133], -1.75f);  // group 8: 0.5*8*0 - 0.25*7
  EXPECT_EQ(out[165], 3.75f);   // group 10: 0.5*10*1 - 0.25*5
  EXPECT_EQ(out[197], 11.25f);  // group 12: 0.5*12*2 - 0.25*3
  EXPECT_EQ(out[229], 20.75f);  // group 14: 0.5*14*3 - 0.25*1
  EXPECT_EQ(out[0], -3.75f);    // group 0, quant 0: -0.25*15

  BlockQ3_K q3{};
  q3.d = 0x3C00;  // 1
  // Group 0: 6-bit value 40 (scale 8) = low nibble 8 in scales[0], high bits 2 in scales[8] bits 0..1.
  // Group 13: value 5 (scale -27) = high nibble 5 of scales[5], high bits 0 (scales[9] bits 6..7).
  q3.scales[0] = 0x08;
  q3.scales[5] = 0x50;
  q3.scales[8] = 0x02;
  q3.qs[0] = 0x01;        // element 0: low bits 1
  q3.hmask[0] = 0x01;     // element 0: high bit set, so quant = 1
  q3.qs[32 + 19] = 0x30;  // element 211 = 128 + 64 + 19: low bits 3 (bits 4..5)
  q3.hmask[19] = 1 << 6;  // element 211 = 32*6 + 19: high bit set, so quant = 3
  dequantize_row_ref(DType::kQ3_K, &q3, out, kQK_K);
  EXPECT_EQ(out[0], 8.0f);      // 8 * 1
  EXPECT_EQ(out[1], -32.0f);    // 8 * (0 - 4): no high bit means -4
  EXPECT_EQ(out[211], -81.0f);  // -27 * 3
  EXPECT_EQ(out[212], 108.0f);  // -27 * -4
  EXPECT_EQ(out[16], 128.0f);   // group 1: value 0, scale -32, quant -4
}

TEST(QuantDequantize, DecodesHandBuiltQ4_KQ5_KQ6_KQ8_KBlocks) {
  float out[kQK_K];
  // Group 1: scale 3, min 7 (6 low bits of scales[1] and scales[5]).
  // Group 5: scale 37 = 0b10'0101, min 22 = 0b01'0110: nibbles in scales[9] = 0x65, top bits in
  // bits 6..7 of scales[1] (scale) and scales[5] (min).
  const uint8_t k4_scales[12] = {0, 0x83, 0, 0, 0, 0x47, 0, 0, 0, 0x65, 0, 0};
  BlockQ4_K q4{};
  q4.d = 0x3C00;     // 1
  q4.dmin = 0x3800;  // 0.5
  std::memcpy(q4.scales, k4_scales, 12);
  q4.qs[64 + 3] = 0x90;  // element 163 = 128 + 32 + 3: high nibble 9
  q4.qs[4] = 0xF0;       // element 36 = 32 + 4: high nibble 15; element 4: low nibble 0
  dequantize_row_ref(DType::kQ4_K, &q4, out, kQK_K);
  EXPECT_EQ(out[163], 322.0f);  // 37*9 - 0.5*22
  EXPECT_EQ(out[36], 41.5f);    // 3*15 - 0.5*7
  EXPECT_EQ(out[4], 0.0f);      // group 0: scale 0, min 0

  BlockQ5_K q5{};
  q5.d = 0x3C00;
  q5.dmin = 0x3800;
  std::memcpy(q5.scales, k4_scales, 12);
  q5.qs[64 + 3] = 0x90;
  q5.qs[4] = 0xF0;
  q5.qh[3] = 1 << 5;  // element 163 = 32*5 + 3: 5th bit set, quant 9 + 16
  dequantize_row_ref(DType::kQ5_K, &q5, out, kQK_K);
  EXPECT_EQ(out[163], 914.0f);  // 37*25 - 11
  EXPECT_EQ(out[36], 41.5f);

  BlockQ6_K q6{};
  q6.d = 0x3800;  // 0.5
  q6.scales[3] = -2;
  q6.scales[10] = 5;
  q6.ql[48] = 0x0A;       // element 48 (group 3): low nibble 10
  q6.qh[16] = 0x0C;       // element 48 = 32 + 16: high bits 3 (bits 2..3)
  q6.ql[64 + 42] = 0x03;  // element 170 = 128 + 42 (group 10): low nibble 3, high bits 0
  dequantize_row_ref(DType::kQ6_K, &q6, out, kQK_K);
  EXPECT_EQ(out[48], -26.0f);   // 0.5 * -2 * (58 - 32)
  EXPECT_EQ(out[170], -72.5f);  // 0.5 * 5 * (3 - 32)

  BlockQ8_K q8{};
  q8.d = 0.25f;
  for (int j = 0; j < kQK_K; ++j) q8.qs[j] = static_cast<int8_t>(j - 128);
  dequantize_row_ref(DType::kQ8_K, &q8, out, kQK_K);
  for (int j = 0; j < kQK_K; ++j) EXPECT_EQ(out[j], 0.25f * (j - 128));
}

TEST(QuantDequantize, DecodesPlainFloatTypes) {
  const uint16_t halves[4] = {0x3C00, 0xC000, 0x3555, 0x0001};
  float out[4];
  dequantize_row_ref(DType::kF16, halves, out, 4);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], 0.333251953125f);
  EXPECT_EQ(out[3], std::ldexp(1.0f, -24));
  const uint16_t brains[2] = {0x3F80, 0xC0A0};
  dequantize_row_ref(DType::kBF16, brains, out, 2);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -5.0f);
  const float floats[2] = {1.5f, -0.0f};
  dequantize_row_ref(DType::kF32, floats, out, 2);
  EXPECT_EQ(out[0], 1.5f);
  EXPECT_EQ(std::signbit(out[1]), true);
}

// ---- Round trip: quantize then dequantize -----------------------------------------------------

// Relative RMS error bound, rms(x - dequantize(quantize(x))) / rms(x), for N(0, 1) data. Each bound
// is about 1.25x the worst value measured over the cases below (seeds 1..3, rows of 256..4096; e.g.
// q4_0 0.088, q8_0 0.0055, q2_K 0.31, q3_K 0.15, q4_K 0.074, q5_K 0.037, q6_K 0.018, q8_K 0.0073):
// they fall by ~2x per extra bit, as uniform rounding error (step / sqrt(12)) predicts.
double relative_rms_bound(DType type) {
  switch (type) {
    case DType::kF32:
      return 0.0;
    case DType::kF16:
      return 2.6e-4;  // rounding of at most 2^-11 relative
    case DType::kBF16:
      return 2.2e-3;  // rounding of at most 2^-8 relative
    case DType::kQ4_0:
      return 0.11;
    case DType::kQ4_1:
      return 0.10;
    case DType::kQ5_0:
      return 0.056;
    case DType::kQ5_1:
      return 0.05;
    case DType::kQ8_0:
      return 0.007;
    case DType::kQ8_1:
      return 0.007;
    case DType::kQ2_K:
      return 0.39;
    case DType::kQ3_K:
      return 0.19;
    case DType::kQ4_K:
      return 0.093;
    case DType::kQ5_K:
      return 0.046;
    case DType::kQ6_K:
      return 0.023;
    case DType::kQ8_K:
      return 0.0092;  // one scale per 256: larger amax than Q8_0's 32
  }
  return 0.0;
}

TEST(QuantRoundTrip, ErrorIsWithinEachTypesPrecision) {
  for (DType type : kAllTypes) {
    for (int64_t n : {256, 512, 1024, 4096}) {
      for (uint32_t seed : {1u, 2u, 3u}) {
        const std::vector<float> x = gaussian_values(n, seed);
        const std::vector<float> y = dequantize(type, quantize(type, x), n);
        double error2 = 0, signal2 = 0;
        for (int64_t i = 0; i < n; ++i) {
          error2 += (x[i] - y[i]) * static_cast<double>(x[i] - y[i]);
          signal2 += x[i] * static_cast<double>(x[i]);
        }
        EXPECT_LE(std::sqrt(error2 / signal2), relative_rms_bound(type))
            << name_of(type) << " n=" << n << " seed=" << seed;
      }
    }
  }
}

// The legacy formats also have a hard per-element bound: half a step (a full step for the clamped
// top level of Q4_0/Q5_0), plus the f16 rounding of the scale and offset.
TEST(QuantRoundTrip, LegacyFormatsStayWithinHalfAStepPerElement) {
  const std::vector<float> x = gaussian_values(4096, 7);
  const struct {
    DType type;
    double max_error_in_steps;  // per element, in units of the block's ideal step
    bool symmetric;             // step = amax / levels; otherwise (max - min) / levels
    int levels;
  } cases[] = {{DType::kQ4_0, 1.0, true, 8},   {DType::kQ5_0, 1.0, true, 16},
               {DType::kQ8_0, 0.5, true, 127}, {DType::kQ8_1, 0.5, true, 127},
               {DType::kQ4_1, 0.5, false, 15}, {DType::kQ5_1, 0.5, false, 31}};
  for (const auto& c : cases) {
    const std::vector<float> y = dequantize(c.type, quantize(c.type, x), 4096);
    for (int b = 0; b < 4096 / 32; ++b) {
      float lo = x[32 * b], hi = x[32 * b], amax = 0;
      for (int j = 0; j < 32; ++j) {
        lo = std::min(lo, x[32 * b + j]);
        hi = std::max(hi, x[32 * b + j]);
        amax = std::max(amax, std::fabs(x[32 * b + j]));
      }
      const double step = c.symmetric ? amax / c.levels : (hi - lo) / c.levels;
      // f16 scale: relative error 2^-11 on up to `levels` steps; f16 offset: 2^-11 of |min|.
      const double f16_slack = std::ldexp(1.0, -11) * (c.levels * step + std::fabs(lo));
      for (int j = 0; j < 32; ++j) {
        const int i = 32 * b + j;
        ASSERT_LE(std::fabs(x[i] - y[i]), c.max_error_in_steps * step + f16_slack + 1e-7)
            << name_of(c.type) << " element " << i;
      }
    }
  }
}

TEST(QuantRoundTrip, AllZeroRowsStayZero) {
  for (DType type : kAllTypes) {
    const std::vector<float> zeros(512, 0.0f);
    const std::vector<float> y = dequantize(type, quantize(type, zeros), 512);
    for (float v : y) ASSERT_EQ(v, 0.0f) << name_of(type);
  }
}

TEST(QuantRoundTrip, ExactlyRepresentableRowsAreKept) {
  // Multiples of 0.25 in [-2, 1.75], -2 in every block: the scales come out exact powers of two
  // (Q4_0: -2 / -8, Q5_0: -2 / -16, Q4_1: 3.75 / 15 with offset -2), so every value is a level.
  std::vector<float> x(256);
  for (int i = 0; i < 256; ++i) x[i] = 0.25f * static_cast<float>((i * 7) % 16 - 8);
  for (DType type : {DType::kF16, DType::kBF16, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0}) {
    const std::vector<float> y = dequantize(type, quantize(type, x), 256);
    for (int i = 0; i < 256; ++i) ASSERT_EQ(y[i], x[i]) << name_of(type) << " element " << i;
  }
}

// ---- vec_dot_ref against dequantize-then-dot --------------------------------------------------

TEST(QuantVecDot, MatchesDotOfDequantizedRowsForEveryWeightType) {
  for (DType type : kAllTypes) {
    const DType act_type = vec_dot_type(type);
    for (int64_t n : {256, 512, 1024, 4096}) {
      const std::vector<float> w = gaussian_values(n, 11 + static_cast<uint32_t>(n));
      const std::vector<float> a = gaussian_values(n, 23 + static_cast<uint32_t>(n), 3.0f);
      const std::vector<uint8_t> w_bytes = quantize(type, w);
      const std::vector<uint8_t> a_bytes = quantize(act_type, a);
      const std::vector<float> w_values = dequantize(type, w_bytes, n);
      const std::vector<float> a_values = dequantize(act_type, a_bytes, n);
      double expected = 0, magnitude = 0;
      for (int64_t i = 0; i < n; ++i) {
        expected += static_cast<double>(w_values[i]) * a_values[i];
        magnitude += std::fabs(static_cast<double>(w_values[i]) * a_values[i]);
      }
      if (type == DType::kQ4_1 || type == DType::kQ5_1) {
        // These apply their offset m through the activation's stored s = f16(d * sum(qs)), which
        // is rounded; add what that rounding contributes so the comparison stays exact.
        const auto* a_blocks = reinterpret_cast<const BlockQ8_1*>(a_bytes.data());
        for (int64_t b = 0; b < n / 32; ++b) {
          const uint16_t m = type == DType::kQ4_1 ? reinterpret_cast<const BlockQ4_1*>(w_bytes.data())[b].m
                                                  : reinterpret_cast<const BlockQ5_1*>(w_bytes.data())[b].m;
          int sum_qs = 0;
          for (int j = 0; j < 32; ++j) sum_qs += a_blocks[b].qs[j];
          const double s_exact = static_cast<double>(f16_to_f32(a_blocks[b].d)) * sum_qs;
          expected += static_cast<double>(f16_to_f32(m)) * (f16_to_f32(a_blocks[b].s) - s_exact);
        }
      }
      const float got = vec_dot_ref(type, n, w_bytes.data(), a_bytes.data());
      EXPECT_NEAR(got, expected, 1e-5 * magnitude) << name_of(type) << " n=" << n;
    }
  }
}

TEST(QuantVecDot, IsCloseToTheExactFloatDotProduct) {
  // End to end (weight and activation quantization included) the k-quants and legacy formats must
  // still track the f32 dot product; bound = a few times each type's RMS error times |w||a|.
  const int64_t n = 4096;
  const std::vector<float> w = gaussian_values(n, 5);
  const std::vector<float> a = gaussian_values(n, 6);
  double exact = 0, norm_w = 0, norm_a = 0;
  for (int64_t i = 0; i < n; ++i) {
    exact += static_cast<double>(w[i]) * a[i];
    norm_w += static_cast<double>(w[i]) * w[i];
    norm_a += static_cast<double>(a[i]) * a[i];
  }
  const double norms = std::sqrt(norm_w * norm_a);
  for (DType type : kAllTypes) {
    const float got = vec_dot_ref(type, n, quantize(type, w).data(), quantize(vec_dot_type(type), a).data());
    const double bound =
        3 * (relative_rms_bound(type) + relative_rms_bound(vec_dot_type(type))) * norms / std::sqrt(n) + 1e-3;
    EXPECT_NEAR(got, exact, bound) << name_of(type);
  }
}

}  // namespace
}  // namespace tessera
