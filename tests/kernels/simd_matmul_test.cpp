// The SIMD KernelTable entries of every ISA this CPU supports against the scalar reference:
// matmul_rows over many shapes (float summation order differs, so a relative tolerance of the
// sum of |w * a|), and quantize_activation bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/kernel_test_util.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/ref/ref_kernels.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

namespace tessera::kernels {
namespace {

using testing::random_vector;
using testing::simd_isas;

const DType kWeightTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ4_0, DType::kQ4_1,
                              DType::kQ5_0, DType::kQ5_1, DType::kQ8_0};

// Runs one shape through `fn` and the reference; checks every output element.
void check_shape(Isa isa, DType type, MatmulRowsFn fn, int64_t rows, int64_t cols, int64_t tokens, uint32_t seed) {
  const DType act_type = vec_dot_type(type);
  const std::vector<float> w_f32 = random_vector(static_cast<size_t>(rows * cols), seed);
  const std::vector<float> x_f32 = random_vector(static_cast<size_t>(tokens * cols), seed + 1);
  const size_t w_row_bytes = row_bytes(type, cols);
  const size_t x_row_bytes = row_bytes(act_type, cols);
  std::vector<uint8_t> w(w_row_bytes * rows), x(x_row_bytes * tokens);
  for (int64_t r = 0; r < rows; ++r) quantize_row_ref(type, &w_f32[r * cols], &w[r * w_row_bytes], cols);
  for (int64_t t = 0; t < tokens; ++t) quantize_activation_row(act_type, &x_f32[t * cols], &x[t * x_row_bytes], cols);
  // The values the kernels actually multiply, for the error bound.
  std::vector<float> w_values(static_cast<size_t>(rows * cols)), x_values(static_cast<size_t>(tokens * cols));
  for (int64_t r = 0; r < rows; ++r) dequantize_row_ref(type, &w[r * w_row_bytes], &w_values[r * cols], cols);
  for (int64_t t = 0; t < tokens; ++t) dequantize_row_ref(act_type, &x[t * x_row_bytes], &x_values[t * cols], cols);

  const MatrixView weight{type, rows, cols, w.data(), w_row_bytes};
  std::vector<float> expected(static_cast<size_t>(rows * tokens)), actual(expected.size(), NAN);
  ref::matmul_rows(weight, x.data(), x_row_bytes, tokens, 0, rows, expected.data());
  // Two row ranges, so a range not starting at 0 is covered too.
  const int64_t split = rows / 3;
  fn(weight, x.data(), x_row_bytes, tokens, 0, split, actual.data());
  fn(weight, x.data(), x_row_bytes, tokens, split, rows, actual.data());
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      double magnitude = 0.0;
      for (int64_t c = 0; c < cols; ++c) magnitude += std::fabs(static_cast<double>(w_values[r * cols + c]) * x_values[t * cols + c]);
      const float got = actual[t * rows + r], want = expected[t * rows + r];
      ASSERT_LE(std::fabs(static_cast<double>(got) - want), 1e-5 * magnitude + 1e-30)
          << isa_name(isa) << " " << dtype_name(type) << " rows " << rows << " cols " << cols << " tokens " << tokens
          << " at token " << t << " row " << r << ": got " << got << " want " << want;
    }
  }
}

TEST(SimdMatmul, EveryImplementedTypeMatchesReference) {
  const int64_t row_counts[] = {1, 2, 3, 4, 5, 7, 8, 13, 67};
  const int64_t col_counts[] = {32, 64, 96, 160, 256, 4096};
  int checked = 0;
  for (Isa isa : simd_isas()) {
    const KernelTable& table = kernel_table(isa);
    for (DType type : kWeightTypes) {
      const MatmulRowsFn fn = table.matmul_rows[static_cast<int>(type)];
      if (fn == nullptr) continue;
      uint32_t seed = 1;
      for (int64_t rows : row_counts) {
        for (int64_t cols : col_counts) {
          for (int64_t tokens = 1; tokens <= 9; ++tokens) {
            // Tall and wide shapes only for a few token counts (full tiles, remainders, both):
            // they dominate the run time and add no new code path.
            if (rows > 8 && tokens != 1 && tokens != 4 && tokens != 5 && tokens != 9) continue;
            if (cols == 4096 && rows > 8 && tokens > 1) continue;
            check_shape(isa, type, fn, rows, cols, tokens, seed++);
          }
        }
      }
      ++checked;
    }
  }
  std::printf("[ simd     ] %d (ISA, weight type) kernels checked\n", checked);
}

TEST(SimdMatmul, FloatTypesHandleColumnsOffTheVectorWidth) {
  for (Isa isa : simd_isas()) {
    const KernelTable& table = kernel_table(isa);
    for (DType type : {DType::kF32, DType::kF16, DType::kBF16}) {
      const MatmulRowsFn fn = table.matmul_rows[static_cast<int>(type)];
      if (fn == nullptr) continue;
      for (int64_t cols : {1, 7, 9, 17, 33, 100}) check_shape(isa, type, fn, 6, cols, 5, static_cast<uint32_t>(cols));
    }
  }
}

TEST(SimdQuantizeActivation, BitExactWithQuantizeActivationRow) {
  const int64_t n = 32 * 64;
  std::vector<std::vector<float>> inputs;
  inputs.push_back(random_vector(n, 7));
  inputs.push_back(std::vector<float>(n, 0.0f));
  {
    // Ties: blocks whose amax is 127 (inverse exactly 1) holding k + 0.5 values, and blocks of
    // mixed signed zeros, tiny and huge values.
    std::vector<float> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(i % 64) - 31.5f;
    for (int64_t b = 0; b < n / 32; ++b) v[b * 32] = (b % 2 == 0) ? 127.0f : -127.0f;
    inputs.push_back(v);
    std::vector<float> w(n);
    for (int64_t i = 0; i < n; ++i) {
      const int kind = static_cast<int>(i % 5);
      w[i] = kind == 0 ? -0.0f : kind == 1 ? 1e-30f : kind == 2 ? -3e30f : kind == 3 ? 1e-42f : 0.5f;
    }
    inputs.push_back(w);
    std::vector<float> scaled = random_vector(n, 9);
    for (int64_t i = 0; i < n; ++i) scaled[i] *= 1e-6f * static_cast<float>(1 + i % 97);
    inputs.push_back(scaled);
  }
  {
    // The largest magnitude twice with opposite signs in a 256-block: Q8_K's sign comes from the
    // first. Blocks alternate which sign comes first, and whether both sit in one 8-float group.
    std::vector<float> v = random_vector(n, 11);
    for (int64_t b = 0; b < n / 256; ++b) {
      const float sign = b % 2 == 0 ? 1.0f : -1.0f;
      const bool near = b % 4 < 2;
      v[b * 256 + (near ? 17 : 3)] = 9.0f * sign;
      v[b * 256 + (near ? 22 : 200)] = -9.0f * sign;
    }
    inputs.push_back(v);
  }
  for (Isa isa : simd_isas()) {
    const QuantizeActivationFn fn = kernel_table(isa).quantize_activation;
    if (fn == nullptr) continue;
    for (DType type : {DType::kQ8_0, DType::kQ8_1, DType::kQ8_K, DType::kF16, DType::kBF16}) {
      const bool k_quant = type == DType::kQ8_K;
      for (size_t k = 0; k < inputs.size(); ++k) {
        for (int64_t len : {k_quant ? int64_t{256} : int64_t{32}, k_quant ? int64_t{768} : int64_t{96}, n}) {
          const size_t bytes = row_bytes(type, len);
          std::vector<uint8_t> want(bytes, 0xAB), got(bytes, 0xCD);
          quantize_activation_row(type, inputs[k].data(), want.data(), len);
          fn(type, inputs[k].data(), got.data(), len);
          EXPECT_EQ(0, std::memcmp(want.data(), got.data(), bytes))
              << isa_name(isa) << " " << dtype_name(type) << " input " << k << " length " << len;
        }
      }
    }
  }
}

// Block summaries of Q8_0 rows (random quants, including the extremes -128 and 127, and all-zero
// blocks) exactly as the portable summarize_activation_row.
TEST(SimdSummarizeActivation, MatchesPortableExactly) {
  std::mt19937 rng(11);
  constexpr int64_t kBlocks = 37;
  std::vector<BlockQ8_0> row(kBlocks);
  for (int64_t b = 0; b < kBlocks; ++b) {
    row[b].d = static_cast<uint16_t>(rng());
    for (int8_t& q : row[b].qs) {
      q = b % 5 == 0 ? int8_t{0} : b % 7 == 0 ? int8_t{-128} : b % 11 == 0 ? int8_t{127} : static_cast<int8_t>(rng());
    }
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(row.data());
  std::vector<RepackedActivationBlock> want(kBlocks);
  summarize_activation_row(bytes, kBlocks, want.data());
  int checked = 0;
  for (Isa isa : simd_isas()) {
    const SummarizeActivationFn fn = kernel_table(isa).summarize_activation;
    if (fn == nullptr) continue;
    std::vector<RepackedActivationBlock> got(kBlocks, {NAN, -1});
    fn(bytes, kBlocks, got.data());
    for (int64_t b = 0; b < kBlocks; ++b) {
      EXPECT_EQ(want[b].quant_sum, got[b].quant_sum) << isa_name(isa) << " block " << b;
      EXPECT_EQ(std::memcmp(&want[b].scale, &got[b].scale, sizeof(float)), 0) << isa_name(isa) << " block " << b;
    }
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "no SIMD ISA with a summarize_activation kernel on this CPU";
}

// Q8_K over many random blocks of several magnitudes: enough products land next to a rounding
// tie that a fused multiply-add (one rounding instead of the reference's two) changes some quants
// (an FMA-contracted build gave 4 and 8 differing blocks of these 20000 on AVX2 and AVX-512).
TEST(SimdQuantizeActivation, Q8KBitExactOverManyBlocks) {
  std::mt19937 rng(5);
  for (Isa isa : simd_isas()) {
    const QuantizeActivationFn fn = kernel_table(isa).quantize_activation;
    if (fn == nullptr) continue;
    int differing = 0;
    std::vector<float> x(kQK_K);
    for (int i = 0; i < 20000; ++i) {
      std::normal_distribution<float> dist(0.0f, i % 7 == 0 ? 1e-3f : i % 5 == 0 ? 30.0f : 1.0f);
      for (float& v : x) v = dist(rng);
      BlockQ8_K want, got;
      std::memset(&want, 1, sizeof(want));
      std::memset(&got, 2, sizeof(got));
      quantize_activation_row(DType::kQ8_K, x.data(), &want, kQK_K);
      fn(DType::kQ8_K, x.data(), &got, kQK_K);
      differing += std::memcmp(&want, &got, sizeof(want)) != 0;
    }
    EXPECT_EQ(0, differing) << isa_name(isa);
  }
}

}  // namespace
}  // namespace tessera::kernels
