// FileType: the whole-file quantization recipes of `tessera quantize` (llama.cpp's llama_ftype,
// numbered as llama.cpp numbers them because the id is stored as general.file_type).
// Knows nothing about tensors; tensor_type_choice.h maps a recipe to each tensor's type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tensor/dtype.h"

namespace tessera::quantize {

// NOTE: values are llama.cpp's LLAMA_FTYPE_* ids (general.file_type); never renumber.
enum class FileType : uint32_t {
  kAllF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ8_0 = 7,
  kQ5_0 = 8,
  kQ5_1 = 9,
  kQ2_K = 10,
  kQ3_K_S = 11,
  kQ3_K_M = 12,
  kQ3_K_L = 13,
  kQ4_K_S = 14,
  kQ4_K_M = 15,
  kQ5_K_S = 16,
  kQ5_K_M = 17,
  kQ6_K = 18,
  kBF16 = 32,
};

// Parses a recipe name as llama-quantize accepts it (case-insensitive): "Q4_0", "Q4_K_M", ...,
// including its aliases Q3_K = Q3_K_M, Q4_K = Q4_K_M, Q5_K = Q5_K_M. nullopt when unknown.
std::optional<FileType> file_type_from_name(std::string_view name);
// "Q4_K_M", "F16", ...
std::string_view file_type_name(FileType type);
// The tensor type most tensors of the recipe get (llama_ftype_get_default_type).
DType default_tensor_type(FileType type);
// Every recipe name, comma-separated, for error messages and --help.
std::string supported_file_type_names();

}  // namespace tessera::quantize
