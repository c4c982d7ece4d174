#include "tensor/dtype.h"

#include <array>
#include <cctype>
#include <string>

#include "base/check.h"

namespace tessera {
namespace {

struct Entry {
  DType type;
  DTypeTraits traits;
};

// Block geometry from the GGUF specification (QK_K = 256 for the k-quants).
constexpr std::array<Entry, 15> kTable = {{
    {DType::kF32, {"f32", 1, 4, false}},
    {DType::kF16, {"f16", 1, 2, false}},
    {DType::kQ4_0, {"q4_0", 32, 18, true}},
    {DType::kQ4_1, {"q4_1", 32, 20, true}},
    {DType::kQ5_0, {"q5_0", 32, 22, true}},
    {DType::kQ5_1, {"q5_1", 32, 24, true}},
    {DType::kQ8_0, {"q8_0", 32, 34, true}},
    {DType::kQ8_1, {"q8_1", 32, 36, true}},
    {DType::kQ2_K, {"q2_K", 256, 84, true}},
    {DType::kQ3_K, {"q3_K", 256, 110, true}},
    {DType::kQ4_K, {"q4_K", 256, 144, true}},
    {DType::kQ5_K, {"q5_K", 256, 176, true}},
    {DType::kQ6_K, {"q6_K", 256, 210, true}},
    {DType::kQ8_K, {"q8_K", 256, 292, true}},
    {DType::kBF16, {"bf16", 1, 2, false}},
}};

}  // namespace

std::optional<DTypeTraits> dtype_traits(uint32_t type_id) {
  for (const Entry& e : kTable) {
    if (static_cast<uint32_t>(e.type) == type_id) return e.traits;
  }
  return std::nullopt;
}

const DTypeTraits& traits(DType type) {
  for (const Entry& e : kTable) {
    if (e.type == type) return e.traits;
  }
  TS_CHECK(false, "unknown dtype id %u", static_cast<unsigned>(type));
  __builtin_unreachable();
}

size_t row_bytes(DType type, int64_t num_elements) {
  const DTypeTraits& t = traits(type);
  TS_CHECK(num_elements % t.block_size == 0, "%lld elements is not a whole number of %s blocks",
           static_cast<long long>(num_elements), std::string(t.name).c_str());
  return static_cast<size_t>(num_elements / t.block_size) * t.block_bytes;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const Entry& e : kTable) {
    if (e.traits.name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(name[i])) ==
             std::tolower(static_cast<unsigned char>(e.traits.name[i]));
    }
    if (same) return e.type;
  }
  return std::nullopt;
}

}  // namespace tessera
