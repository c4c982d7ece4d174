// The architectures the registry (architecture.cpp) lists, one definition file each.
#pragma once

#include "model/arch/architecture.h"

namespace tessera {

const Architecture& llama_architecture();    // llama.cpp
const Architecture& mistral_architecture();  // llama.cpp
const Architecture& qwen2_architecture();    // qwen.cpp
const Architecture& qwen3_architecture();    // qwen.cpp
const Architecture& qwen3moe_architecture(); // qwen.cpp
const Architecture& gemma3_architecture();   // gemma3.cpp
const Architecture& phi3_architecture();     // phi3.cpp

}  // namespace tessera
