#include "model/arch/architecture.h"

#include <array>

#include "model/arch/architectures.h"

namespace tessera {
namespace {

const std::array<const Architecture*, 7>& registry() {
  static const std::array<const Architecture*, 7> kArchitectures = {
      &llama_architecture(),    &mistral_architecture(), &qwen2_architecture(), &qwen3_architecture(),
      &qwen3moe_architecture(), &gemma3_architecture(),  &phi3_architecture(),
  };
  return kArchitectures;
}

}  // namespace

const Architecture* find_architecture(std::string_view name) {
  for (const Architecture* arch : registry()) {
    if (arch->name == name) return arch;
  }
  return nullptr;
}

std::string supported_architecture_names() {
  std::string names;
  for (const Architecture* arch : registry()) names += (names.empty() ? "" : ", ") + std::string(arch->name);
  return names;
}

}  // namespace tessera
