// Byte-for-byte agreement of quantize_row_ref with llama.cpp's quantizer: every quantized tensor
// in the shared GGUF files (made by llama-quantize without an importance matrix, i.e. by ggml's
// quantize_row_*_ref) must equal quantize_row_ref applied to the same tensor of the f32 file.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "tensor/dtype.h"
#include "tensor/quant.h"

namespace tessera {
namespace {

const std::string kModels = std::string(TESSERA_SHARED_DIR) + "/models/";

std::unique_ptr<gguf::GgufFile> open_or_skip(const std::string& path) {
  auto file = gguf::GgufFile::open(path);
  if (!file.ok()) return nullptr;
  return std::move(file).value();
}

struct Comparison {
  int num_tensors = 0;   // tensors compared
  int64_t num_rows = 0;  // rows compared
  int64_t num_mismatched_rows = 0;
  int64_t num_mismatched_bytes = 0;
};

// Re-quantizes one tensor row by row and counts rows and bytes that differ from the stored ones.
void compare_tensor(const gguf::GgufFile& f32_file, const gguf::GgufFile& quantized_file,
                    const gguf::TensorInfo& quantized, Comparison* total) {
  const gguf::TensorInfo* source = f32_file.find_tensor(quantized.name);
  ASSERT_NE(source, nullptr) << quantized.name << " missing from " << f32_file.path();
  ASSERT_EQ(source->type, DType::kF32) << quantized.name;
  ASSERT_EQ(source->shape, quantized.shape) << quantized.name;
  const int64_t row_length = quantized.shape[0];
  const int64_t num_rows = quantized.num_elements() / row_length;
  const size_t bytes_per_row = row_bytes(quantized.type, row_length);
  ASSERT_EQ(quantized.num_bytes, bytes_per_row * static_cast<size_t>(num_rows)) << quantized.name;

  const auto* source_rows = reinterpret_cast<const float*>(f32_file.tensor_data(*source));
  const uint8_t* stored_rows = quantized_file.tensor_data(quantized);
  std::vector<uint8_t> ours(bytes_per_row);
  int64_t mismatched_rows = 0;
  for (int64_t r = 0; r < num_rows; ++r) {
    quantize_row_ref(quantized.type, source_rows + r * row_length, ours.data(), row_length);
    const uint8_t* theirs = stored_rows + static_cast<size_t>(r) * bytes_per_row;
    if (std::memcmp(ours.data(), theirs, bytes_per_row) == 0) continue;
    ++mismatched_rows;
    for (size_t b = 0; b < bytes_per_row; ++b) total->num_mismatched_bytes += ours[b] != theirs[b];
  }
  EXPECT_EQ(mismatched_rows, 0) << quantized.name << " (" << dtype_name(quantized.type) << ", " << num_rows
                                << " rows of " << row_length << ") in " << quantized_file.path();
  total->num_tensors += 1;
  total->num_rows += num_rows;
  total->num_mismatched_rows += mismatched_rows;
}

// Compares every tensor of `quantized_name` stored in a type other than F32 with the same tensor
// of `f32_name`, re-quantized by us.
void compare_files(const std::string& f32_name, const std::string& quantized_name) {
  const auto f32_file = open_or_skip(kModels + f32_name);
  const auto quantized_file = open_or_skip(kModels + quantized_name);
  if (f32_file == nullptr || quantized_file == nullptr)
    GTEST_SKIP() << "model files not found in " << kModels;

  Comparison by_type[64] = {};  // indexed by GGUF type id (all ours are < 64)
  for (const gguf::TensorInfo& tensor : quantized_file->tensors()) {
    if (tensor.type == DType::kF32) continue;  // copied, not quantized
    compare_tensor(*f32_file, *quantized_file, tensor, &by_type[static_cast<uint32_t>(tensor.type)]);
  }
  for (uint32_t id = 0; id < 64; ++id) {
    const Comparison& c = by_type[id];
    if (c.num_tensors == 0) continue;
    // Printed so the test log states what was covered, not just that nothing failed.
    std::printf("  %-36s %-5s %3d tensors %7lld rows: %lld rows / %lld bytes differ\n",
                quantized_name.c_str(), std::string(dtype_name(static_cast<DType>(id))).c_str(),
                c.num_tensors, static_cast<long long>(c.num_rows),
                static_cast<long long>(c.num_mismatched_rows),
                static_cast<long long>(c.num_mismatched_bytes));
  }
}

TEST(QuantMatchesLlamaCpp, SyntheticQ2_K) {
  compare_files("synthetic/synth-kq-d256-f32.gguf", "synthetic/synth-kq-d256-Q2_K.gguf");
}
TEST(QuantMatchesLlamaCpp, SyntheticQ3_K_M) {
  compare_files("synthetic/synth-kq-d256-f32.gguf", "synthetic/synth-kq-d256-Q3_K_M.gguf");
}
TEST(QuantMatchesLlamaCpp, SyntheticQ4_K_M) {
  compare_files("synthetic/synth-kq-d256-f32.gguf", "synthetic/synth-kq-d256-Q4_K_M.gguf");
}
TEST(QuantMatchesLlamaCpp, SyntheticQ5_K_M) {
  compare_files("synthetic/synth-kq-d256-f32.gguf", "synthetic/synth-kq-d256-Q5_K_M.gguf");
}
TEST(QuantMatchesLlamaCpp, SyntheticQ6_K) {
  compare_files("synthetic/synth-kq-d256-f32.gguf", "synthetic/synth-kq-d256-Q6_K.gguf");
}
TEST(QuantMatchesLlamaCpp, SyntheticMoeQ8_0) {
  compare_files("synthetic/synth-moe-d128-e8k2-f32.gguf", "synthetic/synth-moe-d128-e8k2-Q8_0.gguf");
}
TEST(QuantMatchesLlamaCpp, Stories260K) {
  for (const char* name : {"stories260K-Q8_0.gguf", "stories260K-Q4_0.gguf", "stories260K-Q4_K_M.gguf"}) {
    compare_files("stories260K-f32.gguf", name);
  }
}
TEST(QuantMatchesLlamaCpp, TinyStories656K) {
  for (const char* name :
       {"TinyStories-656K-Q8_0.gguf", "TinyStories-656K-Q4_0.gguf", "TinyStories-656K-Q4_K_M.gguf"}) {
    compare_files("TinyStories-656K-f32.gguf", name);
  }
}

}  // namespace
}  // namespace tessera
