// GgufParser: turns the bytes of a GGUF file into metadata and a tensor directory, checking every
// length, count and offset against the file first. Internal to src/gguf (GgufFile drives it);
// knows nothing about mmap or ownership. Every error message starts with the file's path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/byte_cursor.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_value.h"

namespace tessera::gguf {

class GgufParser {
 public:
  GgufParser(const std::string& path, const uint8_t* bytes, uint64_t size_bytes)
      : path_(path), size_bytes_(size_bytes), cursor_(bytes, size_bytes) {}

  // Magic, version (2 or 3) and the two counts.
  Status read_header(uint32_t* version, uint64_t* num_tensors, uint64_t* num_metadata);
  // All key/value pairs; rejects duplicate keys.
  Status read_metadata(uint64_t num_entries, std::vector<MetadataEntry>* out);
  // general.alignment when present (must be a nonzero power of two stored as uint32), else 32.
  Expected<uint32_t> alignment_from(const std::vector<MetadataEntry>& metadata) const;
  // All tensor infos (name, shape, type, offset); rejects duplicate names.
  Status read_tensor_infos(uint64_t num_tensors, uint32_t alignment, std::vector<TensorInfo>* out);
  // Fills info->num_bytes and checks the tensor's bytes lie inside the file.
  Status place_tensor(uint64_t data_offset, TensorInfo* info) const;

  uint64_t offset() const { return cursor_.offset(); }  // end of what has been read so far

 private:
  Status read_value(ValueType type, const std::string& key, MetadataValue* out);
  Status read_array(const std::string& key, ArrayValue* out);
  Status read_tensor_info(uint64_t index, uint32_t alignment, TensorInfo* out);

  Status error(StatusCode code, const std::string& what) const { return Status(code, path_ + ": " + what); }
  // A read of `what` failed because the file ends first.
  Status truncated(const std::string& what) const;

  const std::string& path_;
  uint64_t size_bytes_;
  ByteCursor cursor_;
};

}  // namespace tessera::gguf
