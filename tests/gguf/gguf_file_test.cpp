// GgufFile against malformed input: every bad file is a clean Status naming the file and the
// problem. Real shipped files are covered in gguf_real_file_test.cpp, round trips in
// gguf_writer_test.cpp.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_test_util.h"
#include "gguf/gguf_writer.h"

namespace tessera::gguf {
namespace {

using testing::RawGguf;
using testing::ScratchPath;
using testing::starts_with;

constexpr uint64_t kHuge60 = uint64_t{1} << 60;

// Parses `bytes` as "bad.gguf" and returns the (expected) failure.
Status parse_failure(const std::string& bytes) {
  auto file = GgufFile::from_bytes(bytes, "bad.gguf");
  EXPECT_FALSE(file.ok()) << "parsed a file that should have been rejected";
  return file.ok() ? Status::ok_status() : file.status();
}

#define EXPECT_GGUF_ERROR(bytes, code_, message_)           \
  do {                                                      \
    const Status _status = parse_failure(bytes);            \
    EXPECT_EQ(_status.code(), code_) << _status.message();  \
    EXPECT_EQ(_status.message(), message_);                 \
  } while (0)

// A small valid file whose last tensor ends exactly at the end of the file (no trailing
// padding), so that every strict prefix of it is missing something.
std::string small_valid_file() {
  GgufWriter writer;
  writer.set("general.architecture", MetadataValue::string("llama"));
  writer.set("tokens", MetadataValue::string_array({"<unk>", "a", "bc"}));
  writer.set("scores", MetadataValue::f32_array({0.5f, -1.0f, 2.0f}));
  writer.set("count", MetadataValue::u32(7));
  const std::vector<float> data(16, 1.0f);
  EXPECT_TRUE(writer.add_tensor("first", DType::kF32, {4, 2}, data.data(), 32).ok());
  EXPECT_TRUE(writer.add_tensor("second", DType::kF32, {8}, data.data(), 32).ok());
  return writer.to_bytes();
}

TEST(GgufFile, RejectsEveryTruncatedPrefixCleanly) {
  const std::string whole = small_valid_file();
  ASSERT_TRUE(GgufFile::from_bytes(whole, "whole.gguf").ok());
  for (size_t cut = 0; cut < whole.size(); ++cut) {
    const Status status = parse_failure(whole.substr(0, cut));
    EXPECT_EQ(status.code(), StatusCode::kCorruptData) << "cut at " << cut << ": " << status.message();
    EXPECT_TRUE(starts_with(status.message(), "bad.gguf: ")) << status.message();
    const std::string& m = status.message();
    EXPECT_TRUE(m.find("truncated") != std::string::npos || m.find("past the end") != std::string::npos ||
                m.find("empty file") != std::string::npos)
        << "cut at " << cut << ": " << m;
  }
}

TEST(GgufFile, SurvivesRandomByteCorruption) {
  // A poor man's fuzzer: whatever the bytes say, the answer is a file or a clean error.
  const std::string whole = small_valid_file();
  std::mt19937 rng(1234);
  for (int round = 0; round < 3000; ++round) {
    std::string bytes = whole;
    const int num_flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < num_flips; ++i) bytes[rng() % bytes.size()] = static_cast<char>(rng() & 0xFF);
    auto file = GgufFile::from_bytes(bytes, "fuzz.gguf");
    if (!file.ok()) {
      EXPECT_TRUE(starts_with(file.status().message(), "fuzz.gguf: ")) << file.status().message();
    }
  }
}

TEST(GgufFile, NamesTheMetadataKeyThatIsCutOff) {
  const std::string bytes = RawGguf().header(3, 0, 2).key("a", ValueType::kUint8).u8(1).u64(10).zeros(4).bytes();
  EXPECT_GGUF_ERROR(bytes, StatusCode::kCorruptData,
                    "bad.gguf: truncated: metadata key #1 runs past the end of the file "
                    "(a string of 10 bytes at offset 46, 4 bytes left)");
}

TEST(GgufFile, RejectsEmptyInput) {
  EXPECT_GGUF_ERROR("", StatusCode::kCorruptData, "bad.gguf: empty file (0 bytes), not a GGUF file");
}

TEST(GgufFile, RejectsInputSmallerThanTheHeader) {
  EXPECT_GGUF_ERROR(std::string("GGUF\x03\0\0\0", 8), StatusCode::kCorruptData,
                    "bad.gguf: truncated: the file is 8 bytes, smaller than the 24-byte GGUF header");
}

TEST(GgufFile, RejectsWrongMagic) {
  std::string bytes = RawGguf().header(3, 0, 0).bytes();
  bytes.replace(0, 4, "GGML");
  EXPECT_GGUF_ERROR(bytes, StatusCode::kCorruptData, "bad.gguf: not a GGUF file (starts with 'GGML', expected 'GGUF')");
  bytes.replace(0, 4, std::string("\x7f" "ELF", 4));
  EXPECT_GGUF_ERROR(bytes, StatusCode::kCorruptData,
                    "bad.gguf: not a GGUF file (starts with 7f 45 4c 46, expected 'GGUF')");
}

TEST(GgufFile, RejectsVersion1) {
  EXPECT_GGUF_ERROR(RawGguf().header(1, 0, 0).bytes(), StatusCode::kUnsupported,
                    "bad.gguf: GGUF version 1 is not supported (only 2 and 3)");
}

TEST(GgufFile, RejectsVersion99) {
  EXPECT_GGUF_ERROR(RawGguf().header(99, 0, 0).bytes(), StatusCode::kUnsupported,
                    "bad.gguf: GGUF version 99 is not supported (only 2 and 3)");
}

TEST(GgufFile, RecognisesABigEndianFile) {
  const Status status = parse_failure(RawGguf().header(0x03000000, 0, 0).bytes());
  EXPECT_EQ(status.code(), StatusCode::kUnsupported);
  EXPECT_NE(status.message().find("big-endian"), std::string::npos) << status.message();
}

TEST(GgufFile, AcceptsVersion2) {
  auto file = GgufFile::from_bytes(RawGguf().header(2, 0, 1).key("k", ValueType::kUint32).u32(5).bytes());
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ((*file)->version(), 2u);
  EXPECT_EQ((*file)->get_int("k"), 5);
}

TEST(GgufFile, RejectsTensorPastEndOfFile) {
  // Header of 57 bytes, data section at 64; the f32[16] tensor needs [64, 128) of a 96-byte file.
  const std::string bytes = RawGguf().header(3, 1, 0).tensor("w", {16}, 0, 0).pad_to(32).zeros(32).bytes();
  EXPECT_GGUF_ERROR(bytes, StatusCode::kCorruptData,
                    "bad.gguf: tensor 'w' data [64, 128) lies past the end of the file (96 bytes)");
}

TEST(GgufFile, RejectsTensorOffsetThatWouldWrapAround) {
  const uint64_t offset = ~uint64_t{0} - 31;  // a multiple of 32; offset + data start wraps
  const std::string bytes = RawGguf().header(3, 1, 0).tensor("w", {8}, 0, offset).pad_to(32).zeros(32).bytes();
  const Status status = parse_failure(bytes);
  EXPECT_EQ(status.code(), StatusCode::kCorruptData);
  EXPECT_TRUE(starts_with(status.message(), "bad.gguf: tensor 'w' data [")) << status.message();
  EXPECT_NE(status.message().find("lies past the end of the file (96 bytes)"), std::string::npos);
}

TEST(GgufFile, RejectsUnknownTensorType) {
  const std::string bytes = RawGguf().header(3, 1, 0).tensor("blk.0.w", {32}, 99, 0).pad_to(32).zeros(128).bytes();
  EXPECT_GGUF_ERROR(bytes, StatusCode::kUnsupported, "bad.gguf: tensor 'blk.0.w' has unknown tensor type 99");
}

TEST(GgufFile, RejectsFiveDimensions) {
  const std::string bytes = RawGguf().header(3, 1, 0).tensor("w", {1, 1, 1, 1, 1}, 0, 0).pad_to(32).zeros(32).bytes();
  EXPECT_GGUF_ERROR(bytes, StatusCode::kCorruptData, "bad.gguf: tensor 'w' has 5 dimensions (1 to 4 are allowed)");
}

TEST(GgufFile, RejectsZeroSizedDimension) {
  const std::string bytes = RawGguf().header(3, 1, 0).tensor("w", {4, 0}, 0, 0).pad_to(32).zeros(32).bytes();
  EXPECT_GGUF_ERROR(bytes, StatusCode::kCorruptData, "bad.gguf: tensor 'w' has dimension 1 of size 0");
}

TEST(GgufFile, RejectsShapeWhoseElementCountOverflows) {
  const uint64_t big = uint64_t{1} << 32;
  const std::string bytes = RawGguf().header(3, 1, 0).tensor("w", {big, big}, 0, 0).pad_to(32).bytes();
  EXPECT_GGUF_ERROR(bytes, StatusCode::kCorruptData, "bad.gguf: tensor 'w' has more elements than fit in 64 bits");
}

TEST(GgufFile, RejectsRowThatIsNotWholeBlocks) {
  const std::string bytes = RawGguf().header(3, 1, 0).tensor("w", {33, 2}, 8, 0).pad_to(32).zeros(256).bytes();
  EXPECT_GGUF_ERROR(bytes, StatusCode::kCorruptData,
                    "bad.gguf: tensor 'w' has rows of 33 elements, not a multiple of the q8_0 block size 32");
}

TEST(GgufFile, RejectsMisalignedTensorOffset) {
  const std::string bytes = RawGguf().header(3, 1, 0).tensor("w", {4}, 0, 16).pad_to(32).zeros(64).bytes();
  EXPECT_GGUF_ERROR(bytes, StatusCode::kCorruptData,
                    "bad.gguf: tensor 'w' has data offset 16, not a multiple of the alignment 32");
}

TEST(GgufFile, RejectsAbsurdStringLength) {
  const std::string bytes = RawGguf().header(3, 0, 1).u64(kHuge60).zeros(16).bytes();
  EXPECT_GGUF_ERROR(bytes, StatusCode::kCorruptData,
                    "bad.gguf: truncated: metadata key #0 runs past the end of the file "
                    "(a string of 1152921504606846976 bytes at offset 32, 16 bytes left)");
  const std::string value = RawGguf().header(3, 0, 1).key("name", ValueType::kString).u64(kHuge60).bytes();
  EXPECT_GGUF_ERROR(value, StatusCode::kCorruptData,
                    "bad.gguf: truncated: the value of metadata key 'name' runs past the end of the file "
                    "(a string of 1152921504606846976 bytes at offset 48, 0 bytes left)");
}

TEST(GgufFile, RejectsAbsurdArrayCount) {
  const std::string ints = RawGguf()
                               .header(3, 0, 1)
                               .key("a", ValueType::kArray)
                               .u32(static_cast<uint32_t>(ValueType::kUint32))
                               .u64(uint64_t{1} << 61)
                               .zeros(8)
                               .bytes();
  EXPECT_GGUF_ERROR(ints, StatusCode::kCorruptData,
                    "bad.gguf: truncated: the array of metadata key 'a' declares 2305843009213693952 uint32 "
                    "elements but only 8 bytes are left in the file");
  const std::string strings = RawGguf()
                                  .header(3, 0, 1)
                                  .key("tokens", ValueType::kArray)
                                  .u32(static_cast<uint32_t>(ValueType::kString))
                                  .u64(~uint64_t{0})
                                  .bytes();
  const Status status = parse_failure(strings);
  EXPECT_EQ(status.code(), StatusCode::kCorruptData);
  EXPECT_TRUE(starts_with(status.message(), "bad.gguf: truncated: the array of metadata key 'tokens' declares"));
}

TEST(GgufFile, RejectsAbsurdEntryCounts) {
  EXPECT_GGUF_ERROR(RawGguf().header(3, 0, kHuge60).bytes(), StatusCode::kCorruptData,
                    "bad.gguf: truncated: the header declares 1152921504606846976 metadata entries but only 0 "
                    "bytes follow it");
  EXPECT_GGUF_ERROR(RawGguf().header(3, kHuge60, 0).zeros(40).bytes(), StatusCode::kCorruptData,
                    "bad.gguf: truncated: the header declares 1152921504606846976 tensors but only 40 bytes are "
                    "left for their descriptions");
}

TEST(GgufFile, RejectsNestedArray) {
  const std::string bytes = RawGguf()
                                .header(3, 0, 1)
                                .key("nested", ValueType::kArray)
                                .u32(static_cast<uint32_t>(ValueType::kArray))
                                .u64(0)
                                .bytes();
  EXPECT_GGUF_ERROR(bytes, StatusCode::kUnsupported, "bad.gguf: metadata key 'nested' holds nested arrays (not supported)");
}

TEST(GgufFile, RejectsUnknownValueType) {
  const std::string bytes = RawGguf().header(3, 0, 1).str("k").u32(13).zeros(8).bytes();
  EXPECT_GGUF_ERROR(bytes, StatusCode::kCorruptData, "bad.gguf: metadata key 'k' has unknown value type 13");
}

TEST(GgufFile, RejectsBadAlignment) {
  auto with_alignment = [](uint32_t alignment) {
    return RawGguf().header(3, 0, 1).key("general.alignment", ValueType::kUint32).u32(alignment).bytes();
  };
  EXPECT_GGUF_ERROR(with_alignment(48), StatusCode::kCorruptData,
                    "bad.gguf: general.alignment is 48, not a nonzero power of two");
  EXPECT_GGUF_ERROR(with_alignment(0), StatusCode::kCorruptData,
                    "bad.gguf: general.alignment is 0, not a nonzero power of two");
  const std::string as_u64 = RawGguf().header(3, 0, 1).key("general.alignment", ValueType::kUint64).u64(64).bytes();
  EXPECT_GGUF_ERROR(as_u64, StatusCode::kCorruptData, "bad.gguf: general.alignment must be a uint32, not uint64");
}

TEST(GgufFile, RejectsDuplicateKey) {
  const std::string bytes = RawGguf()
                                .header(3, 0, 3)
                                .key("a", ValueType::kUint32).u32(1)
                                .key("b", ValueType::kUint32).u32(2)
                                .key("a", ValueType::kUint32).u32(3)
                                .bytes();
  EXPECT_GGUF_ERROR(bytes, StatusCode::kCorruptData, "bad.gguf: duplicate metadata key 'a'");
}

TEST(GgufFile, RejectsDuplicateTensorName) {
  const std::string bytes =
      RawGguf().header(3, 2, 0).tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32).pad_to(32).zeros(64).bytes();
  EXPECT_GGUF_ERROR(bytes, StatusCode::kCorruptData, "bad.gguf: duplicate tensor name 'w'");
}

TEST(GgufFile, OpenRejectsEmptyFile) {
  ScratchPath path("empty");
  std::ofstream(path.str()).close();
  auto file = GgufFile::open(path.str());
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kCorruptData);
  EXPECT_EQ(file.status().message(), path.str() + ": empty file (0 bytes), not a GGUF file");
}

TEST(GgufFile, OpenRejectsFileSmallerThanTheHeader) {
  ScratchPath path("tiny");
  std::ofstream(path.str(), std::ios::binary) << "GGUF";
  auto file = GgufFile::open(path.str());
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().message(),
            path.str() + ": truncated: the file is 4 bytes, smaller than the 24-byte GGUF header");
}

TEST(GgufFile, OpenReportsNonexistentPath) {
  auto file = GgufFile::open("/nonexistent/dir/model.gguf");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(file.status().message(), "/nonexistent/dir/model.gguf: no such file");
}

TEST(GgufFile, OpenRejectsADirectory) {
  auto file = GgufFile::open(std::filesystem::temp_directory_path().string());
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kIoError);
  EXPECT_NE(file.status().message().find("not a regular file"), std::string::npos);
}

TEST(GgufFile, OpenMapsAValidFile) {
  ScratchPath path("valid");
  const std::string bytes = small_valid_file();
  std::ofstream(path.str(), std::ios::binary) << bytes;
  auto file = GgufFile::open(path.str());
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ((*file)->path(), path.str());
  EXPECT_EQ((*file)->file_bytes(), bytes.size());
  const TensorInfo* second = (*file)->find_tensor("second");
  ASSERT_NE(second, nullptr);
  const uint8_t* data = (*file)->tensor_data(*second);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(data) % (*file)->alignment(), 0u);
  float first_value = 0;
  std::memcpy(&first_value, data, sizeof(float));
  EXPECT_EQ(first_value, 1.0f);
}

TEST(GgufFile, GettersReturnNothingForMissingKeysOrWrongTypes) {
  auto file = GgufFile::from_bytes(small_valid_file());
  ASSERT_TRUE(file.ok());
  const GgufFile& f = **file;
  EXPECT_EQ(f.find("missing"), nullptr);
  EXPECT_EQ(f.get_int("missing"), std::nullopt);
  EXPECT_EQ(f.get_int("general.architecture"), std::nullopt);   // a string
  EXPECT_EQ(f.get_string("count"), std::nullopt);               // a uint32
  EXPECT_EQ(f.get_bool("count"), std::nullopt);                 // ints are not bools
  EXPECT_EQ(f.get_float("count"), 7.0);                         // ints widen to floats
  EXPECT_EQ(f.get_array("count"), nullptr);
  EXPECT_EQ(f.get_float("general.architecture"), std::nullopt);
  EXPECT_EQ(f.find_tensor("missing"), nullptr);
  ASSERT_NE(f.get_array("tokens"), nullptr);
  EXPECT_EQ(f.get_array("tokens")->size(), 3u);
}

}  // namespace
}  // namespace tessera::gguf
