// Helpers for the GGUF tests: a field-by-field byte builder for files the writer refuses to make
// (corrupt, truncated, old versions) and scratch file paths.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include "gguf/gguf_value.h"

namespace tessera::gguf::testing {

// Appends raw little-endian GGUF fields, with no validation at all.
class RawGguf {
 public:
  RawGguf& u8(uint8_t v) { return put(v); }
  RawGguf& u32(uint32_t v) { return put(v); }
  RawGguf& u64(uint64_t v) { return put(v); }
  RawGguf& f32(float v) { return put(v); }
  RawGguf& str(std::string_view s) {
    u64(s.size());
    bytes_.append(s);
    return *this;
  }
  // Magic, version and the two counts.
  RawGguf& header(uint32_t version, uint64_t num_tensors, uint64_t num_metadata) {
    bytes_.append("GGUF");
    return u32(version).u64(num_tensors).u64(num_metadata);
  }
  RawGguf& key(std::string_view name, ValueType type) { return str(name).u32(static_cast<uint32_t>(type)); }
  // One tensor info: name, dims, type id, offset.
  RawGguf& tensor(std::string_view name, std::initializer_list<uint64_t> dims, uint32_t type_id, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) u64(d);
    return u32(type_id).u64(offset);
  }
  RawGguf& pad_to(uint64_t alignment) {
    bytes_.append((alignment - bytes_.size() % alignment) % alignment, '\0');
    return *this;
  }
  RawGguf& zeros(size_t count) {
    bytes_.append(count, '\0');
    return *this;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  template <typename T>
  RawGguf& put(T v) {
    bytes_.append(reinterpret_cast<const char*>(&v), sizeof(T));
    return *this;
  }
  std::string bytes_;
};

// A path in the temp directory unique to this process and `tag`; removed (with any .tmp
// sibling) when the object goes out of scope.
class ScratchPath {
 public:
  explicit ScratchPath(const std::string& tag)
      : path_((std::filesystem::temp_directory_path() /
               ("tessera_gguf_" + std::to_string(::getpid()) + "_" + tag + ".gguf"))
                  .string()) {}
  ~ScratchPath() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
    std::filesystem::remove(path_ + ".tmp", ignored);
  }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

inline std::string shared_path(const std::string& relative) { return std::string(TESSERA_SHARED_DIR) + "/" + relative; }

inline bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace tessera::gguf::testing
