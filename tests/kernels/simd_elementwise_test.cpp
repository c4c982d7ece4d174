// The SIMD f32 ops of every ISA this CPU supports (KernelTable rms_norm, silu_mul, softmax,
// to_f16, attention_heads) against the scalar reference over many shapes, including sizes that are not
// a multiple of the vector width, extreme inputs for exp, and paged K/V read through a shuffled
// block table with odd block sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/kernel_test_util.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/ref/ref_kernels.h"
#include "tensor/quant.h"

namespace tessera::kernels {
namespace {

using testing::random_vector;
using testing::simd_isas;

// |got - want| <= 2e-6 * (|want| + scale) element by element.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, float scale, const std::string& what,
                  float relative = 2e-6f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_LE(std::fabs(got[i] - want[i]), relative * (std::fabs(want[i]) + scale)) << what << " at " << i;
  }
}

const int64_t kSizes[] = {1, 2, 7, 15, 16, 17, 31, 33, 64, 100, 576, 2048, 5632};

TEST(SimdElementwise, RmsNormMatchesReference) {
  for (Isa isa : simd_isas()) {
    const RmsNormFn fn = kernel_table(isa).rms_norm;
    if (fn == nullptr) continue;
    for (int64_t dim : kSizes) {
      for (int64_t tokens : {1, 3}) {
        const auto x = random_vector(static_cast<size_t>(dim * tokens), static_cast<uint32_t>(dim), 3.0f);
        const auto w = random_vector(static_cast<size_t>(dim), static_cast<uint32_t>(dim + 1));
        std::vector<float> want(x.size()), got(x.size(), NAN);
        ref::rms_norm(x.data(), w.data(), tokens, dim, 1e-5f, want.data());
        fn(x.data(), w.data(), tokens, dim, 1e-5f, got.data());
        expect_close(got, want, 0.0f, std::string(isa_name(isa)) + " rms_norm dim " + std::to_string(dim));
      }
    }
  }
}

TEST(SimdElementwise, SiluMulMatchesReferenceIncludingSaturation) {
  for (Isa isa : simd_isas()) {
    const SiluMulFn fn = kernel_table(isa).silu_mul;
    if (fn == nullptr) continue;
    for (int64_t n : kSizes) {
      auto gate = random_vector(static_cast<size_t>(n), static_cast<uint32_t>(n), 4.0f);
      const auto up = random_vector(static_cast<size_t>(n), static_cast<uint32_t>(n + 7));
      const float extremes[] = {-1000.0f, -100.0f, -88.0f, -20.0f, 0.0f, -0.0f, 20.0f, 88.0f, 100.0f, 1000.0f};
      for (size_t i = 0; i < gate.size() && i < std::size(extremes); ++i) gate[i * 3 % gate.size()] = extremes[i];
      std::vector<float> want(gate.size()), got(gate.size(), NAN);
      ref::silu_mul(gate.data(), up.data(), n, want.data());
      fn(gate.data(), up.data(), n, got.data());
      expect_close(got, want, 1e-30f, std::string(isa_name(isa)) + " silu_mul n " + std::to_string(n));
    }
  }
}

TEST(SimdElementwise, SoftmaxMatchesReference) {
  for (Isa isa : simd_isas()) {
    const SoftmaxFn fn = kernel_table(isa).softmax;
    if (fn == nullptr) continue;
    for (int64_t n : kSizes) {
      for (float spread : {0.1f, 5.0f, 60.0f}) {
        auto want = random_vector(static_cast<size_t>(n), static_cast<uint32_t>(n * 3), spread);
        if (n > 4) want[3] = -INFINITY;  // a masked-out score
        std::vector<float> got = want;
        ref::softmax(want.data(), n);
        fn(got.data(), n);
        expect_close(got, want, 1e-7f, std::string(isa_name(isa)) + " softmax n " + std::to_string(n));
      }
    }
  }
}

TEST(SimdElementwise, ToF16MatchesScalarConversionBitForBit) {
  for (Isa isa : simd_isas()) {
    const ToF16Fn fn = kernel_table(isa).to_f16;
    if (fn == nullptr) continue;
    for (int64_t n : kSizes) {
      auto x = random_vector(static_cast<size_t>(n), static_cast<uint32_t>(n + 11), 3.0f);
      // Ties, subnormals, overflow, infinities and signed zero among ordinary values.
      const float specials[] = {1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 0x1p-20f, -0x1p-24f, 0x1p-26f, 65504.0f,
                                65520.0f, 1e6f, -INFINITY, INFINITY, -0.0f, 0x1.ffep-15f};
      for (size_t i = 0; i < x.size() && i < std::size(specials); ++i) x[i * 5 % x.size()] = specials[i];
      std::vector<uint16_t> got(x.size(), 0xDEAD);
      fn(x.data(), n, got.data());
      for (size_t i = 0; i < x.size(); ++i) {
        ASSERT_EQ(got[i], f32_to_f16(x[i])) << isa_name(isa) << " n " << n << " at " << i << " x " << x[i];
      }
    }
    const float nan = NAN;
    uint16_t h = 0;
    fn(&nan, 1, &h);
    EXPECT_TRUE(std::isnan(f16_to_f32(h))) << isa_name(isa);
  }
}

TEST(SimdElementwise, PagedAttentionHeadMatchesReference) {
  struct Shape {
    int32_t head_dim, num_heads, num_kv_heads, block_size, position;
  };
  const Shape shapes[] = {{8, 8, 4, 16, 0},   {16, 4, 4, 16, 17}, {64, 9, 3, 16, 130}, {64, 32, 4, 16, 63},
                          {64, 32, 2, 16, 40}, {128, 12, 2, 16, 33},
                          {80, 2, 1, 5, 41},  {128, 4, 2, 7, 20}, {17, 3, 1, 3, 10},   {100, 2, 2, 16, 33},
                          {64, 3, 1, 16, 15}, {64, 3, 3, 16, 16}, {64, 6, 2, 7, 47},   {128, 2, 1, 16, 191},
                          {256, 2, 2, 32, 70}, {192, 2, 1, 1, 33},
                          // head_dim % 4 == 2 (the scores' last chains), groups split 4 + 1 / 3 + 2
                          {66, 4, 1, 16, 37}, {70, 5, 1, 9, 50}};
  for (Isa isa : simd_isas()) {
    const AttentionHeadsFn fn = kernel_table(isa).attention_heads;
    if (fn == nullptr) continue;
    uint32_t seed = 1;
    for (const Shape& s : shapes) {
      const int32_t num_blocks = s.position / s.block_size + 3;
      const size_t cache_floats = static_cast<size_t>(num_blocks) * s.block_size * s.num_kv_heads * s.head_dim;
      const auto k = random_vector(cache_floats, seed++), v = random_vector(cache_floats, seed++);
      std::vector<uint16_t> k16(cache_floats), v16(cache_floats);
      for (size_t i = 0; i < cache_floats; ++i) {
        k16[i] = f32_to_f16(k[i]);
        v16[i] = f32_to_f16(v[i]);
      }
      std::vector<int32_t> block_table(static_cast<size_t>(num_blocks));
      std::iota(block_table.begin(), block_table.end(), 0);
      std::shuffle(block_table.begin(), block_table.end(), std::mt19937(seed++));
      const auto q = random_vector(static_cast<size_t>(s.num_heads * s.head_dim), seed++);
      // Every shape full, with a window starting inside the sequence, and soft-capped.
      struct Variant {
        int32_t first_visible;
        float softcap;
      };
      for (const Variant variant : {Variant{0, 0.0f}, Variant{s.position / 2, 0.0f}, Variant{s.position / 3, 2.0f}})
      for (const bool f16 : {false, true}) {  // every shape with an f32 and with an f16 cache
        const PagedKvLayer kv = f16 ? PagedKvLayer{k16.data(), v16.data(), s.block_size, s.num_kv_heads, s.head_dim,
                                                   DType::kF16}
                                    : PagedKvLayer{k.data(), v.data(), s.block_size, s.num_kv_heads, s.head_dim};
        const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
        const int32_t group = s.num_heads / s.num_kv_heads, context = s.position + 1;
        const std::string what = std::string(isa_name(isa)) + " attention head_dim " + std::to_string(s.head_dim) +
                                 " position " + std::to_string(s.position) + (f16 ? " f16 KV" : " f32 KV") +
                                 " first visible " + std::to_string(variant.first_visible) + " softcap " +
                                 std::to_string(variant.softcap);
        // Each head alone against the reference.
        std::vector<float> alone(q.size(), NAN);
        for (int32_t h = 0; h < s.num_heads; ++h) {
          std::vector<float> scores(static_cast<size_t>(context));
          std::vector<float> want(static_cast<size_t>(s.head_dim)), got(want.size(), NAN);
          ref::attention_heads(q.data() + h * s.head_dim, s.position, variant.first_visible, scale, variant.softcap, h,
                               1, s.num_heads, kv, block_table, scores.data(), want.data());
          fn(q.data() + h * s.head_dim, s.position, variant.first_visible, scale, variant.softcap, h, 1, s.num_heads, kv,
             block_table, scores.data(), got.data());
          // An f16 cache rounds the softmax weights to f16: a last-bit softmax difference may move
          // one weight by an f16 ulp (2^-11 relative), so compare at that scale.
          expect_close(got, want, 1.0f, what + " head " + std::to_string(h), f16 ? 1e-3f : 2e-6f);
          std::copy(got.begin(), got.end(), alone.begin() + h * s.head_dim);
        }
        // Whole GQA groups (and a group's tail): bit for bit the heads run alone.
        for (int32_t first = 0; first < s.num_heads; first += group) {
          for (int32_t count : {group, group - 1}) {
            if (count < 1) continue;
            std::vector<float> scores(static_cast<size_t>(count * context));
            std::vector<float> got(static_cast<size_t>(count * s.head_dim), NAN);
            fn(q.data() + first * s.head_dim, s.position, variant.first_visible, scale, variant.softcap, first, count,
               s.num_heads, kv, block_table, scores.data(), got.data());
            for (size_t i = 0; i < got.size(); ++i) {
              ASSERT_EQ(got[i], alone[first * s.head_dim + i]) << what << " group of " << count << " from head " << first;
            }
          }
        }
      }
    }
  }
}

// A q8_0 / q4_0 cache (quantized_kv; K and V of the same or of different types): every ISA
// against the reference, which reads the same
// blocks (q as Q8_0, integer dots per 32-value block, V dequantized). The SIMD kernel sums the
// blocks and the weighted rows in another order (fused multiply-adds), so the comparison is
// at f32 rounding scale, not bit for bit; whole GQA groups are bit for bit the heads alone.
TEST(SimdElementwise, QuantizedKvAttentionMatchesReference) {
  struct Shape {
    int32_t head_dim, num_heads, num_kv_heads, block_size, position;
  };
  const Shape shapes[] = {{32, 4, 4, 16, 0},   {64, 9, 3, 16, 130}, {64, 32, 4, 16, 63}, {96, 6, 2, 7, 47},
                          {128, 12, 2, 16, 33}, {128, 2, 1, 16, 191}, {256, 2, 2, 32, 70}, {160, 5, 1, 3, 20}};
  // K and V types: the same, and the mixes (K the sensitive half: q8_0 K, q4_0 V).
  const std::pair<DType, DType> kv_types[] = {{DType::kQ8_0, DType::kQ8_0},
                                               {DType::kQ4_0, DType::kQ4_0},
                                               {DType::kQ8_0, DType::kQ4_0},
                                               {DType::kQ4_0, DType::kQ8_0}};
  for (const auto& [type, v_type] : kv_types) {
    for (Isa isa : simd_isas()) {
      const AttentionHeadsFn fn = kernel_table(isa).attention_heads;
      if (fn == nullptr) continue;
      uint32_t seed = 7;
      for (const Shape& s : shapes) {
        const int32_t num_blocks = s.position / s.block_size + 3;
        const int64_t rows = static_cast<int64_t>(num_blocks) * s.block_size * s.num_kv_heads;
        const size_t row_size = kv_row_bytes(type, s.head_dim);
        std::vector<uint8_t> k(static_cast<size_t>(rows) * row_size), k_row(row_size);
        std::vector<uint8_t> v(static_cast<size_t>(rows) * kv_row_bytes(v_type, s.head_dim));
        PagedKvLayer kv{k.data(), v.data(), s.block_size, s.num_kv_heads, s.head_dim, type};
        if (v_type != type) kv.v_type = v_type;
        for (int64_t slot = 0; slot < rows / s.num_kv_heads; ++slot) {
          for (int32_t h = 0; h < s.num_kv_heads; ++h) {
            quantize_activation_row(type, random_vector(static_cast<size_t>(s.head_dim), seed++).data(), k_row.data(),
                                    s.head_dim);
            write_quantized_k_row(kv, k.data(), slot, h, k_row.data());
            quantize_activation_row(v_type, random_vector(static_cast<size_t>(s.head_dim), seed++).data(),
                                    v.data() + quantized_v_offset(kv, slot, h), s.head_dim);
          }
        }
        std::vector<int32_t> block_table(static_cast<size_t>(num_blocks));
        std::iota(block_table.begin(), block_table.end(), 0);
        std::shuffle(block_table.begin(), block_table.end(), std::mt19937(seed++));
        const auto q = random_vector(static_cast<size_t>(s.num_heads * s.head_dim), seed++);
        const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
        const int32_t group = s.num_heads / s.num_kv_heads, context = s.position + 1;
        for (const int32_t first_visible : {0, s.position / 2}) {
          for (const float softcap : {0.0f, 2.0f}) {
            const std::string what = std::string(isa_name(isa)) + " " + std::string(dtype_name(type)) + "/" +
                                     std::string(dtype_name(v_type)) + " attention head_dim " + std::to_string(s.head_dim) + " position " +
                                     std::to_string(s.position) + " first visible " + std::to_string(first_visible) +
                                     " softcap " + std::to_string(softcap);
            std::vector<float> alone(q.size(), NAN);
            for (int32_t h = 0; h < s.num_heads; ++h) {
              std::vector<float> scores(static_cast<size_t>(context));
              std::vector<float> want(static_cast<size_t>(s.head_dim)), got(want.size(), NAN);
              ref::attention_heads(q.data() + h * s.head_dim, s.position, first_visible, scale, softcap, h, 1,
                                   s.num_heads, kv, block_table, scores.data(), want.data());
              fn(q.data() + h * s.head_dim, s.position, first_visible, scale, softcap, h, 1, s.num_heads, kv,
                 block_table, scores.data(), got.data());
              expect_close(got, want, 1.0f, what + " head " + std::to_string(h), 2e-5f);
              std::copy(got.begin(), got.end(), alone.begin() + h * s.head_dim);
            }
            for (int32_t first = 0; first < s.num_heads; first += group) {
              std::vector<float> scores(static_cast<size_t>(group * context));
              std::vector<float> got(static_cast<size_t>(group * s.head_dim), NAN);
              fn(q.data() + first * s.head_dim, s.position, first_visible, scale, softcap, first, group, s.num_heads,
                 kv, block_table, scores.data(), got.data());
              for (size_t i = 0; i < got.size(); ++i) {
                ASSERT_EQ(got[i], alone[first * s.head_dim + i]) << what << " group from head " << first;
              }
            }
          }
        }
      }
    }
  }
}

// The quantized reference is the f32 reference over the dequantized cache and a Q8_0 query, up
// to the order of the sums.
TEST(SimdElementwise, QuantizedKvReferenceIsDequantizedAttention) {
  const int32_t head_dim = 64, num_heads = 4, num_kv_heads = 2, block_size = 16, position = 40, num_blocks = 3;
  const int64_t rows = static_cast<int64_t>(num_blocks) * block_size * num_kv_heads;
  for (const DType type : {DType::kQ8_0, DType::kQ4_0}) {
    const size_t row_size = kv_row_bytes(type, head_dim);
    std::vector<uint8_t> k(static_cast<size_t>(rows) * row_size), v(k.size());
    // The f32 layout of the same values: K dimension-major, V position-major (PagedKvLayer).
    std::vector<float> k32(static_cast<size_t>(rows * head_dim)), v32(k32.size());
    const PagedKvLayer qkv{k.data(), v.data(), block_size, num_kv_heads, head_dim, type};
    const PagedKvLayer fkv{k32.data(), v32.data(), block_size, num_kv_heads, head_dim};
    uint32_t seed = 3;
    std::vector<float> row(static_cast<size_t>(head_dim));
    for (int64_t slot = 0; slot < static_cast<int64_t>(num_blocks) * block_size; ++slot) {
      for (int32_t h = 0; h < num_kv_heads; ++h) {
        const int64_t at = quantized_v_offset(qkv, slot, h);
        std::vector<uint8_t> k_row(row_size);
        quantize_activation_row(type, random_vector(row.size(), seed++).data(), k_row.data(), head_dim);
        write_quantized_k_row(qkv, k.data(), slot, h, k_row.data());
        quantize_activation_row(type, random_vector(row.size(), seed++).data(), v.data() + at, head_dim);
        dequantize_row_ref(type, k_row.data(), row.data(), head_dim);
        for (int32_t d = 0; d < head_dim; ++d) k32[static_cast<size_t>(k_slot_offset(fkv, slot, h) + d * block_size)] = row[d];
        dequantize_row_ref(type, v.data() + at, v32.data() + v_slot_offset(fkv, slot, h), head_dim);
      }
    }
    const std::vector<int32_t> block_table = {2, 0, 1};
    auto q = random_vector(static_cast<size_t>(num_heads * head_dim), seed++);
    std::vector<uint8_t> q8(row_bytes(DType::kQ8_0, head_dim));
    for (int32_t h = 0; h < num_heads; ++h) {  // the query as the quantized path sees it
      quantize_activation_row(DType::kQ8_0, q.data() + h * head_dim, q8.data(), head_dim);
      dequantize_row_ref(DType::kQ8_0, q8.data(), q.data() + h * head_dim, head_dim);
    }
    for (int32_t h = 0; h < num_heads; ++h) {
      std::vector<float> scores(position + 1), want(head_dim), got(head_dim);
      ref::attention_heads(q.data() + h * head_dim, position, 0, 0.125f, 0.0f, h, 1, num_heads, fkv, block_table,
                           scores.data(), want.data());
      ref::attention_heads(q.data() + h * head_dim, position, 0, 0.125f, 0.0f, h, 1, num_heads, qkv, block_table,
                           scores.data(), got.data());
      expect_close(got, want, 1.0f, std::string(dtype_name(type)) + " head " + std::to_string(h), 1e-5f);
    }
  }
}

}  // namespace
}  // namespace tessera::kernels
