#include "gguf/gguf_parser.h"

#include <cctype>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "gguf/gguf_format.h"
#include "tensor/dtype.h"

namespace tessera::gguf {
namespace {

// Smallest possible encodings, used to reject absurd counts before reserving memory for them.
constexpr uint64_t kMinMetadataEntryBytes = 8 + 4 + 1;  // empty key, type, one-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, n_dims, one dim, type, offset

std::string num(uint64_t v) { return std::to_string(v); }

// The first four bytes for an error message: as text when printable, else as hex.
std::string describe_magic(const uint8_t* bytes) {
  std::string text;
  std::string hex;
  static const char kDigits[] = "0123456789abcdef";
  bool printable = true;
  for (int i = 0; i < 4; ++i) {
    printable = printable && std::isprint(bytes[i]);
    text += static_cast<char>(bytes[i]);
    hex += std::string(i == 0 ? "" : " ") + kDigits[bytes[i] >> 4] + kDigits[bytes[i] & 15];
  }
  return printable ? "'" + text + "'" : hex;
}

// "[start, end)" of a byte range, without wrapping when the end does not fit in 64 bits.
std::string range_text(uint64_t start, uint64_t num_bytes) {
  uint64_t end = 0;
  if (__builtin_add_overflow(start, num_bytes, &end)) return "[" + num(start) + ", 2^64 or more)";
  return "[" + num(start) + ", " + num(end) + ")";
}

template <typename T>
bool read_widened(ByteCursor& cursor, int64_t* out) {
  T v{};
  if (!cursor.read(&v)) return false;
  *out = static_cast<int64_t>(v);  // uint64 keeps its bit pattern, as ArrayValue documents
  return true;
}

// Reads one integer or bool of `type`, widened to int64 (bool normalised to 0/1).
bool read_integer(ByteCursor& cursor, ValueType type, int64_t* out) {
  switch (type) {
    case ValueType::kUint8: return read_widened<uint8_t>(cursor, out);
    case ValueType::kInt8: return read_widened<int8_t>(cursor, out);
    case ValueType::kUint16: return read_widened<uint16_t>(cursor, out);
    case ValueType::kInt16: return read_widened<int16_t>(cursor, out);
    case ValueType::kUint32: return read_widened<uint32_t>(cursor, out);
    case ValueType::kInt32: return read_widened<int32_t>(cursor, out);
    case ValueType::kUint64: return read_widened<uint64_t>(cursor, out);
    case ValueType::kInt64: return read_widened<int64_t>(cursor, out);
    case ValueType::kBool:
      if (!read_widened<uint8_t>(cursor, out)) return false;
      *out = *out != 0;
      return true;
    default: return false;  // callers only pass integer kinds
  }
}

bool read_float(ByteCursor& cursor, ValueType type, double* out) {
  if (type == ValueType::kFloat32) {
    float v = 0;
    if (!cursor.read(&v)) return false;
    *out = v;
    return true;
  }
  return cursor.read(out);  // float64
}

// Appends one element of the array's element type to `out`; false when the file ends first.
bool read_element(ByteCursor& cursor, ValueType type, ArrayValue* out) {
  switch (value_kind(type)) {
    case ValueKind::kInteger: return read_integer(cursor, type, &out->ints.emplace_back());
    case ValueKind::kFloat: return read_float(cursor, type, &out->floats.emplace_back());
    case ValueKind::kString: return cursor.read_string(&out->strings.emplace_back());
    default: return false;  // callers reject nested and unknown element types first
  }
}

// How many items to reserve up front for a count already checked against the bytes left.
// NOTE: capped because one item in memory is up to 8x its smallest encoding; beyond the cap
// the vector grows only as fast as items actually parse.
size_t bounded_reserve(uint64_t count) {
  constexpr uint64_t kMaxReserve = uint64_t{1} << 16;
  return static_cast<size_t>(count < kMaxReserve ? count : kMaxReserve);
}

// The first name that occurs twice in `items`, or nullptr.
template <typename T, typename NameOf>
const std::string* first_duplicate(const std::vector<T>& items, NameOf name_of) {
  std::unordered_set<std::string_view> seen;
  seen.reserve(items.size());
  for (const T& item : items) {
    const std::string& name = name_of(item);
    if (!seen.insert(name).second) return &name;
  }
  return nullptr;
}

}  // namespace

Status GgufParser::truncated(const std::string& what) const {
  return error(StatusCode::kCorruptData,
               "truncated: " + what + " runs past the end of the file (" + cursor_.shortfall() + ")");
}

Status GgufParser::read_header(uint32_t* version, uint64_t* num_tensors, uint64_t* num_metadata) {
  if (size_bytes_ == 0) return error(StatusCode::kCorruptData, "empty file (0 bytes), not a GGUF file");
  uint32_t magic = 0;
  if (size_bytes_ >= 4 && cursor_.read(&magic) && magic != kGgufMagic) {
    return error(StatusCode::kCorruptData,
                 "not a GGUF file (starts with " + describe_magic(reinterpret_cast<const uint8_t*>(&magic)) +
                     ", expected 'GGUF')");
  }
  if (size_bytes_ < kGgufHeaderBytes) {
    return error(StatusCode::kCorruptData, "truncated: the file is " + num(size_bytes_) +
                                               " bytes, smaller than the " + num(kGgufHeaderBytes) +
                                               "-byte GGUF header");
  }
  if (!cursor_.read(version)) return truncated("the version");
  if (*version == 1) return error(StatusCode::kUnsupported, "GGUF version 1 is not supported (only 2 and 3)");
  if (*version != 2 && *version != 3) {
    // A big-endian GGUF has its version's bytes swapped: 3 reads as 0x03000000.
    const bool swapped = (*version & 0xFFFFu) == 0 && (*version >> 16) != 0;
    return error(StatusCode::kUnsupported, "GGUF version " + num(*version) + " is not supported (only 2 and 3)" +
                                               (swapped ? "; it looks like a big-endian file" : ""));
  }
  if (!cursor_.read(num_tensors) || !cursor_.read(num_metadata)) return truncated("the header");
  return Status::ok_status();
}

Status GgufParser::read_metadata(uint64_t num_entries, std::vector<MetadataEntry>* out) {
  if (num_entries > cursor_.remaining() / kMinMetadataEntryBytes) {
    return error(StatusCode::kCorruptData, "truncated: the header declares " + num(num_entries) +
                                               " metadata entries but only " + num(cursor_.remaining()) +
                                               " bytes follow it");
  }
  out->clear();
  out->reserve(bounded_reserve(num_entries));
  for (uint64_t i = 0; i < num_entries; ++i) {
    MetadataEntry entry;
    if (!cursor_.read_string(&entry.key)) return truncated("metadata key #" + num(i));
    uint32_t raw_type = 0;
    if (!cursor_.read(&raw_type)) return truncated("the type of metadata key '" + entry.key + "'");
    TS_RETURN_IF_ERROR(read_value(static_cast<ValueType>(raw_type), entry.key, &entry.value));
    out->push_back(std::move(entry));
  }
  const std::string* duplicate = first_duplicate(*out, [](const MetadataEntry& e) -> const std::string& {
    return e.key;
  });
  if (duplicate != nullptr) return error(StatusCode::kCorruptData, "duplicate metadata key '" + *duplicate + "'");
  return Status::ok_status();
}

Status GgufParser::read_value(ValueType type, const std::string& key, MetadataValue* out) {
  out->type = type;
  const std::string what = "the value of metadata key '" + key + "'";
  switch (value_kind(type)) {
    case ValueKind::kInteger: {
      int64_t v = 0;
      if (!read_integer(cursor_, type, &v)) return truncated(what);
      out->data = v;
      return Status::ok_status();
    }
    case ValueKind::kFloat: {
      double v = 0;
      if (!read_float(cursor_, type, &v)) return truncated(what);
      out->data = v;
      return Status::ok_status();
    }
    case ValueKind::kString: {
      std::string v;
      if (!cursor_.read_string(&v)) return truncated(what);
      out->data = std::move(v);
      return Status::ok_status();
    }
    case ValueKind::kArray: {
      ArrayValue array;
      TS_RETURN_IF_ERROR(read_array(key, &array));
      out->data = std::move(array);
      return Status::ok_status();
    }
    case ValueKind::kUnknown: break;
  }
  return error(StatusCode::kCorruptData,
               "metadata key '" + key + "' has unknown value type " + num(static_cast<uint32_t>(type)));
}

Status GgufParser::read_array(const std::string& key, ArrayValue* out) {
  const std::string what = "the array of metadata key '" + key + "'";
  uint32_t raw_type = 0;
  uint64_t count = 0;
  if (!cursor_.read(&raw_type) || !cursor_.read(&count)) return truncated(what);
  const ValueType type = static_cast<ValueType>(raw_type);
  const ValueKind kind = value_kind(type);
  if (kind == ValueKind::kArray) {
    return error(StatusCode::kUnsupported, "metadata key '" + key + "' holds nested arrays (not supported)");
  }
  if (kind == ValueKind::kUnknown) {
    return error(StatusCode::kCorruptData,
                 "metadata key '" + key + "' is an array of unknown value type " + num(raw_type));
  }
  // Checked before reserving, so a corrupt count of 2^60 is an error, not a giant allocation.
  if (count > cursor_.remaining() / encoded_bytes(type)) {
    return error(StatusCode::kCorruptData, "truncated: " + what + " declares " + num(count) + " " +
                                               value_type_name(type) + " elements but only " +
                                               num(cursor_.remaining()) + " bytes are left in the file");
  }
  out->element_type = type;
  const size_t reserve = bounded_reserve(count);
  if (kind == ValueKind::kInteger) out->ints.reserve(reserve);
  if (kind == ValueKind::kFloat) out->floats.reserve(reserve);
  if (kind == ValueKind::kString) out->strings.reserve(reserve);
  for (uint64_t i = 0; i < count; ++i) {
    if (!read_element(cursor_, type, out)) return truncated("element " + num(i) + " of " + what);
  }
  return Status::ok_status();
}

Expected<uint32_t> GgufParser::alignment_from(const std::vector<MetadataEntry>& metadata) const {
  for (const MetadataEntry& entry : metadata) {
    if (entry.key != kAlignmentKey) continue;
    if (entry.value.type != ValueType::kUint32) {
      return error(StatusCode::kCorruptData, std::string(kAlignmentKey) + " must be a uint32, not " +
                                                 value_type_name(entry.value.type));
    }
    const auto alignment = static_cast<uint32_t>(std::get<int64_t>(entry.value.data));
    if (!is_power_of_two(alignment)) {
      return error(StatusCode::kCorruptData, std::string(kAlignmentKey) + " is " + num(alignment) +
                                                 ", not a nonzero power of two");
    }
    return alignment;
  }
  return kGgufDefaultAlignment;
}

Status GgufParser::read_tensor_infos(uint64_t num_tensors, uint32_t alignment, std::vector<TensorInfo>* out) {
  if (num_tensors > cursor_.remaining() / kMinTensorInfoBytes) {
    return error(StatusCode::kCorruptData, "truncated: the header declares " + num(num_tensors) +
                                               " tensors but only " + num(cursor_.remaining()) +
                                               " bytes are left for their descriptions");
  }
  out->clear();
  out->reserve(bounded_reserve(num_tensors));
  for (uint64_t i = 0; i < num_tensors; ++i) {
    TS_RETURN_IF_ERROR(read_tensor_info(i, alignment, &out->emplace_back()));
  }
  const std::string* duplicate = first_duplicate(*out, [](const TensorInfo& t) -> const std::string& {
    return t.name;
  });
  if (duplicate != nullptr) return error(StatusCode::kCorruptData, "duplicate tensor name '" + *duplicate + "'");
  return Status::ok_status();
}

Status GgufParser::read_tensor_info(uint64_t index, uint32_t alignment, TensorInfo* out) {
  if (!cursor_.read_string(&out->name)) return truncated("the name of tensor #" + num(index));
  const std::string what = "tensor '" + out->name + "'";
  uint32_t num_dims = 0;
  if (!cursor_.read(&num_dims)) return truncated("the description of " + what);
  if (num_dims == 0 || num_dims > kGgufMaxDims) {
    return error(StatusCode::kCorruptData, what + " has " + num(num_dims) + " dimensions (1 to " +
                                               num(kGgufMaxDims) + " are allowed)");
  }
  int64_t num_elements = 1;
  for (uint32_t d = 0; d < num_dims; ++d) {
    uint64_t dim = 0;
    if (!cursor_.read(&dim)) return truncated("the shape of " + what);
    if (dim == 0 || dim > static_cast<uint64_t>(INT64_MAX)) {
      return error(StatusCode::kCorruptData, what + " has dimension " + num(d) + " of size " + num(dim));
    }
    if (__builtin_mul_overflow(num_elements, static_cast<int64_t>(dim), &num_elements)) {
      return error(StatusCode::kCorruptData, what + " has more elements than fit in 64 bits");
    }
    out->shape.push_back(static_cast<int64_t>(dim));
  }
  uint32_t type_id = 0;
  if (!cursor_.read(&type_id) || !cursor_.read(&out->offset)) return truncated("the description of " + what);
  if (!dtype_traits(type_id)) {
    return error(StatusCode::kUnsupported, what + " has unknown tensor type " + num(type_id));
  }
  out->type = static_cast<DType>(type_id);
  if (out->offset % alignment != 0) {
    return error(StatusCode::kCorruptData, what + " has data offset " + num(out->offset) +
                                               ", not a multiple of the alignment " + num(alignment));
  }
  return Status::ok_status();
}

Status GgufParser::place_tensor(uint64_t data_offset, TensorInfo* info) const {
  const std::string what = "tensor '" + info->name + "'";
  const DTypeTraits traits = *dtype_traits(static_cast<uint32_t>(info->type));
  if (info->shape[0] % traits.block_size != 0) {
    return error(StatusCode::kCorruptData, what + " has rows of " + num(info->shape[0]) +
                                               " elements, not a multiple of the " + std::string(traits.name) +
                                               " block size " + num(traits.block_size));
  }
  // Bytes = (blocks per row * block bytes) * (product of the other dims), each step checked.
  uint64_t num_bytes = static_cast<uint64_t>(info->shape[0] / traits.block_size);
  bool overflow = __builtin_mul_overflow(num_bytes, traits.block_bytes, &num_bytes);
  for (size_t d = 1; d < info->shape.size() && !overflow; ++d) {
    overflow = __builtin_mul_overflow(num_bytes, static_cast<uint64_t>(info->shape[d]), &num_bytes);
  }
  if (overflow) return error(StatusCode::kCorruptData, what + " has more bytes than fit in 64 bits");
  info->num_bytes = num_bytes;
  // Compared by subtraction so that no sum can wrap around.
  const bool inside = data_offset <= size_bytes_ && info->offset <= size_bytes_ - data_offset &&
                      num_bytes <= size_bytes_ - data_offset - info->offset;
  if (!inside) {
    uint64_t start = 0;
    const std::string range = __builtin_add_overflow(data_offset, info->offset, &start)
                                  ? "[2^64 or more)"
                                  : range_text(start, num_bytes);
    return error(StatusCode::kCorruptData, what + " data " + range + " lies past the end of the file (" +
                                               num(size_bytes_) + " bytes)");
  }
  return Status::ok_status();
}

}  // namespace tessera::gguf
