// The SIMD k-quant matmul kernels (Q2_K..Q6_K weights x Q8_K activations) against
// ref::matmul_rows, on every ISA this CPU supports, over many shapes and row ranges.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"
#include "tensor/dtype.h"
#include "tensor/quant.h"

namespace tessera::kernels {
namespace {

constexpr DType kTypes[] = {DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

struct Problem {
  std::vector<uint8_t> weight_bytes, x_bytes;
  std::vector<float> abs_bound;  // [tokens, rows]: sum |w * a| over the dequantized values
  MatrixView weight;
  size_t x_row_bytes = 0;
};

Problem make_problem(DType type, int64_t rows, int64_t cols, int64_t tokens, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Problem p;
  const size_t w_row = row_bytes(type, cols);
  p.x_row_bytes = row_bytes(DType::kQ8_K, cols);
  p.weight_bytes.resize(w_row * static_cast<size_t>(rows));
  p.x_bytes.resize(p.x_row_bytes * static_cast<size_t>(tokens));
  std::vector<float> w(static_cast<size_t>(rows * cols)), x(static_cast<size_t>(tokens * cols));
  for (float& v : w) v = dist(rng);
  for (float& v : x) v = dist(rng);
  for (int64_t r = 0; r < rows; ++r)
    quantize_row_ref(type, &w[r * cols], p.weight_bytes.data() + r * w_row, cols);
  for (int64_t t = 0; t < tokens; ++t)
    quantize_row_ref(DType::kQ8_K, &x[t * cols], p.x_bytes.data() + t * p.x_row_bytes, cols);
  std::vector<float> wd(static_cast<size_t>(cols)), xd(static_cast<size_t>(tokens * cols));
  for (int64_t t = 0; t < tokens; ++t)
    dequantize_row_ref(DType::kQ8_K, p.x_bytes.data() + t * p.x_row_bytes, &xd[t * cols], cols);
  p.abs_bound.assign(static_cast<size_t>(tokens * rows), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row_ref(type, p.weight_bytes.data() + r * w_row, wd.data(), cols);
    for (int64_t t = 0; t < tokens; ++t) {
      double s = 0;
      for (int64_t c = 0; c < cols; ++c) s += std::fabs(wd[c] * xd[t * cols + c]);
      p.abs_bound[t * rows + r] = static_cast<float>(s);
    }
  }
  p.weight = MatrixView{type, rows, cols, p.weight_bytes.data(), w_row};
  return p;
}

std::vector<Isa> simd_isas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512})
    if (isa_supported(isa)) isas.push_back(isa);
  return isas;
}

void expect_close(const Problem& p, const std::vector<float>& got, const std::vector<float>& want,
                  int64_t tokens, int64_t row_begin, int64_t row_end, const char* what) {
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t r = row_begin; r < row_end; ++r) {
      const size_t i = static_cast<size_t>(t * p.weight.num_rows + r);
      ASSERT_LE(std::fabs(got[i] - want[i]), 1e-5f * p.abs_bound[i] + 1e-30f)
          << what << " type " << dtype_name(p.weight.type) << " rows " << p.weight.num_rows << " cols "
          << p.weight.num_cols << " token " << t << " row " << r << ": " << got[i] << " vs " << want[i];
    }
  }
}

TEST(SimdKquantMatmul, TableEntriesMatchReferenceOverShapesAndRowRanges) {
  const int64_t shapes[][3] = {{1, 256, 1}, {3, 512, 2}, {7, 768, 1}, {16, 1024, 3}, {37, 256, 5},
                               {5, 2048, 4}, {2, 4096, 1}, {33, 1280, 2}, {50, 512, 9}};
  uint32_t seed = 1;
  for (DType type : kTypes) {
    for (const auto& s : shapes) {
      const int64_t rows = s[0], cols = s[1], tokens = s[2];
      const Problem p = make_problem(type, rows, cols, tokens, seed++);
      std::vector<float> want(static_cast<size_t>(tokens * rows), -1.0f);
      ref::matmul_rows(p.weight, p.x_bytes.data(), p.x_row_bytes, tokens, 0, rows, want.data());
      for (Isa isa : simd_isas()) {
        const MatmulRowsFn fn = kernel_table(isa).matmul_rows[static_cast<int>(type)];
        ASSERT_NE(fn, nullptr) << isa_name(isa) << " " << dtype_name(type);
        std::vector<float> got(want.size(), -1.0f);
        fn(p.weight, p.x_bytes.data(), p.x_row_bytes, tokens, 0, rows, got.data());
        expect_close(p, got, want, tokens, 0, rows, "full");
        // A sub-range writes only its own rows.
        const int64_t begin = rows / 3, end = rows - rows / 4;
        std::vector<float> part(want.size(), 12345.0f);
        fn(p.weight, p.x_bytes.data(), p.x_row_bytes, tokens, begin, end, part.data());
        expect_close(p, part, want, tokens, begin, end, "range");
        for (int64_t t = 0; t < tokens; ++t) {
          for (int64_t r = 0; r < rows; ++r) {
            if (r < begin || r >= end) {
              ASSERT_EQ(part[static_cast<size_t>(t * rows + r)], 12345.0f);
            }
          }
        }
      }
    }
  }
}

TEST(SimdKquantMatmul, ExtremeQuantsDoNotSaturate) {
  // Weights at +-max and activations at +-127 exercise the int16 ranges of maddubs.
  for (DType type : kTypes) {
    const int64_t rows = 4, cols = 512, tokens = 2;
    std::vector<float> w(static_cast<size_t>(rows * cols)), x(static_cast<size_t>(tokens * cols));
    for (size_t i = 0; i < w.size(); ++i) w[i] = (i % 3 == 0) ? -1.0f : 1.0f;
    for (size_t i = 0; i < x.size(); ++i) x[i] = (i % 5 == 0) ? 1.0f : -1.0f;
    Problem p;
    const size_t w_row = row_bytes(type, cols);
    p.x_row_bytes = row_bytes(DType::kQ8_K, cols);
    p.weight_bytes.resize(w_row * rows);
    p.x_bytes.resize(p.x_row_bytes * tokens);
    for (int64_t r = 0; r < rows; ++r) quantize_row_ref(type, &w[r * cols], p.weight_bytes.data() + r * w_row, cols);
    for (int64_t t = 0; t < tokens; ++t)
      quantize_row_ref(DType::kQ8_K, &x[t * cols], p.x_bytes.data() + t * p.x_row_bytes, cols);
    p.weight = MatrixView{type, rows, cols, p.weight_bytes.data(), w_row};
    p.abs_bound.assign(static_cast<size_t>(rows * tokens), 4.0f * cols);
    std::vector<float> want(static_cast<size_t>(rows * tokens));
    ref::matmul_rows(p.weight, p.x_bytes.data(), p.x_row_bytes, tokens, 0, rows, want.data());
    for (Isa isa : simd_isas()) {
      std::vector<float> got(want.size());
      kernel_table(isa).matmul_rows[static_cast<int>(type)](p.weight, p.x_bytes.data(), p.x_row_bytes, tokens, 0,
                                                            rows, got.data());
      expect_close(p, got, want, tokens, 0, rows, "extreme");
    }
  }
}

TEST(SimdKquantMatmul, DispatchedMatmulMatchesScalarOnEveryIsa) {
  ThreadPool pool(2);
  const int64_t rows = 29, cols = 1536, tokens = 3;
  for (DType type : kTypes) {
    const Problem p = make_problem(type, rows, cols, tokens, 99);
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(tokens * cols));
    for (float& v : x) v = dist(rng);
    std::vector<uint8_t> scratch(matmul_scratch_bytes(type, cols, tokens) + 64);
    void* aligned = scratch.data() + (64 - reinterpret_cast<uintptr_t>(scratch.data()) % 64) % 64;
    std::vector<float> want(static_cast<size_t>(tokens * rows)), got(want.size());
    set_isa_override(Isa::kScalar);
    matmul(p.weight, x.data(), tokens, want.data(), aligned, pool);
    for (Isa isa : simd_isas()) {
      set_isa_override(isa);
      matmul(p.weight, x.data(), tokens, got.data(), aligned, pool);
      for (size_t i = 0; i < want.size(); ++i)
        EXPECT_NEAR(got[i], want[i], 1e-4f * (1.0f + std::fabs(want[i]))) << isa_name(isa) << " " << i;
    }
    set_isa_override(std::nullopt);
  }
}

}  // namespace
}  // namespace tessera::kernels
