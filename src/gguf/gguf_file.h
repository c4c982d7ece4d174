// GgufFile: a read-only, memory-mapped GGUF (v2/v3) file: metadata, tensor directory, tensor bytes.
// Every offset and size is bounds-checked at open(); a bad file is a Status naming the file and
// the problem, never a crash. Knows nothing about models or tokenizers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_value.h"
#include "tensor/dtype.h"

namespace tessera::gguf {

struct TensorInfo {
  std::string name;
  DType type = DType::kF32;
  std::vector<int64_t> shape;  // ggml order: shape[0] is the innermost (contiguous) dimension
  uint64_t offset = 0;         // bytes from the start of the data section (aligned)
  uint64_t num_bytes = 0;      // bytes of the tensor's data
  int64_t num_elements() const;
};

// Whether a file of `file_bytes` may be mapped for serving: not larger than physical memory
// (every token would page weights from disk) nor than the process's address-space limit
// (`ulimit -v`; 0 = none). kResourceExhausted with a message naming the path otherwise.
Status check_mappable_size(const std::string& path, uint64_t file_bytes, uint64_t memory_bytes,
                           uint64_t address_space_bytes);

class GgufFile {
 public:
  // Maps and validates `path`. Errors: not_found / io_error / corrupt_data / unsupported, and
  // resource_exhausted for a file larger than this machine's memory or address-space limit
  // (checked before mapping), each message starting with the path. Maps exactly the file's
  // size and bounds-checks every offset against it, so a truncated file is rejected, never read past its end.
  static Expected<std::unique_ptr<GgufFile>> open(const std::string& path);
  // Same checks over bytes already in memory (used by tests and fuzzers; bytes are copied).
  static Expected<std::unique_ptr<GgufFile>> from_bytes(std::string_view bytes, std::string name = "<memory>");
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t file_bytes() const { return size_bytes_; }
  uint32_t alignment() const { return alignment_; }  // general.alignment, default 32
  uint64_t data_offset() const { return data_offset_; }  // start of the tensor data section, in file bytes

  // Metadata, in file order.
  const std::vector<MetadataEntry>& metadata() const { return metadata_; }
  const MetadataValue* find(std::string_view key) const;
  // Typed getters: nullopt when the key is missing or has an incompatible type.
  // get_int accepts any integer or bool type; get_float accepts floats and integers.
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  const ArrayValue* get_array(std::string_view key) const;

  // Tensor directory, in file order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  // Start of a tensor's bytes (valid for the GgufFile's lifetime; aligned to alignment()).
  const uint8_t* tensor_data(const TensorInfo& info) const;

 private:
  GgufFile() = default;
  Status parse();

  std::string path_;
  const uint8_t* bytes_ = nullptr;   // whole file, mmapped (or owned_bytes_.data())
  uint64_t size_bytes_ = 0;
  bool mapped_ = false;              // true when bytes_ came from mmap and must be unmapped
  std::string owned_bytes_;          // backing store for from_bytes()
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  uint64_t data_offset_ = 0;         // start of the tensor data section in the file
  std::vector<MetadataEntry> metadata_;
  std::vector<TensorInfo> tensors_;
};

}  // namespace tessera::gguf
