// DType: the element types a tensor can have, numbered exactly as GGUF/ggml number them,
// and their block geometry. Knows nothing about how blocks are computed with (see quant.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tessera {

// NOTE: values are the on-disk GGUF tensor type ids; never renumber.
enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kBF16 = 30,
};

struct DTypeTraits {
  std::string_view name;      // as llama.cpp prints it: "f32", "q4_0", "q6_K", ...
  int64_t block_size;         // elements per block (1 for plain floats)
  size_t block_bytes;         // bytes per block
  bool is_quantized;
};

// Traits of a known type; nullopt for an id we do not support (callers turn that into a Status).
std::optional<DTypeTraits> dtype_traits(uint32_t type_id);
const DTypeTraits& traits(DType type);  // TS_CHECKs that the type is known

inline std::string_view dtype_name(DType type) { return traits(type).name; }
inline int64_t dtype_block_size(DType type) { return traits(type).block_size; }

// Bytes of a row of `num_elements` elements; TS_CHECKs that it is a whole number of blocks.
size_t row_bytes(DType type, int64_t num_elements);

// Parses "q4_0", "Q4_0", "f16", ... (case-insensitive); nullopt when unknown.
std::optional<DType> dtype_from_name(std::string_view name);

}  // namespace tessera
