// Importance-weighted quantizers and the importance matrix file.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <vector>

#include "gguf/gguf_writer.h"
#include "quantize/importance_matrix.h"
#include "quantize/importance_quantize.h"
#include "tensor/quant.h"

namespace tessera::quantize {
namespace {

// Sum over rows of sum_j importance_j * (x_j - dequantized_j)^2.
double weighted_error(DType type, const std::vector<float>& x, int64_t n, const std::vector<float>& importance,
                      bool use_importance) {
  std::vector<uint8_t> bytes(row_bytes(type, n));
  std::vector<float> back(static_cast<size_t>(n));
  double error = 0;
  for (size_t r = 0; r < x.size() / static_cast<size_t>(n); ++r) {
    const float* row = x.data() + r * n;
    quantize_row_with_importance(type, row, bytes.data(), n, use_importance ? importance.data() : nullptr);
    dequantize_row_ref(type, bytes.data(), back.data(), n);
    for (int64_t j = 0; j < n; ++j) error += importance[j] * (row[j] - back[j]) * (row[j] - back[j]);
  }
  return error;
}

class ImportanceQuantize : public testing::TestWithParam<DType> {};

// Heavy-tailed weights, and a few input channels that carry most of the activation energy (as in
// real models): the importance-weighted rounding must lose less where it matters.
TEST_P(ImportanceQuantize, LowersTheImportanceWeightedError) {
  const DType type = GetParam();
  const int64_t n = 512;
  std::mt19937 rng(7);
  std::student_t_distribution<float> weight(4.0f);
  std::vector<float> x(static_cast<size_t>(n) * 64);
  for (float& v : x) v = 0.02f * weight(rng);
  std::vector<float> importance(static_cast<size_t>(n));
  std::exponential_distribution<float> energy(1.0f);
  for (float& v : importance) v = energy(rng) * energy(rng) * energy(rng);
  const double plain = weighted_error(type, x, n, importance, false);
  const double weighted = weighted_error(type, x, n, importance, true);
  EXPECT_LT(weighted, 0.9 * plain) << dtype_name(type) << ": plain " << plain << ", weighted " << weighted;
}

TEST_P(ImportanceQuantize, WithoutImportanceIsTheReferenceQuantizer) {
  const DType type = GetParam();
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> x(256);
  for (float& v : x) v = normal(rng);
  std::vector<uint8_t> ours(row_bytes(type, 256)), reference(row_bytes(type, 256));
  quantize_row_with_importance(type, x.data(), ours.data(), 256, nullptr);
  quantize_row_ref(type, x.data(), reference.data(), 256);
  EXPECT_EQ(ours, reference);
}

TEST_P(ImportanceQuantize, AllZeroRowStaysZero) {
  const DType type = GetParam();
  std::vector<float> x(256, 0.0f), importance(256, 1.0f), back(256, 1.0f);
  std::vector<uint8_t> bytes(row_bytes(type, 256));
  quantize_row_with_importance(type, x.data(), bytes.data(), 256, importance.data());
  dequantize_row_ref(type, bytes.data(), back.data(), 256);
  for (float v : back) EXPECT_EQ(v, 0.0f);
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, ImportanceQuantize,
                         testing::Values(DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ2_K,
                                         DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(ImportanceMatrix, AccumulatesSavesAndLoads) {
  ImportanceMatrix m;
  const float rows[] = {1, 2, 3, -1, 0, 1};  // 2 rows x 3 columns
  m.accumulate("blk.0.attn_q.weight", rows, 2, 3);
  m.accumulate("blk.0.attn_q.weight", rows, 1, 3);
  EXPECT_EQ(m.mean_squares("blk.0.attn_q.weight"), (std::vector<float>{1.0f, 8.0f / 3, 19.0f / 3}));
  m.datasets = {"calibration.txt"};
  m.num_chunks = 4;
  m.chunk_size = 128;
  const std::string path = testing::TempDir() + "/imatrix_roundtrip.gguf";
  ASSERT_TRUE(m.save(path).ok());
  auto loaded = ImportanceMatrix::load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->mean_squares("blk.0.attn_q.weight"), m.mean_squares("blk.0.attn_q.weight"));
  EXPECT_EQ(loaded->datasets, m.datasets);
  EXPECT_EQ(loaded->num_chunks, 4);
  EXPECT_EQ(loaded->chunk_size, 128);
  std::filesystem::remove(path);
}

// An expert tensor keeps one sum and count per expert (llama.cpp's [num_cols, num_experts]
// in_sum2 and [1, num_experts] counts); an expert no token reached means importance 1.
TEST(ImportanceMatrix, KeepsOneEntryPerExpert) {
  ImportanceMatrix m;
  const float rows[] = {1, 2, 3, -1, 0, 1};  // 2 rows x 3 columns
  m.accumulate("blk.0.ffn_up_exps.weight", rows, 2, 3, /*mat=*/1, /*num_mats=*/3);
  m.accumulate("blk.0.ffn_up_exps.weight", rows, 1, 3, /*mat=*/2, /*num_mats=*/3);
  const std::vector<float> expected = {1, 1, 1, 1.0f, 2.0f, 5.0f, 1.0f, 4.0f, 9.0f};
  EXPECT_EQ(m.mean_squares("blk.0.ffn_up_exps.weight"), expected);
  EXPECT_TRUE(m.mean_gram("blk.0.ffn_up_exps.weight").empty());
  const std::string path = testing::TempDir() + "/imatrix_experts.gguf";
  ASSERT_TRUE(m.save(path).ok());
  auto file = gguf::GgufFile::open(path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->find_tensor("blk.0.ffn_up_exps.weight.in_sum2")->shape, (std::vector<int64_t>{3, 3}));
  EXPECT_EQ((*file)->find_tensor("blk.0.ffn_up_exps.weight.counts")->shape, (std::vector<int64_t>{1, 3}));
  auto loaded = ImportanceMatrix::load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->mean_squares("blk.0.ffn_up_exps.weight"), expected);
  std::filesystem::remove(path);
}

TEST(ImportanceMatrix, RejectsAFileThatIsNotAnImatrix) {
  gguf::GgufWriter writer;
  writer.set("general.architecture", gguf::MetadataValue::string("llama"));
  const std::string path = testing::TempDir() + "/not_imatrix.gguf";
  ASSERT_TRUE(writer.write(path).ok());
  auto loaded = ImportanceMatrix::load(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("not an importance matrix"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(ImportanceMatrix, NamesTheMismatchWhenMadeForAnotherModel) {
  gguf::GgufWriter writer;
  writer.set("general.architecture", gguf::MetadataValue::string("llama"));
  const std::vector<float> w(64 * 8, 0.0f);
  ASSERT_TRUE(writer.add_tensor("blk.0.attn_q.weight", DType::kF32, {64, 8}, w.data(), w.size() * 4).ok());
  auto model = gguf::GgufFile::from_bytes(writer.to_bytes(), "small.gguf");
  ASSERT_TRUE(model.ok());
  ImportanceMatrix wider;
  const std::vector<float> row(128, 1.0f);
  wider.accumulate("blk.0.attn_q.weight", row.data(), 1, 128);
  Status s = wider.check_matches(**model);
  EXPECT_NE(s.message().find("128 columns for blk.0.attn_q.weight, the tensor in small.gguf has 64"),
            std::string::npos) << s.message();
  ImportanceMatrix other;
  other.accumulate("blk.7.ffn_down.weight", row.data(), 1, 128);
  s = other.check_matches(**model);
  EXPECT_NE(s.message().find("made for another model"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace tessera::quantize
