// GgufWriter: builds a GGUF v3 file from metadata and tensors held in memory.
// Used by tests (tiny random-weight models), `tessera synth` and `tessera quantize`.
// Writes to `path.tmp` and renames, so a failure never leaves a half-written file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_value.h"
#include "tensor/dtype.h"

namespace tessera::gguf {

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t alignment = 32) : alignment_(alignment) {}

  // Adds or replaces a metadata key (order of first insertion is kept).
  void set(const std::string& key, MetadataValue value);
  // Adds a tensor; `shape` in ggml order (shape[0] innermost). `data` must hold
  // row_bytes(type, shape[0]) * (product of the other dims) bytes; it is copied.
  Status add_tensor(const std::string& name, DType type, std::vector<int64_t> shape, const void* data,
                    size_t num_bytes);

  // Serialises the whole file into memory (handy for tests and fuzz seeds).
  std::string to_bytes() const;
  // Writes to `path` atomically (temporary file + rename).
  Status write(const std::string& path) const;

 private:
  // Header, metadata (general.alignment forced to alignment_), tensor infos and the padding
  // up to the data section; the tensors' bytes follow, each padded to alignment_.
  std::string header_bytes() const;

  struct PendingTensor {
    std::string name;
    DType type;
    std::vector<int64_t> shape;
    std::string bytes;
  };
  uint32_t alignment_;
  std::vector<MetadataEntry> metadata_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace tessera::gguf
