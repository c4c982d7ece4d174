// llama (and mistral, the same graph): RMSNorm -> RoPE'd GQA/MQA attention (adjacent-pair RoPE)
// -> RMSNorm -> SwiGLU FFN; tied or untied output head. Every hyper-parameter is a common one.
#include "model/arch/architectures.h"

namespace tessera {

const Architecture& llama_architecture() {
  static const Architecture kArch{"llama", kernels::RopeOrder::kNormal, DecoderRecipe{}};
  return kArch;
}

const Architecture& mistral_architecture() {
  static const Architecture kArch{"mistral", kernels::RopeOrder::kNormal, DecoderRecipe{}};
  return kArch;
}

}  // namespace tessera
