#include "gguf/gguf_value.h"

#include <utility>

namespace tessera::gguf {

const char* value_type_name(ValueType type) {
  switch (type) {
    case ValueType::kUint8: return "uint8";
    case ValueType::kInt8: return "int8";
    case ValueType::kUint16: return "uint16";
    case ValueType::kInt16: return "int16";
    case ValueType::kUint32: return "uint32";
    case ValueType::kInt32: return "int32";
    case ValueType::kFloat32: return "float32";
    case ValueType::kBool: return "bool";
    case ValueType::kString: return "string";
    case ValueType::kArray: return "array";
    case ValueType::kUint64: return "uint64";
    case ValueType::kInt64: return "int64";
    case ValueType::kFloat64: return "float64";
  }
  // Reachable for ids read from a file that no enumerator names.
  return "unknown";
}

size_t ArrayValue::size() const {
  switch (element_type) {
    case ValueType::kString: return strings.size();
    case ValueType::kFloat32:
    case ValueType::kFloat64: return floats.size();
    default: return ints.size();  // every integer type and bool
  }
}

MetadataValue MetadataValue::u32(uint32_t v) { return {ValueType::kUint32, int64_t{v}}; }
MetadataValue MetadataValue::i32(int32_t v) { return {ValueType::kInt32, int64_t{v}}; }
// Values above INT64_MAX keep their bit pattern (see ArrayValue).
MetadataValue MetadataValue::u64(uint64_t v) { return {ValueType::kUint64, static_cast<int64_t>(v)}; }
MetadataValue MetadataValue::f32(float v) { return {ValueType::kFloat32, double{v}}; }
MetadataValue MetadataValue::boolean(bool v) { return {ValueType::kBool, int64_t{v ? 1 : 0}}; }
MetadataValue MetadataValue::string(std::string v) { return {ValueType::kString, std::move(v)}; }

MetadataValue MetadataValue::string_array(std::vector<std::string> v) {
  ArrayValue array;
  array.element_type = ValueType::kString;
  array.strings = std::move(v);
  return {ValueType::kArray, std::move(array)};
}

MetadataValue MetadataValue::f32_array(std::vector<float> v) {
  ArrayValue array;
  array.element_type = ValueType::kFloat32;
  array.floats.assign(v.begin(), v.end());
  return {ValueType::kArray, std::move(array)};
}

MetadataValue MetadataValue::i32_array(std::vector<int32_t> v) {
  ArrayValue array;
  array.element_type = ValueType::kInt32;
  array.ints.assign(v.begin(), v.end());
  return {ValueType::kArray, std::move(array)};
}

}  // namespace tessera::gguf
