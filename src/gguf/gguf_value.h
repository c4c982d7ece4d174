// MetadataValue: one typed GGUF metadata value (scalar, string, or array of either).
// Plain data shared by the reader and the writer; knows nothing about files.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace tessera::gguf {

// NOTE: values are the on-disk GGUF metadata type ids; never renumber.
enum class ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

const char* value_type_name(ValueType type);

// An array's elements, stored widened: every integer type as int64 (uint64 values above
// INT64_MAX keep their bit pattern), float32/float64 as double, bool as int64 0/1.
// Nested arrays are not supported (no real model uses them; the reader rejects them).
struct ArrayValue {
  ValueType element_type = ValueType::kUint8;  // the on-disk type of each element
  std::vector<int64_t> ints;                   // used for integer and bool elements
  std::vector<double> floats;                  // used for float32/float64 elements
  std::vector<std::string> strings;            // used for string elements
  size_t size() const;
};

struct MetadataValue {
  ValueType type = ValueType::kUint8;  // the on-disk type
  // Scalars are widened the same way as array elements.
  std::variant<int64_t, double, std::string, ArrayValue> data;

  // Factories keep the on-disk type explicit (used by the writer and by tests).
  static MetadataValue u32(uint32_t v);
  static MetadataValue i32(int32_t v);
  static MetadataValue u64(uint64_t v);
  static MetadataValue f32(float v);
  static MetadataValue boolean(bool v);
  static MetadataValue string(std::string v);
  static MetadataValue string_array(std::vector<std::string> v);
  static MetadataValue f32_array(std::vector<float> v);
  static MetadataValue i32_array(std::vector<int32_t> v);
};

struct MetadataEntry {
  std::string key;
  MetadataValue value;
};

}  // namespace tessera::gguf
