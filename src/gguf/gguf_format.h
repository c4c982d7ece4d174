// Constants and type classification of the GGUF on-disk format, shared by the reader and the
// writer. Internal to src/gguf; knows nothing about files or memory.
#pragma once

#include <cstdint>

#include "gguf/gguf_value.h"

namespace tessera::gguf {

constexpr uint32_t kGgufMagic = 0x46554747;  // the bytes "GGUF" read as a little-endian u32
constexpr uint32_t kGgufVersion = 3;         // the version the writer emits
constexpr uint64_t kGgufHeaderBytes = 24;    // magic u32, version u32, tensor count u64, kv count u64
constexpr uint32_t kGgufMaxDims = 4;         // GGML_MAX_DIMS
constexpr uint32_t kGgufDefaultAlignment = 32;
constexpr const char* kAlignmentKey = "general.alignment";

// How a value type is widened in MetadataValue / ArrayValue.
enum class ValueKind { kInteger, kFloat, kString, kArray, kUnknown };

inline ValueKind value_kind(ValueType type) {
  switch (type) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kUint16:
    case ValueType::kInt16:
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kBool: return ValueKind::kInteger;
    case ValueType::kFloat32:
    case ValueType::kFloat64: return ValueKind::kFloat;
    case ValueType::kString: return ValueKind::kString;
    case ValueType::kArray: return ValueKind::kArray;
  }
  return ValueKind::kUnknown;  // an id read from a file that no enumerator names
}

// Bytes one value of `type` occupies on disk; for strings the minimum (the u64 length prefix).
// Zero for arrays and unknown types.
inline uint64_t encoded_bytes(ValueType type) {
  switch (type) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool: return 1;
    case ValueType::kUint16:
    case ValueType::kInt16: return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32: return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64:
    case ValueType::kString: return 8;
    case ValueType::kArray: return 0;
  }
  return 0;
}

inline bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace tessera::gguf
