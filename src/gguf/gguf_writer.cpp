#include "gguf/gguf_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "base/check.h"
#include "gguf/gguf_format.h"

namespace tessera::gguf {
namespace {

template <typename T>
void put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));  // little-endian host (byte_cursor.h)
}

void put_string(std::string* out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out->append(s);
}

// Narrows a widened integer back to its on-disk width.
void put_integer(std::string* out, ValueType type, int64_t v) {
  switch (type) {
    case ValueType::kUint8: put(out, static_cast<uint8_t>(v)); return;
    case ValueType::kInt8: put(out, static_cast<int8_t>(v)); return;
    case ValueType::kUint16: put(out, static_cast<uint16_t>(v)); return;
    case ValueType::kInt16: put(out, static_cast<int16_t>(v)); return;
    case ValueType::kUint32: put(out, static_cast<uint32_t>(v)); return;
    case ValueType::kInt32: put(out, static_cast<int32_t>(v)); return;
    case ValueType::kUint64: put(out, static_cast<uint64_t>(v)); return;
    case ValueType::kInt64: put(out, v); return;
    case ValueType::kBool: put(out, static_cast<uint8_t>(v != 0)); return;
    default: TS_CHECK(false, "%s is not an integer type", value_type_name(type));
  }
}

void put_float(std::string* out, ValueType type, double v) {
  if (type == ValueType::kFloat32) {
    put(out, static_cast<float>(v));
  } else {
    put(out, v);
  }
}

void put_value(std::string* out, const MetadataValue& value) {
  put(out, static_cast<uint32_t>(value.type));
  switch (value_kind(value.type)) {
    case ValueKind::kInteger: put_integer(out, value.type, std::get<int64_t>(value.data)); return;
    case ValueKind::kFloat: put_float(out, value.type, std::get<double>(value.data)); return;
    case ValueKind::kString: put_string(out, std::get<std::string>(value.data)); return;
    case ValueKind::kArray: break;
    case ValueKind::kUnknown: TS_CHECK(false, "unknown value type %u", static_cast<unsigned>(value.type));
  }
  const ArrayValue& array = std::get<ArrayValue>(value.data);
  put(out, static_cast<uint32_t>(array.element_type));
  put<uint64_t>(out, array.size());
  for (int64_t v : array.ints) put_integer(out, array.element_type, v);
  for (double v : array.floats) put_float(out, array.element_type, v);
  for (const std::string& s : array.strings) put_string(out, s);
}

// A value whose widened storage contradicts its on-disk type is a programming error.
void check_consistent(const std::string& key, const MetadataValue& value) {
  const ValueKind kind = value_kind(value.type);
  const bool ok = (kind == ValueKind::kInteger && std::holds_alternative<int64_t>(value.data)) ||
                  (kind == ValueKind::kFloat && std::holds_alternative<double>(value.data)) ||
                  (kind == ValueKind::kString && std::holds_alternative<std::string>(value.data)) ||
                  (kind == ValueKind::kArray && std::holds_alternative<ArrayValue>(value.data));
  TS_CHECK(ok, "metadata '%s': stored value does not match type %s", key.c_str(), value_type_name(value.type));
  if (kind != ValueKind::kArray) return;
  const ArrayValue& array = std::get<ArrayValue>(value.data);
  const ValueKind element = value_kind(array.element_type);
  // Only the vector that matches the element type may hold anything.
  const bool elements_ok = (element == ValueKind::kInteger && array.floats.empty() && array.strings.empty()) ||
                           (element == ValueKind::kFloat && array.ints.empty() && array.strings.empty()) ||
                           (element == ValueKind::kString && array.ints.empty() && array.floats.empty());
  TS_CHECK(elements_ok, "metadata '%s': bad array of %s (nested, unknown, or elements in the wrong vector)",
           key.c_str(), value_type_name(array.element_type));
}

uint64_t padding_for(uint64_t size_bytes, uint32_t alignment) {
  return (alignment - size_bytes % alignment) % alignment;
}

}  // namespace

void GgufWriter::set(const std::string& key, MetadataValue value) {
  check_consistent(key, value);
  for (MetadataEntry& entry : metadata_) {
    if (entry.key == key) {
      entry.value = std::move(value);  // replaced in place: first-insertion order is kept
      return;
    }
  }
  metadata_.push_back({key, std::move(value)});
}

Status GgufWriter::add_tensor(const std::string& name, DType type, std::vector<int64_t> shape, const void* data,
                              size_t num_bytes) {
  const std::string what = "tensor '" + name + "'";
  if (name.empty()) return invalid_argument("a tensor needs a name");
  for (const PendingTensor& t : tensors_) {
    if (t.name == name) return invalid_argument(what + " was already added");
  }
  const std::optional<DTypeTraits> traits = dtype_traits(static_cast<uint32_t>(type));
  if (!traits) return invalid_argument(what + " has unknown type " + std::to_string(static_cast<uint32_t>(type)));
  if (shape.empty() || shape.size() > kGgufMaxDims) {
    return invalid_argument(what + " has " + std::to_string(shape.size()) + " dimensions (1 to 4 allowed)");
  }
  for (int64_t dim : shape) {
    if (dim < 1) return invalid_argument(what + " has a dimension of " + std::to_string(dim));
  }
  if (shape[0] % traits->block_size != 0) {
    return invalid_argument(what + " has rows of " + std::to_string(shape[0]) + " elements, not a multiple of the " +
                            std::string(traits->name) + " block size " + std::to_string(traits->block_size));
  }
  uint64_t expected = static_cast<uint64_t>(shape[0] / traits->block_size);
  bool overflow = __builtin_mul_overflow(expected, traits->block_bytes, &expected);
  for (size_t d = 1; d < shape.size() && !overflow; ++d) {
    overflow = __builtin_mul_overflow(expected, static_cast<uint64_t>(shape[d]), &expected);
  }
  if (overflow) return invalid_argument(what + " is too large");
  if (num_bytes != expected) {
    return invalid_argument(what + " needs " + std::to_string(expected) + " bytes, got " + std::to_string(num_bytes));
  }
  if (data == nullptr) return invalid_argument(what + " has no data");
  tensors_.push_back({name, type, std::move(shape), std::string(static_cast<const char*>(data), num_bytes)});
  return Status::ok_status();
}

std::string GgufWriter::header_bytes() const {
  TS_CHECK(is_power_of_two(alignment_), "GGUF alignment %u is not a power of two", alignment_);
  bool has_alignment_key = false;
  for (const MetadataEntry& entry : metadata_) has_alignment_key = has_alignment_key || entry.key == kAlignmentKey;
  // NOTE: readers assume 32 when the key is absent, so it is written only when needed or asked for.
  const bool append_alignment_key = !has_alignment_key && alignment_ != kGgufDefaultAlignment;

  std::string out;
  put(&out, kGgufMagic);
  put(&out, kGgufVersion);
  put<uint64_t>(&out, tensors_.size());
  put<uint64_t>(&out, metadata_.size() + (append_alignment_key ? 1 : 0));
  for (const MetadataEntry& entry : metadata_) {
    put_string(&out, entry.key);
    // The writer's own alignment wins over a value set by hand, so the file stays consistent.
    if (entry.key == kAlignmentKey) {
      put_value(&out, MetadataValue::u32(alignment_));
    } else {
      put_value(&out, entry.value);
    }
  }
  if (append_alignment_key) {
    put_string(&out, kAlignmentKey);
    put_value(&out, MetadataValue::u32(alignment_));
  }
  uint64_t offset = 0;  // from the start of the data section
  for (const PendingTensor& t : tensors_) {
    put_string(&out, t.name);
    put<uint32_t>(&out, static_cast<uint32_t>(t.shape.size()));
    for (int64_t dim : t.shape) put<uint64_t>(&out, static_cast<uint64_t>(dim));
    put(&out, static_cast<uint32_t>(t.type));
    put(&out, offset);
    offset += t.bytes.size() + padding_for(t.bytes.size(), alignment_);
  }
  out.append(padding_for(out.size(), alignment_), '\0');
  return out;
}

std::string GgufWriter::to_bytes() const {
  std::string out = header_bytes();
  for (const PendingTensor& t : tensors_) {
    out.append(t.bytes);
    out.append(padding_for(t.bytes.size(), alignment_), '\0');
  }
  return out;
}

Status GgufWriter::write(const std::string& path) const {
  if (!is_power_of_two(alignment_)) {
    return invalid_argument(path + ": alignment " + std::to_string(alignment_) + " is not a power of two");
  }
  const std::string tmp_path = path + ".tmp";
  std::FILE* file = std::fopen(tmp_path.c_str(), "wb");
  if (file == nullptr) return io_error(tmp_path + ": cannot create: " + std::strerror(errno));
  // Streamed tensor by tensor rather than via to_bytes(), so a large model is not held twice.
  int write_errno = 0;
  auto write_bytes = [&](const char* data, size_t size) {
    if (write_errno == 0 && size > 0 && std::fwrite(data, 1, size, file) != size) write_errno = errno ? errno : EIO;
  };
  const std::string header = header_bytes();
  write_bytes(header.data(), header.size());
  static const char kZeros[4096] = {};
  for (const PendingTensor& t : tensors_) {
    write_bytes(t.bytes.data(), t.bytes.size());
    for (uint64_t left = padding_for(t.bytes.size(), alignment_); left > 0;) {
      const size_t chunk = left < sizeof(kZeros) ? left : sizeof(kZeros);
      write_bytes(kZeros, chunk);
      left -= chunk;
    }
  }
  if (std::fclose(file) != 0 && write_errno == 0) write_errno = errno ? errno : EIO;  // flushes
  if (write_errno != 0) {
    std::remove(tmp_path.c_str());
    return io_error(tmp_path + ": write failed: " + std::strerror(write_errno));
  }
  if (std::rename(tmp_path.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp_path.c_str());
    return io_error(path + ": cannot rename " + tmp_path + " into place: " + std::strerror(err));
  }
  return Status::ok_status();
}

}  // namespace tessera::gguf
