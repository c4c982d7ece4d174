// GgufFile on the real files in ../shared/models: metadata, tensor directory and tensor bytes
// as llama.cpp wrote them, including the quirks listed in shared/README.md.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_test_util.h"

namespace tessera::gguf {
namespace {

using testing::shared_path;

std::unique_ptr<GgufFile> open_shared(const std::string& relative) {
  auto file = GgufFile::open(shared_path(relative));
  EXPECT_TRUE(file.ok()) << file.status().message();
  return file.ok() ? std::move(file).value() : nullptr;
}

TEST(GgufRealFile, ReadsStories260KMetadata) {
  auto file = open_shared("models/stories260K-f32.gguf");
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->alignment(), 32u);
  EXPECT_EQ(file->metadata().size(), 19u);
  EXPECT_EQ(file->get_string("general.architecture"), "llama");
  EXPECT_EQ(file->get_int("llama.embedding_length"), 64);
  EXPECT_EQ(file->get_int("llama.feed_forward_length"), 172);
  EXPECT_EQ(file->get_int("llama.context_length"), 128);  // the README's quirk: trained at 512
  EXPECT_EQ(file->get_int("llama.attention.head_count_kv"), 4);
  EXPECT_EQ(file->get_int("tokenizer.ggml.seperator_token_id"), 0xFFFFFFFFll);  // "none"
  EXPECT_EQ(file->find("llama.rope.freq_base"), nullptr);
  ASSERT_TRUE(file->get_float("llama.attention.layer_norm_rms_epsilon").has_value());
  EXPECT_NEAR(*file->get_float("llama.attention.layer_norm_rms_epsilon"), 1e-5, 1e-12);

  const ArrayValue* tokens = file->get_array("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->element_type, ValueType::kString);
  ASSERT_EQ(tokens->strings.size(), 512u);
  EXPECT_EQ(tokens->strings[0], "<unk>");
  EXPECT_EQ(tokens->strings[1], "<s>");
  EXPECT_EQ(tokens->strings[2], "</s>");
  const ArrayValue* scores = file->get_array("tokenizer.ggml.scores");
  ASSERT_NE(scores, nullptr);
  EXPECT_EQ(scores->element_type, ValueType::kFloat32);
  EXPECT_EQ(scores->floats.size(), 512u);
  const ArrayValue* token_types = file->get_array("tokenizer.ggml.token_type");
  ASSERT_NE(token_types, nullptr);
  EXPECT_EQ(token_types->element_type, ValueType::kInt32);
  EXPECT_EQ(token_types->ints.size(), 512u);
}

TEST(GgufRealFile, ReadsStories260KTensorDirectory) {
  auto file = open_shared("models/stories260K-f32.gguf");
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->tensors().size(), 48u);  // embd, norm, output + 5 layers x 9
  const TensorInfo* embd = file->find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->type, DType::kF32);
  EXPECT_EQ(embd->shape, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(embd->num_elements(), 64 * 512);
  EXPECT_EQ(embd->num_bytes, 64u * 512u * 4u);
  EXPECT_NE(file->find_tensor("output.weight"), nullptr);
  // The header ends at byte 14152, so the data section starts at 14176; the last tensor
  // ends exactly at the end of the file.
  const TensorInfo& last = file->tensors().back();
  EXPECT_EQ(last.name, "blk.4.ffn_norm.weight");
  EXPECT_EQ(14176 + last.offset + last.num_bytes, file->file_bytes());
}

TEST(GgufRealFile, Stories260KEmbeddingsMatchTheLlama2cCheckpoint) {
  // stories260K.bin: seven int32 config fields, then token_embedding_table [512][64] f32,
  // the same bytes as the GGUF's token_embd.weight.
  auto file = open_shared("models/stories260K-f32.gguf");
  ASSERT_NE(file, nullptr);
  std::ifstream checkpoint(shared_path("models/stories260K.bin"), std::ios::binary);
  ASSERT_TRUE(checkpoint.good());
  const std::string bin((std::istreambuf_iterator<char>(checkpoint)), std::istreambuf_iterator<char>());
  const TensorInfo* embd = file->find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  ASSERT_GE(bin.size(), 28 + embd->num_bytes);
  EXPECT_EQ(std::memcmp(bin.data() + 28, file->tensor_data(*embd), embd->num_bytes), 0);
}

TEST(GgufRealFile, Stories260KQ8_0KeepsFfnDownInF16) {
  auto file = open_shared("models/stories260K-Q8_0.gguf");
  ASSERT_NE(file, nullptr);
  const TensorInfo* down = file->find_tensor("blk.0.ffn_down.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->type, DType::kF16);  // rows of 172 are not whole Q8_0 blocks
  EXPECT_EQ(down->shape, (std::vector<int64_t>{172, 64}));
  EXPECT_EQ(down->num_bytes, 172u * 64u * 2u);
  const TensorInfo* embd = file->find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->type, DType::kQ8_0);
  EXPECT_EQ(embd->num_bytes, 2u * 34u * 512u);
}

TEST(GgufRealFile, ReadsTinyStories656KQ8_0) {
  auto file = open_shared("models/TinyStories-656K-Q8_0.gguf");
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->tensors().size(), 20u);
  EXPECT_EQ(file->get_string("general.architecture"), "llama");
  EXPECT_EQ(file->get_int("llama.embedding_length"), 128);
  EXPECT_EQ(file->get_float("llama.rope.freq_base"), 10000.0);
  EXPECT_EQ(file->get_bool("tokenizer.ggml.add_bos_token"), true);
  EXPECT_EQ(file->get_bool("tokenizer.ggml.add_eos_token"), false);
  EXPECT_EQ(file->get_int("tokenizer.ggml.add_bos_token"), 1);  // get_int accepts bools
  const ArrayValue* tokens = file->get_array("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  ASSERT_EQ(tokens->size(), 2048u);
  EXPECT_EQ(tokens->strings[1], "<|start_story|>");
  EXPECT_EQ(tokens->strings[3], "\n");
  EXPECT_EQ(file->find_tensor("output.weight"), nullptr);  // tied embeddings
  const TensorInfo* embd = file->find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->type, DType::kQ8_0);
  EXPECT_EQ(embd->shape, (std::vector<int64_t>{128, 2048}));
  EXPECT_EQ(embd->offset, 512u);
  EXPECT_EQ(embd->num_bytes, 4u * 34u * 2048u);
}

TEST(GgufRealFile, ReadsVocabOnlyFileWithoutTensors) {
  // The file ends right after its metadata, with no padding up to a data section.
  auto file = open_shared("models/vocab/ggml-vocab-gpt-2.gguf");
  ASSERT_NE(file, nullptr);
  EXPECT_TRUE(file->tensors().empty());
  EXPECT_EQ(file->get_string("general.architecture"), "gpt2");
  EXPECT_EQ(file->get_string("tokenizer.ggml.model"), "gpt2");
  ASSERT_NE(file->get_array("tokenizer.ggml.tokens"), nullptr);
  EXPECT_EQ(file->get_array("tokenizer.ggml.tokens")->size(), 50257u);
  ASSERT_NE(file->get_array("tokenizer.ggml.merges"), nullptr);
  EXPECT_EQ(file->get_array("tokenizer.ggml.merges")->strings[0], "\xC4\xA0 t");
  EXPECT_EQ(file->get_int("tokenizer.ggml.eos_token_id"), 50256);
}

TEST(GgufRealFile, RejectsTruncatedCopiesOfARealFile) {
  std::ifstream in(shared_path("models/stories260K-Q8_0.gguf"), std::ios::binary);
  const std::string whole((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(whole.size(), 20000u);
  // Dense cuts through the header (every 7th byte) and a spread through the tensor data.
  for (size_t cut = 0; cut < whole.size(); cut += (cut < 16384 ? 7 : 4099)) {
    auto file = GgufFile::from_bytes(std::string_view(whole).substr(0, cut), "cut.gguf");
    ASSERT_FALSE(file.ok()) << "cut at " << cut;
    EXPECT_EQ(file.status().code(), StatusCode::kCorruptData) << file.status().message();
  }
}

TEST(GgufRealFile, OpensEveryShippedGguf) {
  int num_files = 0;
  for (const char* dir : {"models", "models/synthetic", "models/vocab"}) {
    for (const auto& entry : std::filesystem::directory_iterator(shared_path(dir))) {
      if (entry.path().extension() != ".gguf") continue;
      ++num_files;
      auto file = GgufFile::open(entry.path().string());
      ASSERT_TRUE(file.ok()) << file.status().message();
      for (const TensorInfo& info : (*file)->tensors()) {
        const auto address = reinterpret_cast<uintptr_t>((*file)->tensor_data(info));
        EXPECT_EQ(address % (*file)->alignment(), 0u) << entry.path() << " " << info.name;
      }
    }
  }
  EXPECT_GE(num_files, 19);
}

}  // namespace
}  // namespace tessera::gguf
