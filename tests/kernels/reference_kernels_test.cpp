// The reference kernels against hand-computed values and naive restatements of their math.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/kernel_test_util.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"
#include "tensor/quant.h"

namespace tessera::kernels {
namespace {

using testing::random_vector;

TEST(RmsNorm, NormalisesEachRowAndAppliesWeight) {
  const std::vector<float> x = {3.0f, 4.0f, 0.0f, 0.0f, 1.0f, 1.0f};  // 2 rows of 3
  const std::vector<float> w = {1.0f, 2.0f, 0.5f};
  std::vector<float> out(6);
  rms_norm(x.data(), w.data(), 2, 3, 0.0f, out.data());
  const float inv_rms0 = 1.0f / std::sqrt(25.0f / 3.0f);
  EXPECT_FLOAT_EQ(out[0], 3.0f * inv_rms0);
  EXPECT_FLOAT_EQ(out[1], 8.0f * inv_rms0);
  EXPECT_FLOAT_EQ(out[2], 0.0f);
  const float inv_rms1 = 1.0f / std::sqrt(2.0f / 3.0f);
  EXPECT_FLOAT_EQ(out[4], 2.0f * inv_rms1);
}

TEST(Rope, NormalOrderRotatesAdjacentPairsByPositionTimesFrequency) {
  std::vector<float> x = {1.0f, 0.0f, 1.0f, 0.0f};  // one head of dim 4
  RopeParams p;
  p.rot_dims = 4;
  p.freq_base = 100.0f;
  const int32_t pos[] = {3};
  rope(x.data(), pos, 1, 4, p);
  EXPECT_NEAR(x[0], std::cos(3.0f), 1e-6);
  EXPECT_NEAR(x[1], std::sin(3.0f), 1e-6);
  EXPECT_NEAR(x[2], std::cos(3.0f / 10.0f), 1e-6);  // theta = pos * base^(-2/4)
  EXPECT_NEAR(x[3], std::sin(3.0f / 10.0f), 1e-6);
}

TEST(Rope, NeoxOrderRotatesHalves) {
  std::vector<float> x = {1.0f, 1.0f, 0.0f, 0.0f};  // pairs are (x0, x2) and (x1, x3)
  RopeParams p;
  p.rot_dims = 4;
  p.freq_base = 100.0f;
  p.order = RopeOrder::kNeox;
  const int32_t pos[] = {2};
  rope(x.data(), pos, 1, 4, p);
  EXPECT_NEAR(x[0], std::cos(2.0f), 1e-6);
  EXPECT_NEAR(x[2], std::sin(2.0f), 1e-6);
  EXPECT_NEAR(x[1], std::cos(0.2f), 1e-6);
  EXPECT_NEAR(x[3], std::sin(0.2f), 1e-6);
}

TEST(Rope, PartialRotationLeavesTrailingDimsAlone) {
  std::vector<float> x = {1.0f, 2.0f, 5.0f, 7.0f};
  RopeParams p;
  p.rot_dims = 2;
  const int32_t pos[] = {1};
  rope(x.data(), pos, 1, 4, p);
  EXPECT_FLOAT_EQ(x[2], 5.0f);
  EXPECT_FLOAT_EQ(x[3], 7.0f);
}

TEST(Rope, FromTableIsBitForBitRopeForEveryOrderAndPartialRotation) {
  ThreadPool pool(2);
  for (const RopeOrder order : {RopeOrder::kNormal, RopeOrder::kNeox}) {
    for (const int32_t rot_dims : {64, 32}) {
      RopeParams p;
      p.rot_dims = rot_dims;
      p.order = order;
      p.freq_base = 500000.0f;
      p.freq_scale = 0.25f;
      const int64_t num_heads = 3, head_dim = 64, num_tokens = 19;
      std::vector<int32_t> positions(num_tokens);
      for (int64_t t = 0; t < num_tokens; ++t) positions[t] = static_cast<int32_t>((t * 37) % 4000);
      const auto x = random_vector(static_cast<size_t>(num_tokens * num_heads * head_dim), 5);
      std::vector<float> want = x, got = x, table(static_cast<size_t>(num_tokens * rot_dims));
      rope(want.data(), positions, num_heads, head_dim, p);
      rope_table(positions, p, table.data());
      rope_from_table(got.data(), num_tokens, num_heads, head_dim, table.data(), p, &pool);
      for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << "rot_dims " << rot_dims << " at " << i;
    }
  }
}

TEST(Softmax, SumsToOneAndSurvivesLargeLogits) {
  std::vector<float> x = {1000.0f, 1000.0f, -1000.0f};
  softmax(x.data(), 3);
  EXPECT_FLOAT_EQ(x[0], 0.5f);
  EXPECT_FLOAT_EQ(x[1], 0.5f);
  EXPECT_FLOAT_EQ(x[2], 0.0f);
}

TEST(SiluMul, MatchesDefinition) {
  const float g[] = {-2.0f, 0.0f, 3.0f}, u[] = {1.0f, 5.0f, 2.0f};
  float out[3];
  silu_mul(g, u, 3, out);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(out[i], g[i] / (1.0f + std::exp(-g[i])) * u[i], 1e-6);
}

TEST(Matmul, F32EqualsNaiveProductForManyShapes) {
  ThreadPool pool(2);
  for (auto [rows, cols, tokens] : {std::tuple{1, 1, 1}, {7, 5, 3}, {64, 33, 1}, {3, 128, 9}}) {
    const auto w = random_vector(static_cast<size_t>(rows * cols), 1);
    const auto x = random_vector(static_cast<size_t>(tokens * cols), 2);
    MatrixView view{DType::kF32, rows, cols, reinterpret_cast<const uint8_t*>(w.data()), cols * sizeof(float)};
    std::vector<float> out(static_cast<size_t>(tokens * rows));
    matmul(view, x.data(), tokens, out.data(), nullptr, pool);
    for (int t = 0; t < tokens; ++t) {
      for (int r = 0; r < rows; ++r) {
        double expected = 0.0;
        for (int c = 0; c < cols; ++c) expected += static_cast<double>(w[r * cols + c]) * x[t * cols + c];
        EXPECT_NEAR(out[t * rows + r], expected, 1e-4) << rows << "x" << cols << " t" << t << " r" << r;
      }
    }
  }
}

TEST(Matmul, Q8_0WeightsQuantizeActivationsLikeTheReferenceDot) {
  // Exact equality holds for the scalar table only: SIMD kernels sum in another order
  // (simd_matmul_test.cpp checks them with a tolerance).
  set_isa_override(Isa::kScalar);
  ThreadPool pool(2);
  const int rows = 5, cols = 64, tokens = 2;
  const auto w = random_vector(rows * cols, 3);
  const auto x = random_vector(tokens * cols, 4);
  std::vector<uint8_t> wq(row_bytes(DType::kQ8_0, cols) * rows);
  for (int r = 0; r < rows; ++r) quantize_row_ref(DType::kQ8_0, w.data() + r * cols, wq.data() + r * row_bytes(DType::kQ8_0, cols), cols);
  MatrixView view{DType::kQ8_0, rows, cols, wq.data(), row_bytes(DType::kQ8_0, cols)};
  std::vector<uint8_t> scratch(matmul_scratch_bytes(DType::kQ8_0, cols, tokens));
  std::vector<float> out(tokens * rows);
  matmul(view, x.data(), tokens, out.data(), scratch.data(), pool);
  std::vector<uint8_t> xq(row_bytes(DType::kQ8_0, cols));
  for (int t = 0; t < tokens; ++t) {
    quantize_activation_row(DType::kQ8_0, x.data() + t * cols, xq.data(), cols);
    for (int r = 0; r < rows; ++r) {
      EXPECT_EQ(out[t * rows + r], vec_dot_ref(DType::kQ8_0, cols, view.row(r), xq.data()));
    }
  }
  set_isa_override(std::nullopt);
}

// Plain causal attention over contiguous K/V, the restatement paged_attention must equal.
std::vector<float> contiguous_attention(const std::vector<float>& q, const std::vector<float>& k,
                                        const std::vector<float>& v, int num_tokens, int num_heads, int num_kv_heads,
                                        int head_dim, int first_position, int window = 0) {
  std::vector<float> out(static_cast<size_t>(num_tokens * num_heads * head_dim), 0.0f);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  for (int t = 0; t < num_tokens; ++t) {
    const int context = first_position + t + 1;
    for (int h = 0; h < num_heads; ++h) {
      const int kvh = h / (num_heads / num_kv_heads);
      std::vector<double> s(static_cast<size_t>(context));
      double max_s = -1e30, sum = 0.0;
      const int first = window > 0 ? std::max(0, context - window) : 0;  // sees positions p - window + 1 ... p
      for (int p = 0; p < context; ++p) {
        if (p < first) {
          s[p] = -INFINITY;
          continue;
        }
        double dot = 0.0;
        for (int d = 0; d < head_dim; ++d) {
          dot += q[(t * num_heads + h) * head_dim + d] * k[(p * num_kv_heads + kvh) * head_dim + d];
        }
        s[p] = dot * scale;
        max_s = std::max(max_s, s[p]);
      }
      for (double& x : s) sum += (x = std::exp(x - max_s));
      for (int p = 0; p < context; ++p) {
        for (int d = 0; d < head_dim; ++d) {
          out[(t * num_heads + h) * head_dim + d] +=
              static_cast<float>(s[p] / sum) * v[(p * num_kv_heads + kvh) * head_dim + d];
        }
      }
    }
  }
  return out;
}

// A sliding window of 5 over 4-token blocks: the query at position 10 sees 6..10, so blocks 0
// (positions 0-3) must never be read; its table entry points at a block of NaNs, as a released
// block's would. Position 4 and 5 share block 1 with visible positions and get weight 0.
TEST(PagedAttention, SlidingWindowSkipsBlocksBeforeTheWindow) {
  for (Isa isa : [] { auto isas = testing::simd_isas(); isas.push_back(Isa::kScalar); return isas; }()) {
    set_isa_override(isa);
    ThreadPool pool(2);
    const int num_heads = 4, num_kv_heads = 2, head_dim = 8, block_size = 4, context = 11, num_tokens = 3, window = 5;
    const int kv_dim = num_kv_heads * head_dim;
    const auto k = random_vector(context * kv_dim, 15);
    const auto v = random_vector(context * kv_dim, 16);
    const auto q = random_vector(num_tokens * num_heads * head_dim, 17);
    const std::vector<int32_t> block_table = {0, 4, 2};  // block 0: released, full of NaN
    std::vector<float> k_pool(6 * block_size * kv_dim, NAN), v_pool(6 * block_size * kv_dim, NAN);
    PagedKvLayer layer{k_pool.data(), v_pool.data(), block_size, num_kv_heads, head_dim};
    for (int p = block_size; p < context; ++p) {
      for (int h = 0; h < num_kv_heads; ++h) {
        const int64_t k_at = k_offset(layer, block_table, p, h), v_at = v_offset(layer, block_table, p, h);
        for (int d = 0; d < head_dim; ++d) k_pool[k_at + d * block_size] = k[p * kv_dim + h * head_dim + d];
        std::copy_n(v.begin() + p * kv_dim + h * head_dim, head_dim, v_pool.begin() + v_at);
      }
    }
    const int32_t positions[] = {8, 9, 10};
    std::vector<float> scratch(attention_scratch_floats(context, num_heads / num_kv_heads, pool));
    std::vector<float> out(num_tokens * num_heads * head_dim);
    AttentionParams params;
    params.scale = 1.0f / std::sqrt(8.0f);
    params.sliding_window = window;
    paged_attention(q.data(), num_tokens, num_heads, positions, layer, block_table, params, out.data(), scratch.data(),
                    pool);
    const auto expected = contiguous_attention(q, k, v, num_tokens, num_heads, num_kv_heads, head_dim, 8, window);
    for (size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], expected[i], 1e-5) << isa_name(isa) << " " << i;
  }
  set_isa_override(std::nullopt);
}

TEST(PagedAttention, ScatteredBlocksEqualContiguousAttention) {
  ThreadPool pool(2);
  const int num_heads = 4, num_kv_heads = 2, head_dim = 8, block_size = 4, context = 11, num_tokens = 3;
  const int kv_dim = num_kv_heads * head_dim;
  const auto k = random_vector(context * kv_dim, 5);
  const auto v = random_vector(context * kv_dim, 6);
  const auto q = random_vector(num_tokens * num_heads * head_dim, 7);
  const std::vector<int32_t> block_table = {5, 0, 3};  // positions 0-3 in block 5, 4-7 in 0, 8-10 in 3
  std::vector<float> k_pool(6 * block_size * kv_dim, NAN), v_pool(6 * block_size * kv_dim, NAN);
  PagedKvLayer layer{k_pool.data(), v_pool.data(), block_size, num_kv_heads, head_dim};
  for (int p = 0; p < context; ++p) {
    for (int h = 0; h < num_kv_heads; ++h) {
      // Head-major inside a block: K [block, kv_head, head_dim, slot], V [block, kv_head, slot, head_dim].
      const int64_t head_block = (block_table[p / block_size] * num_kv_heads + h) * block_size * head_dim;
      const int64_t k_at = head_block + p % block_size, v_at = head_block + p % block_size * head_dim;
      ASSERT_EQ(k_at, k_offset(layer, block_table, p, h));
      ASSERT_EQ(v_at, v_offset(layer, block_table, p, h));
      for (int d = 0; d < head_dim; ++d) k_pool[k_at + d * block_size] = k[p * kv_dim + h * head_dim + d];
      std::copy_n(v.begin() + p * kv_dim + h * head_dim, head_dim, v_pool.begin() + v_at);
    }
  }
  const int32_t positions[] = {8, 9, 10};
  std::vector<float> scratch(attention_scratch_floats(context, num_heads / num_kv_heads, pool));
  std::vector<float> out(num_tokens * num_heads * head_dim);
  paged_attention(q.data(), num_tokens, num_heads, positions, layer, block_table, 1.0f / std::sqrt(8.0f), out.data(),
                  scratch.data(), pool);
  const auto expected = contiguous_attention(q, k, v, num_tokens, num_heads, num_kv_heads, head_dim, 8);
  for (size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], expected[i], 1e-5) << i;
}

// Several sequences in one call (enough tokens that work items are whole GQA groups) give, bit
// for bit, what each sequence gives alone (few tokens: one head per item), and both equal plain
// attention over contiguous K/V.
TEST(PagedAttention, BatchOfSequencesEqualsEachAlone) {
  std::vector<Isa> isas = testing::simd_isas();
  isas.push_back(Isa::kScalar);
  for (Isa isa : isas) {
    set_isa_override(isa);
    ThreadPool pool(2);
    // 3 kv heads on 2 threads: one token alone makes 3 group items, which do not split evenly,
    // so they run as single heads.
    const int num_heads = 6, num_kv_heads = 3, head_dim = 64, block_size = 4, num_blocks = 24;
    const int kv_dim = num_kv_heads * head_dim;
    const auto k_pool = random_vector(num_blocks * block_size * kv_dim, 11);
    const auto v_pool = random_vector(num_blocks * block_size * kv_dim, 12);
    const PagedKvLayer layer{k_pool.data(), v_pool.data(), block_size, num_kv_heads, head_dim};
    // Three sequences: context lengths 21, 6 and 35, the last 9 / 2 / 5 positions queried.
    const std::vector<std::vector<int32_t>> tables = {{7, 2, 19, 4, 11, 0}, {5, 23}, {1, 9, 3, 22, 8, 14, 6, 17, 12}};
    const int contexts[] = {21, 6, 35}, queried[] = {9, 2, 5};
    std::vector<std::vector<float>> q(3), batched(3), alone(3);
    std::vector<std::vector<int32_t>> positions(3);
    std::vector<AttentionSequence> sequences;
    for (int s = 0; s < 3; ++s) {
      q[s] = random_vector(queried[s] * num_heads * head_dim, 20 + s);
      for (int p = contexts[s] - queried[s]; p < contexts[s]; ++p) positions[s].push_back(p);
      batched[s].assign(q[s].size(), NAN);
      alone[s].assign(q[s].size(), NAN);
      sequences.push_back({q[s].data(), positions[s], tables[s], batched[s].data()});
    }
    std::vector<float> scratch(attention_scratch_floats(35, num_heads / num_kv_heads, pool));
    const float scale = 0.125f;
    paged_attention_batch(sequences, num_heads, layer, scale, scratch.data(), pool);
    for (int s = 0; s < 3; ++s) {
      for (int t = 0; t < queried[s]; ++t) {  // one token at a time: single-head items
        const size_t offset = static_cast<size_t>(t) * num_heads * head_dim;
        paged_attention(q[s].data() + offset, 1, num_heads, std::span<const int32_t>(&positions[s][t], 1), layer,
                        tables[s], scale, alone[s].data() + offset, scratch.data(), pool);
      }
      for (size_t i = 0; i < alone[s].size(); ++i) {
        ASSERT_EQ(batched[s][i], alone[s][i]) << isa_name(isa) << " sequence " << s << " at " << i;
      }
      // Against plain attention over this sequence's K/V gathered contiguously.
      std::vector<float> k(contexts[s] * kv_dim), v(contexts[s] * kv_dim);
      for (int p = 0; p < contexts[s]; ++p) {
        for (int h = 0; h < num_kv_heads; ++h) {
          const int64_t k_at = k_offset(layer, tables[s], p, h);
          for (int d = 0; d < head_dim; ++d) k[p * kv_dim + h * head_dim + d] = k_pool[k_at + d * block_size];
          std::copy_n(v_pool.begin() + v_offset(layer, tables[s], p, h), head_dim, v.begin() + p * kv_dim + h * head_dim);
        }
      }
      const auto expected =
          contiguous_attention(q[s], k, v, queried[s], num_heads, num_kv_heads, head_dim, contexts[s] - queried[s]);
      for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(batched[s][i], expected[i], 1e-5) << s << " " << i;
    }
  }
  set_isa_override(std::nullopt);
}

}  // namespace
}  // namespace tessera::kernels

namespace tessera::kernels {
namespace {

// The table-driven gelu_tanh_mul is bit for bit the reference's two f16 roundings, on every ISA
// (its f16 conversion is the ISA's), across the +-10 cut-offs, subnormals, infinities and NaN.
TEST(GeluTanhMul, TableEqualsReferenceBitForBit) {
  std::vector<float> gate = random_vector(5000, 21), up = random_vector(5000, 22);
  for (size_t i = 0; i < gate.size(); ++i) gate[i] *= 12.0f;  // covers both cut-offs
  const float specials[] = {-10.0f, 10.0f, -9.9999f, 9.9999f, 0.0f, -0.0f, 1e-6f, -1e-7f, 65504.0f, 1e30f,
                            INFINITY, -INFINITY};
  for (size_t i = 0; i < std::size(specials); ++i) gate[i] = specials[i];
  std::vector<Isa> isas = testing::simd_isas();
  isas.push_back(Isa::kScalar);
  std::vector<float> want(gate.size());
  ref::gelu_tanh_mul(gate.data(), up.data(), static_cast<int64_t>(gate.size()), want.data());
  for (Isa isa : isas) {
    set_isa_override(isa);
    ThreadPool pool(2);
    std::vector<float> got(gate.size(), NAN);
    gelu_tanh_mul(gate.data(), up.data(), static_cast<int64_t>(gate.size()), got.data(), &pool);
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(std::memcmp(&got[i], &want[i], sizeof(float)), 0)
          << isa_name(isa) << " gate " << gate[i] << ": " << got[i] << " vs " << want[i];
    }
  }
  set_isa_override(std::nullopt);
}

}  // namespace
}  // namespace tessera::kernels
