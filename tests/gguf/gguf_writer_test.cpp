// GgufWriter: what it writes reads back identically through GgufFile (every value type,
// arrays, tensors of several dtypes, alignment), and what it refuses to write.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_test_util.h"
#include "gguf/gguf_writer.h"

namespace tessera::gguf {
namespace {

using testing::ScratchPath;

std::unique_ptr<GgufFile> read_back(const GgufWriter& writer) {
  auto file = GgufFile::from_bytes(writer.to_bytes(), "written.gguf");
  EXPECT_TRUE(file.ok()) << file.status().message();
  return file.ok() ? std::move(file).value() : nullptr;
}

MetadataValue int_value(ValueType type, int64_t v) { return {type, v}; }

ArrayValue int_array(ValueType type, std::vector<int64_t> values) {
  ArrayValue array;
  array.element_type = type;
  array.ints = std::move(values);
  return array;
}

std::string random_bytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(rng() & 0xFF);
  return bytes;
}

TEST(GgufWriter, RoundTripsEveryScalarType) {
  const uint64_t big_u64 = (uint64_t{1} << 63) + 5;
  GgufWriter writer;
  writer.set("u8", int_value(ValueType::kUint8, 200));
  writer.set("i8", int_value(ValueType::kInt8, -5));
  writer.set("u16", int_value(ValueType::kUint16, 60000));
  writer.set("i16", int_value(ValueType::kInt16, -30000));
  writer.set("u32", MetadataValue::u32(4000000000u));
  writer.set("i32", MetadataValue::i32(-2000000000));
  writer.set("u64", MetadataValue::u64(big_u64));
  writer.set("i64", int_value(ValueType::kInt64, -(int64_t{1} << 40)));
  writer.set("f32", MetadataValue::f32(1.5f));
  writer.set("f64", MetadataValue{ValueType::kFloat64, 0.1});
  writer.set("yes", MetadataValue::boolean(true));
  writer.set("no", MetadataValue::boolean(false));
  writer.set("text", MetadataValue::string(std::string("a\0b \xE2\x96\x81x", 8)));
  writer.set("empty", MetadataValue::string(""));
  auto file = read_back(writer);
  ASSERT_NE(file, nullptr);

  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->get_int("u8"), 200);
  EXPECT_EQ(file->get_int("i8"), -5);
  EXPECT_EQ(file->get_int("u16"), 60000);
  EXPECT_EQ(file->get_int("i16"), -30000);
  EXPECT_EQ(file->get_int("u32"), 4000000000ll);
  EXPECT_EQ(file->get_int("i32"), -2000000000);
  EXPECT_EQ(static_cast<uint64_t>(*file->get_int("u64")), big_u64);  // bit pattern kept
  EXPECT_EQ(file->get_float("u64"), static_cast<double>(big_u64));   // converted unsigned
  EXPECT_EQ(file->get_int("i64"), -(int64_t{1} << 40));
  EXPECT_EQ(file->get_float("f32"), 1.5);
  EXPECT_EQ(file->get_float("f64"), 0.1);  // exact: float64 is not narrowed
  EXPECT_EQ(file->get_bool("yes"), true);
  EXPECT_EQ(file->get_bool("no"), false);
  EXPECT_EQ(file->get_string("text"), std::string("a\0b \xE2\x96\x81x", 8));
  EXPECT_EQ(file->get_string("empty"), "");
  // The on-disk types survive, in insertion order.
  const std::vector<ValueType> expected = {
      ValueType::kUint8,  ValueType::kInt8,    ValueType::kUint16,  ValueType::kInt16, ValueType::kUint32,
      ValueType::kInt32,  ValueType::kUint64,  ValueType::kInt64,   ValueType::kFloat32, ValueType::kFloat64,
      ValueType::kBool,   ValueType::kBool,    ValueType::kString,  ValueType::kString};
  ASSERT_EQ(file->metadata().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(file->metadata()[i].value.type, expected[i]) << file->metadata()[i].key;
  }
}

TEST(GgufWriter, RoundTripsArraysOfEveryElementType) {
  GgufWriter writer;
  const std::vector<std::pair<ValueType, std::vector<int64_t>>> int_arrays = {
      {ValueType::kUint8, {0, 255}},           {ValueType::kInt8, {-128, 127}},
      {ValueType::kUint16, {0, 65535}},        {ValueType::kInt16, {-32768, 32767}},
      {ValueType::kUint32, {0, 4294967295ll}}, {ValueType::kInt32, {-7, 7}},
      {ValueType::kUint64, {0, -1}},           {ValueType::kInt64, {INT64_MIN, INT64_MAX}},
      {ValueType::kBool, {1, 0, 1}}};
  for (const auto& [type, values] : int_arrays) {
    writer.set(std::string("ints.") + value_type_name(type), {ValueType::kArray, int_array(type, values)});
  }
  writer.set("floats.f32", MetadataValue::f32_array({0.25f, -3.0f, 1e-7f}));
  ArrayValue f64s;
  f64s.element_type = ValueType::kFloat64;
  f64s.floats = {0.1, -1e300};
  writer.set("floats.f64", {ValueType::kArray, f64s});
  writer.set("strings", MetadataValue::string_array({"<unk>", "", "\xC4\xA0 t", std::string(1000, 'x')}));
  writer.set("i32s", MetadataValue::i32_array({1, -2, 3}));
  writer.set("empty", MetadataValue::string_array({}));
  auto file = read_back(writer);
  ASSERT_NE(file, nullptr);

  for (const auto& [type, values] : int_arrays) {
    const ArrayValue* array = file->get_array(std::string("ints.") + value_type_name(type));
    ASSERT_NE(array, nullptr) << value_type_name(type);
    EXPECT_EQ(array->element_type, type);
    EXPECT_EQ(array->ints, values) << value_type_name(type);
  }
  ASSERT_NE(file->get_array("floats.f32"), nullptr);
  EXPECT_EQ(file->get_array("floats.f32")->floats, (std::vector<double>{0.25, -3.0, double{1e-7f}}));
  ASSERT_NE(file->get_array("floats.f64"), nullptr);
  EXPECT_EQ(file->get_array("floats.f64")->floats, f64s.floats);
  ASSERT_NE(file->get_array("strings"), nullptr);
  EXPECT_EQ(file->get_array("strings")->strings,
            (std::vector<std::string>{"<unk>", "", "\xC4\xA0 t", std::string(1000, 'x')}));
  ASSERT_NE(file->get_array("i32s"), nullptr);
  EXPECT_EQ(file->get_array("i32s")->element_type, ValueType::kInt32);
  EXPECT_EQ(file->get_array("i32s")->ints, (std::vector<int64_t>{1, -2, 3}));
  ASSERT_NE(file->get_array("empty"), nullptr);
  EXPECT_EQ(file->get_array("empty")->size(), 0u);
  EXPECT_EQ(file->get_array("empty")->element_type, ValueType::kString);
}

TEST(GgufWriter, RoundTripsTensorsOfSeveralDtypes) {
  struct Case {
    std::string name;
    DType type;
    std::vector<int64_t> shape;
    size_t num_bytes;
  };
  const std::vector<Case> cases = {
      {"f32", DType::kF32, {8, 3}, 8 * 3 * 4},
      {"f16", DType::kF16, {5, 2, 3}, 5 * 2 * 3 * 2},  // 60 bytes: the next tensor needs padding
      {"bf16", DType::kBF16, {7}, 14},
      {"q8_0", DType::kQ8_0, {64, 2}, 2 * 2 * 34},
      {"q4_0", DType::kQ4_0, {32, 1, 1, 3}, 3 * 18},
      {"q4_k", DType::kQ4_K, {256, 2}, 2 * 144},
      {"q6_k", DType::kQ6_K, {512}, 2 * 210},
  };
  GgufWriter writer;
  writer.set("general.architecture", MetadataValue::string("test"));
  std::vector<std::string> payloads;
  for (size_t i = 0; i < cases.size(); ++i) {
    payloads.push_back(random_bytes(cases[i].num_bytes, static_cast<uint32_t>(i)));
    ASSERT_TRUE(writer.add_tensor(cases[i].name, cases[i].type, cases[i].shape, payloads[i].data(),
                                  payloads[i].size()).ok());
  }
  auto file = read_back(writer);
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(file->tensors().size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const TensorInfo& info = file->tensors()[i];
    EXPECT_EQ(info.name, cases[i].name);
    EXPECT_EQ(info.type, cases[i].type) << info.name;
    EXPECT_EQ(info.shape, cases[i].shape) << info.name;
    EXPECT_EQ(info.num_bytes, cases[i].num_bytes) << info.name;
    EXPECT_EQ(info.offset % 32, 0u) << info.name;
    const uint8_t* data = file->tensor_data(info);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(data) % 32, 0u) << info.name;
    EXPECT_EQ(std::memcmp(data, payloads[i].data(), payloads[i].size()), 0) << info.name;
  }
}

TEST(GgufWriter, HonoursCustomAlignment) {
  GgufWriter writer(64);
  const std::string payload = random_bytes(40, 1);
  ASSERT_TRUE(writer.add_tensor("a", DType::kF32, {10}, payload.data(), 40).ok());
  ASSERT_TRUE(writer.add_tensor("b", DType::kF32, {10}, payload.data(), 40).ok());
  auto file = read_back(writer);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->alignment(), 64u);
  EXPECT_EQ(file->get_int("general.alignment"), 64);
  EXPECT_EQ(file->find("general.alignment")->type, ValueType::kUint32);
  EXPECT_EQ(file->find_tensor("b")->offset, 64u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(file->tensor_data(*file->find_tensor("b"))) % 64, 0u);
}

TEST(GgufWriter, OmitsAlignmentKeyAtTheDefault) {
  GgufWriter writer;
  writer.set("k", MetadataValue::u32(1));
  auto file = read_back(writer);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->find("general.alignment"), nullptr);
  EXPECT_EQ(file->alignment(), 32u);
  EXPECT_EQ(writer.to_bytes().size() % 32, 0u);
}

TEST(GgufWriter, WritesItsOwnAlignmentOverAHandSetKey) {
  GgufWriter writer(16);
  writer.set("general.alignment", MetadataValue::u32(48));  // would make an unreadable file
  auto file = read_back(writer);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->alignment(), 16u);
  EXPECT_EQ(file->metadata().size(), 1u);
}

TEST(GgufWriter, SetReplacesAnExistingKeyInPlace) {
  GgufWriter writer;
  writer.set("a", MetadataValue::u32(1));
  writer.set("b", MetadataValue::string("x"));
  writer.set("a", MetadataValue::string("replaced"));
  auto file = read_back(writer);
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(file->metadata().size(), 2u);
  EXPECT_EQ(file->metadata()[0].key, "a");
  EXPECT_EQ(file->metadata()[1].key, "b");
  EXPECT_EQ(file->get_string("a"), "replaced");
}

TEST(GgufWriter, RejectsMalformedTensors) {
  GgufWriter writer;
  const std::vector<uint8_t> data(4096, 0);
  auto message = [&](const std::string& name, DType type, std::vector<int64_t> shape, size_t num_bytes) {
    const Status status = writer.add_tensor(name, type, std::move(shape), data.data(), num_bytes);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << name;
    return status.message();
  };
  EXPECT_EQ(message("w", DType::kF32, {4}, 15), "tensor 'w' needs 16 bytes, got 15");
  EXPECT_EQ(message("w", DType::kQ8_0, {48}, 34),
            "tensor 'w' has rows of 48 elements, not a multiple of the q8_0 block size 32");
  EXPECT_EQ(message("w", DType::kF32, {1, 1, 1, 1, 1}, 4), "tensor 'w' has 5 dimensions (1 to 4 allowed)");
  EXPECT_EQ(message("w", DType::kF32, {}, 0), "tensor 'w' has 0 dimensions (1 to 4 allowed)");
  EXPECT_EQ(message("w", DType::kF32, {4, 0}, 0), "tensor 'w' has a dimension of 0");
  EXPECT_EQ(message("w", DType::kF32, {INT64_MAX, 4}, 4), "tensor 'w' is too large");
  EXPECT_EQ(message("", DType::kF32, {1}, 4), "a tensor needs a name");
  ASSERT_TRUE(writer.add_tensor("w", DType::kF32, {1}, data.data(), 4).ok());
  EXPECT_EQ(message("w", DType::kF32, {1}, 4), "tensor 'w' was already added");
  EXPECT_EQ(writer.add_tensor("null", DType::kF32, {1}, nullptr, 4).message(), "tensor 'null' has no data");
}

TEST(GgufWriter, WriteReplacesTheFileAtomically) {
  ScratchPath path("atomic");
  GgufWriter writer;
  writer.set("general.name", MetadataValue::string("first"));
  ASSERT_TRUE(writer.write(path.str()).ok());
  writer.set("general.name", MetadataValue::string("second"));
  const std::vector<float> values = {1.0f, 2.0f, 3.0f, 4.0f};
  ASSERT_TRUE(writer.add_tensor("t", DType::kF32, {4}, values.data(), 16).ok());
  const Status status = writer.write(path.str());
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_FALSE(std::filesystem::exists(path.str() + ".tmp"));

  auto file = GgufFile::open(path.str());
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ((*file)->get_string("general.name"), "second");
  EXPECT_EQ((*file)->file_bytes(), writer.to_bytes().size());
  const TensorInfo* t = (*file)->find_tensor("t");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(std::memcmp((*file)->tensor_data(*t), values.data(), 16), 0);
}

TEST(GgufWriter, WriteReportsAnUnwritableDirectory) {
  GgufWriter writer;
  const Status status = writer.write("/nonexistent/dir/model.gguf");
  EXPECT_EQ(status.code(), StatusCode::kIoError);
  EXPECT_EQ(status.message(), "/nonexistent/dir/model.gguf.tmp: cannot create: No such file or directory");
}

TEST(GgufWriter, WriteRejectsAnAlignmentThatIsNotAPowerOfTwo) {
  ScratchPath path("bad_alignment");
  const Status status = GgufWriter(48).write(path.str());
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(path.str()));
}

}  // namespace
}  // namespace tessera::gguf
