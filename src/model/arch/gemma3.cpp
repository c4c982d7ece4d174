// Gemma 3: embeddings scaled by sqrt(hidden_dim); per-head Q/K RMSNorm; post-attention and
// post-FFN norms; GeGLU (tanh GELU) FFN; q scaled by 1/sqrt(head_dim) before attention; and
// sliding-window attention on 5 of every 6 layers, which use their own RoPE base.
#include <cmath>

#include "model/arch/architectures.h"

namespace tessera {
namespace {

// NOTE (llama.cpp's reading): without a sliding_window_pattern key the period is 6 and layer l
// is local when l % 6 < 5. Local layers use rope.freq_base_swa (default 10000) without
// scaling; global layers keep rope.freq_base and the file's linear scaling.
constexpr int32_t kDefaultPatternPeriod = 6;
constexpr double kDefaultLocalRopeBase = 10000.0;

Status read_gemma3_hparams(const gguf::GgufFile& file, ModelConfig& config) {
  const std::string prefix = config.architecture + ".";
  const int64_t window = file.get_int(prefix + "attention.sliding_window").value_or(0);
  if (window < 0 || window > (1 << 24)) {
    return corrupt_data(file.path() + ": " + prefix + "attention.sliding_window = " + std::to_string(window) +
                        " is absurd");
  }
  const int64_t period = file.get_int(prefix + "attention.sliding_window_pattern").value_or(kDefaultPatternPeriod);
  if (period <= 0 || period > (1 << 16)) {
    return corrupt_data(file.path() + ": " + prefix + "attention.sliding_window_pattern = " + std::to_string(period) +
                        " is absurd");
  }
  config.sliding_window = static_cast<int32_t>(window);
  if (window > 0) {
    config.layer_is_local.resize(static_cast<size_t>(config.num_layers));
    for (int32_t l = 0; l < config.num_layers; ++l) config.layer_is_local[static_cast<size_t>(l)] = l % period < period - 1;
  }
  config.rope_local = config.rope;
  config.rope_local.freq_base = static_cast<float>(file.get_float(prefix + "rope.freq_base_swa").value_or(kDefaultLocalRopeBase));
  config.rope_local.freq_scale = 1.0f;
  return Status();
}

}  // namespace

const Architecture& gemma3_architecture() {
  static const Architecture kArch{"gemma3", kernels::RopeOrder::kNeox,
                                  DecoderRecipe{.qk_norm = true,
                                                .post_norms = true,
                                                .prescale_query = true,
                                                .scale_embeddings = true,
                                                .activation = FfnActivation::kGeluTanh},
                                  &read_gemma3_hparams};
  return kArch;
}

}  // namespace tessera
