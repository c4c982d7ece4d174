#include "quantize/file_type.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace tessera::quantize {
namespace {

struct FileTypeEntry {
  std::string_view name;
  FileType type;
  DType default_type;
};

constexpr std::array kFileTypes = {
    FileTypeEntry{"F32", FileType::kAllF32, DType::kF32},   FileTypeEntry{"F16", FileType::kF16, DType::kF16},
    FileTypeEntry{"BF16", FileType::kBF16, DType::kBF16},   FileTypeEntry{"Q8_0", FileType::kQ8_0, DType::kQ8_0},
    FileTypeEntry{"Q4_0", FileType::kQ4_0, DType::kQ4_0},   FileTypeEntry{"Q4_1", FileType::kQ4_1, DType::kQ4_1},
    FileTypeEntry{"Q5_0", FileType::kQ5_0, DType::kQ5_0},   FileTypeEntry{"Q5_1", FileType::kQ5_1, DType::kQ5_1},
    FileTypeEntry{"Q2_K", FileType::kQ2_K, DType::kQ2_K},   FileTypeEntry{"Q3_K_S", FileType::kQ3_K_S, DType::kQ3_K},
    FileTypeEntry{"Q3_K_M", FileType::kQ3_K_M, DType::kQ3_K}, FileTypeEntry{"Q3_K_L", FileType::kQ3_K_L, DType::kQ3_K},
    FileTypeEntry{"Q4_K_S", FileType::kQ4_K_S, DType::kQ4_K}, FileTypeEntry{"Q4_K_M", FileType::kQ4_K_M, DType::kQ4_K},
    FileTypeEntry{"Q5_K_S", FileType::kQ5_K_S, DType::kQ5_K}, FileTypeEntry{"Q5_K_M", FileType::kQ5_K_M, DType::kQ5_K},
    FileTypeEntry{"Q6_K", FileType::kQ6_K, DType::kQ6_K},
};

// llama-quantize's aliases.
constexpr std::array<std::pair<std::string_view, FileType>, 3> kAliases = {{
    {"Q3_K", FileType::kQ3_K_M},
    {"Q4_K", FileType::kQ4_K_M},
    {"Q5_K", FileType::kQ5_K_M},
}};

std::string upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
  return out;
}

}  // namespace

std::optional<FileType> file_type_from_name(std::string_view name) {
  const std::string wanted = upper(name);
  for (const FileTypeEntry& entry : kFileTypes) {
    if (entry.name == wanted) return entry.type;
  }
  for (const auto& [alias, type] : kAliases) {
    if (alias == wanted) return type;
  }
  return std::nullopt;
}

std::string_view file_type_name(FileType type) {
  for (const FileTypeEntry& entry : kFileTypes) {
    if (entry.type == type) return entry.name;
  }
  return "?";
}

DType default_tensor_type(FileType type) {
  for (const FileTypeEntry& entry : kFileTypes) {
    if (entry.type == type) return entry.default_type;
  }
  return DType::kF32;
}

std::string supported_file_type_names() {
  std::string out;
  for (const FileTypeEntry& entry : kFileTypes) out += (out.empty() ? "" : ", ") + std::string(entry.name);
  for (const auto& [alias, type] : kAliases) out += ", " + std::string(alias);
  return out;
}

}  // namespace tessera::quantize
