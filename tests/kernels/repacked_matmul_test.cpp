// Repacked Q4_0 / Q5_0 / Q8_0 / Q4_K / Q5_K / Q6_K weights (kernels/cpu/repack.h): the portable reader must reproduce the
// reference bit for bit (so the layout round-trips), every ISA's repacked kernel must match the
// reference within the summation-order tolerance, and kernels::matmul must dispatch a repacked
// view correctly on every ISA (including ones without a repacked kernel).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <type_traits>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/repack.h"
#include "kernels/kernel_test_util.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

namespace tessera::kernels {
namespace {

// A random [rows, cols] matrix of `type`, the activations (Q8_0, or Q8_K for the k-quants) of `tokens`
// random rows, and the reference product.
struct Problem {
  DType type;
  int64_t rows, cols, tokens;
  std::vector<uint8_t> w, x;
  std::vector<float> x_f32;
  std::vector<float> expected;  // [tokens, rows]
  std::vector<double> bound;    // [tokens, rows] 1e-5 * sum |w * a|
  MatrixView view() const { return {type, rows, cols, w.data(), row_bytes(type, cols)}; }
  DType act_type() const { return vec_dot_type(type); }
  size_t x_row_bytes() const { return row_bytes(act_type(), cols); }
};

Problem make_problem(DType type, int64_t rows, int64_t cols, int64_t tokens, uint32_t seed) {
  Problem p{type, rows, cols, tokens, {}, {}, {}, {}, {}};
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> w_f32(static_cast<size_t>(rows * cols));
  p.x_f32.resize(static_cast<size_t>(tokens * cols));
  for (float& v : w_f32) v = dist(rng);
  for (float& v : p.x_f32) v = dist(rng);
  const size_t w_row = row_bytes(type, cols), x_row = p.x_row_bytes();
  p.w.resize(w_row * rows);
  p.x.resize(x_row * tokens);
  for (int64_t r = 0; r < rows; ++r) quantize_row_ref(type, &w_f32[r * cols], &p.w[r * w_row], cols);
  for (int64_t t = 0; t < tokens; ++t) quantize_activation_row(p.act_type(), &p.x_f32[t * cols], &p.x[t * x_row], cols);
  p.expected.resize(static_cast<size_t>(rows * tokens));
  ref::matmul_rows(p.view(), p.x.data(), x_row, tokens, 0, rows, p.expected.data());
  std::vector<float> w_values(w_f32.size()), x_values(p.x_f32.size());
  for (int64_t r = 0; r < rows; ++r) dequantize_row_ref(type, &p.w[r * w_row], &w_values[r * cols], cols);
  for (int64_t t = 0; t < tokens; ++t) dequantize_row_ref(p.act_type(), &p.x[t * x_row], &x_values[t * cols], cols);
  p.bound.resize(p.expected.size());
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      double magnitude = 0.0;
      for (int64_t c = 0; c < cols; ++c) magnitude += std::fabs(double(w_values[r * cols + c]) * x_values[t * cols + c]);
      p.bound[t * rows + r] = 1e-5 * magnitude + 1e-30;
    }
  }
  return p;
}

constexpr DType kTypes[] = {DType::kQ4_0, DType::kQ5_0, DType::kQ8_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

bool is_k_quant(DType type) { return type == DType::kQ4_K || type == DType::kQ5_K || type == DType::kQ6_K; }

// Column counts for a test of `type`: `legacy` for Q4_0 / Q8_0 (multiples of 32), `k_quant`
// for Q4_K / Q5_K (multiples of 256).
std::vector<int64_t> test_cols(DType type, std::initializer_list<int64_t> legacy,
                               std::initializer_list<int64_t> k_quant) {
  return is_k_quant(type) ? std::vector<int64_t>(k_quant) : std::vector<int64_t>(legacy);
}

// Activation rows with their block summaries (Q8_0 only), as kernels.cpp prepares them.
struct PreparedActivation {
  const uint8_t* rows;
  size_t row_bytes;
  int64_t tokens;
  std::vector<RepackedActivationBlock> blocks;
  PreparedActivation(DType act_type, const uint8_t* x, size_t x_row_bytes, int64_t num_tokens, int64_t cols)
      : rows(x), row_bytes(x_row_bytes), tokens(num_tokens) {
    if (act_type != DType::kQ8_0) return;
    const int64_t num_blocks = cols / kLegacyBlockSize;
    blocks.resize(static_cast<size_t>(num_tokens * num_blocks));
    for (int64_t t = 0; t < num_tokens; ++t) summarize_activation_row(x + t * x_row_bytes, num_blocks, &blocks[t * num_blocks]);
  }
  RepackedActivation view() const { return {rows, row_bytes, tokens, blocks.empty() ? nullptr : blocks.data()}; }
};

TEST(RepackedMatmul, OnlyQ4_0Q5_0Q8_0Q4_KQ5_KAndQ6_KWithWholeTilesRepack) {
  std::vector<uint8_t> bytes(row_bytes(DType::kQ4_K, 512) * 48);
  EXPECT_TRUE(repackable({DType::kQ8_0, 48, 64, bytes.data(), row_bytes(DType::kQ8_0, 64)}));
  EXPECT_TRUE(repackable({DType::kQ4_0, 16, 64, bytes.data(), row_bytes(DType::kQ4_0, 64)}));
  EXPECT_FALSE(repackable({DType::kQ8_0, 40, 64, bytes.data(), row_bytes(DType::kQ8_0, 64)}));
  EXPECT_FALSE(repackable({DType::kQ4_1, 16, 64, bytes.data(), row_bytes(DType::kQ4_1, 64)}));
  EXPECT_TRUE(repackable({DType::kQ5_0, 32, 64, bytes.data(), row_bytes(DType::kQ5_0, 64)}));
  EXPECT_FALSE(repackable({DType::kQ5_1, 16, 64, bytes.data(), row_bytes(DType::kQ5_1, 64)}));
  EXPECT_FALSE(repackable({DType::kF32, 16, 64, bytes.data(), 64 * sizeof(float)}));
  EXPECT_TRUE(repackable({DType::kQ4_K, 32, 512, bytes.data(), row_bytes(DType::kQ4_K, 512)}));
  EXPECT_FALSE(repackable({DType::kQ4_K, 24, 512, bytes.data(), row_bytes(DType::kQ4_K, 512)}));
  EXPECT_TRUE(repackable({DType::kQ5_K, 16, 256, bytes.data(), row_bytes(DType::kQ5_K, 256)}));
  EXPECT_TRUE(repackable({DType::kQ6_K, 16, 256, bytes.data(), row_bytes(DType::kQ6_K, 256)}));
  EXPECT_FALSE(repackable({DType::kQ6_K, 8, 256, bytes.data(), row_bytes(DType::kQ6_K, 256)}));
  EXPECT_FALSE(repackable({DType::kQ2_K, 16, 256, bytes.data(), row_bytes(DType::kQ2_K, 256)}));
}

TEST(RepackedMatmul, PortableReaderReproducesReferenceExactly) {
  uint32_t seed = 1;
  for (DType type : kTypes) {
    for (int64_t rows : {16, 48}) {
      for (int64_t cols : test_cols(type, {32, 96, 256}, {256, 768})) {
        const Problem p = make_problem(type, rows, cols, 3, seed++);
        std::vector<uint8_t> packed(p.w.size());
        const MatrixView view = repack(p.view(), packed.data());
        EXPECT_EQ(view.interleaved_rows, kRepackRows);
        std::vector<float> got(p.expected.size(), NAN);
        const PreparedActivation x(p.act_type(), p.x.data(), p.x_row_bytes(), p.tokens, cols);
        repacked_matmul_rows_portable(view, x.view(), 0, rows, got.data());
        EXPECT_EQ(got, p.expected) << dtype_name(type) << " rows " << rows << " cols " << cols;
      }
    }
  }
}

TEST(RepackedMatmul, EveryIsaKernelMatchesReference) {
  int checked = 0;
  uint32_t seed = 100;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(isa)) continue;
    for (DType type : kTypes) {
      const RepackedMatmulRowsFn fn = kernel_table(isa).matmul_rows_repacked[static_cast<int>(type)];
      if (fn == nullptr) continue;
      for (int64_t rows : {16, 32, 80}) {
        for (int64_t cols : test_cols(type, {32, 64, 160, 2048}, {256, 512, 2048})) {
          for (int64_t tokens = 1; tokens <= 19; ++tokens) {
            if (cols >= 1024 && tokens % 6 != 1) continue;  // wide: 1, 7, 13, 19 tokens only
            const Problem p = make_problem(type, rows, cols, tokens, seed++);
            std::vector<uint8_t> packed(p.w.size());
            const MatrixView view = repack(p.view(), packed.data());
            std::vector<float> got(p.expected.size(), NAN);
            // Two row ranges, so a range not starting at 0 is covered too.
            const int64_t split = rows / 32 * 16;
            const PreparedActivation x(p.act_type(), p.x.data(), p.x_row_bytes(), tokens, cols);
            fn(view, x.view(), 0, split, got.data());
            fn(view, x.view(), split, rows, got.data());
            for (size_t i = 0; i < got.size(); ++i) {
              ASSERT_LE(std::fabs(double(got[i]) - p.expected[i]), p.bound[i])
                  << isa_name(isa) << " " << dtype_name(type) << " rows " << rows << " cols " << cols << " tokens "
                  << tokens << " at token " << i / rows << " row " << i % rows;
            }
          }
        }
      }
      ++checked;
    }
  }
  std::printf("[ repacked ] %d (ISA, weight type) kernels checked\n", checked);
}

// Quants at the ends of their ranges with unit scales: every product is an integer, so any
// summation order gives the reference's value exactly, and an int16 or int32 overflow inside a
// kernel (AVX2 adds a block's Q4_0 maddubs results in int16) would show as a wrong value.
// One Q4_K / Q5_K super-block with unit super-scales, sub-block scales first_scale - step * j,
// mins 63 - j, and every quant at the top or the bottom of its range.
template <typename Block>
void fill_extreme_k4_block(bool top, int first_scale, int step, Block* block) {
  constexpr uint16_t kOne = 0x3C00;  // f16 1.0
  block->d = block->dmin = kOne;
  std::memset(block->scales, 0, sizeof(block->scales));
  for (int j = 0; j < 8; ++j) {
    pack_k4_scale_min(j, static_cast<uint8_t>(first_scale - step * j), static_cast<uint8_t>(63 - j), block->scales);
  }
  std::memset(block->qs, top ? 0xFF : 0x00, sizeof(block->qs));
  if constexpr (std::is_same_v<Block, BlockQ5_K>) std::memset(block->qh, top ? 0xFF : 0x00, sizeof(block->qh));
}

// One Q6_K super-block with a unit super-scale, every quant at the top (63) or the bottom (0),
// and int8 sub-block scales -128 (sign extension), then alternately 7 and -8: sum |scale| = 240,
// so a super-block's sum (at most 240 x 16 x 32 x 127) stays below 2^24.
void fill_extreme_q6k_block(bool top, BlockQ6_K* block) {
  block->d = 0x3C00;  // f16 1.0
  for (int j = 0; j < 16; ++j) block->scales[j] = static_cast<int8_t>(j == 0 ? -128 : j % 2 == 1 ? 7 : -8);
  std::memset(block->ql, top ? 0xFF : 0x00, sizeof(block->ql));
  std::memset(block->qh, top ? 0xFF : 0x00, sizeof(block->qh));
}

// One weight row of `type` with unit (super-)scales and every quant at the top (q + 8 = 15,
// q + 16 = 31, 127, 15, 31 or 63) or the bottom (0, -128, 0) of its range. Q4_K sub-block scales are 31 - 2j, mins
// 63 - j (both above 15, so their top bits count); Q5_K scales 15 - j, so that a super-block's
// sum stays below 2^24 and converts to float exactly; Q6_K as fill_extreme_q6k_block.
void fill_extreme_weight_row(DType type, int64_t cols, bool top, uint8_t* row) {
  constexpr uint16_t kOne = 0x3C00;  // f16 1.0
  for (int64_t s = 0; s < (is_k_quant(type) ? cols / kQK_K : 0); ++s) {
    if (type == DType::kQ6_K) {
      fill_extreme_q6k_block(top, reinterpret_cast<BlockQ6_K*>(row) + s);
    } else if (type == DType::kQ4_K) {
      fill_extreme_k4_block(top, 31, 2, reinterpret_cast<BlockQ4_K*>(row) + s);
    } else {
      fill_extreme_k4_block(top, 15, 1, reinterpret_cast<BlockQ5_K*>(row) + s);
    }
  }
  if (is_k_quant(type)) return;
  const size_t block_bytes = row_bytes(type, kLegacyBlockSize);
  for (int64_t b = 0; b < cols / kLegacyBlockSize; ++b) {
    uint8_t* block = row + b * block_bytes;
    std::memcpy(block, &kOne, sizeof(kOne));
    if (type == DType::kQ4_0) {
      std::memset(block + 2, top ? 0xFF : 0x00, 16);  // q + 8 = 15 or 0
    } else if (type == DType::kQ5_0) {
      std::memset(block + 2, top ? 0xFF : 0x00, 4 + 16);  // 5th bits and nibbles: q + 16 = 31 or 0
    } else {
      std::memset(block + 2, top ? 0x7F : 0x80, 32);  // 127 or -128
    }
  }
}

// One activation row (Q8_0 or Q8_K) with unit scales and every quant +127 or -127.
void fill_extreme_activation_row(DType act_type, int64_t cols, bool positive, uint8_t* row) {
  const int8_t q = positive ? 127 : -127;
  if (act_type == DType::kQ8_K) {
    for (int64_t s = 0; s < cols / kQK_K; ++s) {
      BlockQ8_K& block = reinterpret_cast<BlockQ8_K*>(row)[s];
      block.d = 1.0f;
      std::memset(block.qs, static_cast<uint8_t>(q), sizeof(block.qs));
      for (int16_t& sum : block.bsums) sum = static_cast<int16_t>(16 * q);
    }
    return;
  }
  constexpr uint16_t kOne = 0x3C00;
  for (int64_t b = 0; b < cols / kLegacyBlockSize; ++b) {
    uint8_t* block = row + b * sizeof(BlockQ8_0);
    std::memcpy(block, &kOne, sizeof(kOne));
    std::memset(block + 2, static_cast<uint8_t>(q), 32);
  }
}

// Quants at the ends of their ranges with unit scales: every product is an integer (and every
// sum below 2^24), so any summation order gives the reference's value exactly, and an int16 or
// int32 overflow inside a kernel (AVX2 adds a Q4_0 block's or a Q4_K sub-block's maddubs results
// in int16) would show as a wrong value.
TEST(RepackedMatmul, ExtremeQuantsStayExactOnEveryIsa) {
  const int64_t rows = 32;
  int checked = 0;
  for (DType type : kTypes) {
    const int64_t cols = is_k_quant(type) ? 512 : 96;
    const DType act_type = vec_dot_type(type);
    const size_t w_row = row_bytes(type, cols), x_row = row_bytes(act_type, cols);
    for (int pattern = 0; pattern < 4; ++pattern) {
      // Weights: all at the top (pattern 0, 2) or the bottom (1, 3) of the range, except every
      // seventh row at the other end; activations: +127, or -127 (patterns 2, 3), alternating
      // sign by token.
      std::vector<uint8_t> w(w_row * rows), x(x_row * 5);
      for (int64_t r = 0; r < rows; ++r) {
        fill_extreme_weight_row(type, cols, (pattern % 2 == 0) != (r % 7 == 3), &w[r * w_row]);
      }
      for (int64_t t = 0; t < 5; ++t) {
        fill_extreme_activation_row(act_type, cols, (pattern < 2) != (t % 2 == 1), &x[t * x_row]);
      }
      const MatrixView row_major{type, rows, cols, w.data(), w_row};
      std::vector<uint8_t> packed(w.size());
      const MatrixView view = repack(row_major, packed.data());
      for (int64_t tokens = 1; tokens <= 5; ++tokens) {
        std::vector<float> expected(static_cast<size_t>(rows * tokens));
        ref::matmul_rows(row_major, x.data(), x_row, tokens, 0, rows, expected.data());
        for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
          if (!isa_supported(isa)) continue;
          const RepackedMatmulRowsFn fn = kernel_table(isa).matmul_rows_repacked[static_cast<int>(type)];
          if (fn == nullptr) continue;
          std::vector<float> got(expected.size(), NAN);
          const PreparedActivation prepared(act_type, x.data(), x_row, tokens, cols);
          fn(view, prepared.view(), 0, rows, got.data());
          EXPECT_EQ(got, expected) << isa_name(isa) << " " << dtype_name(type) << " pattern " << pattern << " tokens "
                                   << tokens;
          ++checked;
        }
      }
    }
  }
  std::printf("[ repacked ] %d extreme-value runs checked\n", checked);
}

TEST(RepackedMatmul, MatmulDispatchesRepackedViewsOnEveryIsa) {
  ThreadPool pool(3);
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(isa)) continue;
    set_isa_override(isa);
    for (DType type : kTypes) {
      const Problem p = make_problem(type, 112, is_k_quant(type) ? 512 : 128, 5, 7);
      std::vector<uint8_t> packed(p.w.size());
      const MatrixView view = repack(p.view(), packed.data());
      std::vector<uint8_t> scratch(matmul_scratch_bytes(type, p.cols, p.tokens));
      std::vector<float> got(p.expected.size(), NAN);
      matmul(view, p.x_f32.data(), p.tokens, got.data(), scratch.data(), pool);
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_LE(std::fabs(double(got[i]) - p.expected[i]), p.bound[i]) << isa_name(isa) << " " << dtype_name(type);
      }
    }
  }
  set_isa_override(std::nullopt);
}

TEST(MatmulSharedInput, MatchesOneMatmulPerWeightOnEveryIsa) {
  ThreadPool pool(2);
  const int64_t cols = 96, tokens = 3;
  // Repacked and row-major weights, a row count off the 16-row unit, and (second set) an
  // activation-type mismatch that must fall back to one matmul each.
  const Problem q4 = make_problem(DType::kQ4_0, 48, cols, tokens, 11);
  const Problem q8 = make_problem(DType::kQ8_0, 40, cols, tokens, 12);
  const Problem q8_tiles = make_problem(DType::kQ8_0, 32, cols, tokens, 13);
  const std::vector<float> f32_weights = testing::random_vector(static_cast<size_t>(20 * cols), 14);
  const MatrixView f32{DType::kF32, 20, cols, reinterpret_cast<const uint8_t*>(f32_weights.data()), cols * sizeof(float)};
  std::vector<uint8_t> packed(q8_tiles.w.size());
  const MatrixView q8_packed = repack(q8_tiles.view(), packed.data());
  const std::vector<float>& x = q4.x_f32;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(isa)) continue;
    set_isa_override(isa);
    const MatrixView views[] = {q4.view(), q8.view(), q8_packed, f32};
    for (size_t num_outputs : {size_t{3}, size_t{4}}) {
      std::vector<std::vector<float>> want(num_outputs), got(num_outputs);
      std::vector<MatmulOutput> outputs;
      std::vector<uint8_t> scratch(matmul_scratch_bytes(DType::kQ8_0, cols, tokens) + 4096);
      for (size_t i = 0; i < num_outputs; ++i) {
        want[i].assign(static_cast<size_t>(views[i].num_rows * tokens), NAN);
        got[i].assign(want[i].size(), NAN);
        matmul(views[i], x.data(), tokens, want[i].data(), scratch.data(), pool);
        outputs.push_back({&views[i], got[i].data()});
      }
      matmul_shared_input(outputs, x.data(), tokens, scratch.data(), pool);
      for (size_t i = 0; i < num_outputs; ++i) EXPECT_EQ(got[i], want[i]) << isa_name(isa) << " output " << i;
    }
  }
  set_isa_override(std::nullopt);
}

// matmul_tasks: different inputs (some shared by two tasks, some with one row, some with three),
// repacked, row-major, k-quant and f32 weights: bit for bit one matmul() per task, on every ISA.
TEST(MatmulTasks, MatchOneMatmulPerTaskOnEveryIsa) {
  ThreadPool pool(2);
  const int64_t cols = 256;
  const Problem q4 = make_problem(DType::kQ4_0, 48, cols, 3, 21);
  const Problem q8 = make_problem(DType::kQ8_0, 40, cols, 1, 22);
  const Problem q8_tiles = make_problem(DType::kQ8_0, 32, cols, 2, 23);
  const Problem q4k = make_problem(DType::kQ4_K, 32, cols, 2, 24);
  const std::vector<float> f32_weights = testing::random_vector(static_cast<size_t>(20 * cols), 25);
  const MatrixView f32{DType::kF32, 20, cols, reinterpret_cast<const uint8_t*>(f32_weights.data()), cols * sizeof(float)};
  std::vector<uint8_t> packed(q8_tiles.w.size());
  const MatrixView q8_packed = repack(q8_tiles.view(), packed.data());
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(isa)) continue;
    set_isa_override(isa);
    const MatrixView q4_view = q4.view(), q8_view = q8.view(), q4k_view = q4k.view();
    // q4 and f32 share q4's three rows; q8_packed and q4k share q8_tiles' two rows.
    const std::vector<MatmulTask> shape = {{&q4_view, q4.x_f32.data(), 3, nullptr},
                                           {&f32, q4.x_f32.data(), 3, nullptr},
                                           {&q8_view, q8.x_f32.data(), 1, nullptr},
                                           {&q8_packed, q8_tiles.x_f32.data(), 2, nullptr},
                                           {&q4k_view, q8_tiles.x_f32.data(), 2, nullptr}};
    std::vector<std::vector<float>> want(shape.size()), got(shape.size());
    std::vector<MatmulTask> tasks = shape;
    std::vector<uint8_t> scratch(matmul_scratch_bytes(DType::kQ4_K, cols, 8) + 4096);
    for (size_t i = 0; i < tasks.size(); ++i) {
      want[i].assign(static_cast<size_t>(tasks[i].weight->num_rows * tasks[i].num_tokens), NAN);
      got[i].assign(want[i].size(), NAN);
      matmul(*tasks[i].weight, tasks[i].x, tasks[i].num_tokens, want[i].data(), scratch.data(), pool);
      tasks[i].out = got[i].data();
    }
    std::vector<uint8_t> task_scratch(matmul_tasks_scratch_bytes(tasks));
    EXPECT_LE(task_scratch.size(), matmul_tasks_scratch_bound(DType::kQ4_K, cols, 8, 4));
    matmul_tasks(tasks, task_scratch.data(), pool);
    for (size_t i = 0; i < tasks.size(); ++i) EXPECT_EQ(got[i], want[i]) << isa_name(isa) << " task " << i;
  }
  set_isa_override(std::nullopt);
}

}  // namespace
}  // namespace tessera::kernels
