// The shapes `tessera synth` knows: real models' hyper-parameters (from their config.json and
// llama.cpp's GGUFs of them) and tiny ones of each architecture for tests.
#include <utility>

#include "runtime/synth_model.h"

namespace tessera {
namespace {

constexpr const char* kLlamaVocab = "ggml-vocab-llama-spm.gguf";

// Fills what follows from the listed fields: the head width (hidden / heads unless given), RoPE
// over the whole head in the architecture's order, and the local layers' unscaled RoPE.
SynthShape make_shape(const char* name, ModelConfig c, const char* vocab_file) {
  if (c.head_dim == 0) c.head_dim = c.hidden_dim / c.num_heads;
  c.rope.rot_dims = c.head_dim;
  if (const Architecture* arch = find_architecture(c.architecture)) c.rope.order = arch->rope_order;
  const float local_freq_base = c.rope_local.freq_base;
  c.rope_local = c.rope;
  if (c.sliding_window > 0) {
    c.rope_local.freq_base = local_freq_base;
    c.rope_local.freq_scale = 1.0f;
  }
  return SynthShape{name, std::move(c), vocab_file};
}

const std::vector<SynthShape>& shapes() {
  static const std::vector<SynthShape> kShapes = {
      // vocab_size 0: the llama-spm vocabulary's 32000 tokens, as synth has always written.
      make_shape("smollm-135m",
                 {.architecture = "llama", .num_layers = 30, .hidden_dim = 576, .ffn_dim = 1536, .num_heads = 9,
                  .num_kv_heads = 3, .context_length = 2048, .tied_embeddings = true},
                 kLlamaVocab),
      make_shape("tinyllama-1.1b",
                 {.architecture = "llama", .num_layers = 22, .hidden_dim = 2048, .ffn_dim = 5632, .num_heads = 32,
                  .num_kv_heads = 4, .context_length = 2048},
                 kLlamaVocab),
      // Qwen3-0.6B: heads of 128, wider than 1024 / 16.
      make_shape("qwen3-0.6b",
                 {.architecture = "qwen3", .num_layers = 28, .hidden_dim = 1024, .ffn_dim = 3072, .num_heads = 16,
                  .num_kv_heads = 8, .head_dim = 128, .vocab_size = 151936, .context_length = 40960,
                  .rms_norm_eps = 1e-6f, .rope = {.freq_base = 1e6f}, .tied_embeddings = true},
                 "ggml-vocab-qwen3.gguf"),
      // Gemma-3-1B: MQA, 512-token window on 5 of 6 layers. Unlike 4B and up it has no linear
      // RoPE scaling (their factor 8 would be .rope = {.freq_scale = 0.125f}).
      make_shape("gemma3-1b",
                 {.architecture = "gemma3", .num_layers = 26, .hidden_dim = 1152, .ffn_dim = 6912, .num_heads = 4,
                  .num_kv_heads = 1, .head_dim = 256, .vocab_size = 262144, .context_length = 32768,
                  .rms_norm_eps = 1e-6f, .rope = {.freq_base = 1e6f}, .tied_embeddings = true,
                  .sliding_window = 512, .rope_local = {.freq_base = 1e4f}},
                 "ggml-vocab-gemma3.gguf"),
      // Phi-3-mini-4k: fused QKV and gate/up; its 2047-token window is not written (llama.cpp
      // ignores it, and so do we).
      make_shape("phi3-mini",
                 {.architecture = "phi3", .num_layers = 32, .hidden_dim = 3072, .ffn_dim = 8192, .num_heads = 32,
                  .num_kv_heads = 32, .vocab_size = 32064, .context_length = 4096},
                 "ggml-vocab-phi-3.gguf"),
      // A mixture of experts of about 1.4 B parameters, ~0.5 B active: Granite-3.0-1B-A400M's
      // dimensions (32 experts of 512, top-8, 24 layers of 1024, 16 / 8 heads of 64) in
      // qwen3moe's block with Qwen3's vocabulary (tied).
      make_shape("qwen3moe-1b-a400m",
                 {.architecture = "qwen3moe", .num_layers = 24, .hidden_dim = 1024, .ffn_dim = 512, .num_heads = 16,
                  .num_kv_heads = 8, .vocab_size = 151936, .context_length = 4096, .rms_norm_eps = 1e-6f,
                  .rope = {.freq_base = 1e6f}, .tied_embeddings = true, .num_experts = 32, .num_experts_used = 8,
                  .expert_ffn_dim = 512},
                 "ggml-vocab-qwen3.gguf"),
      // Tests: small enough to write in a second, with the llama-spm vocabulary.
      make_shape("tiny",
                 {.architecture = "llama", .num_layers = 2, .hidden_dim = 256, .ffn_dim = 512, .num_heads = 4,
                  .num_kv_heads = 2, .context_length = 256},
                 kLlamaVocab),
      make_shape("tiny-qwen2",
                 {.architecture = "qwen2", .num_layers = 2, .hidden_dim = 256, .ffn_dim = 512, .num_heads = 4,
                  .num_kv_heads = 2, .context_length = 256, .rms_norm_eps = 1e-6f, .rope = {.freq_base = 1e6f},
                  .tied_embeddings = true},
                 kLlamaVocab),
      make_shape("tiny-qwen3",
                 {.architecture = "qwen3", .num_layers = 2, .hidden_dim = 256, .ffn_dim = 512, .num_heads = 4,
                  .num_kv_heads = 2, .head_dim = 128, .context_length = 256, .rms_norm_eps = 1e-6f,
                  .rope = {.freq_base = 1e6f}, .tied_embeddings = true},
                 kLlamaVocab),
      // Six layers: five local (window 16) and one global, as gemma3's pattern.
      make_shape("tiny-gemma3",
                 {.architecture = "gemma3", .num_layers = 6, .hidden_dim = 256, .ffn_dim = 512, .num_heads = 4,
                  .num_kv_heads = 1, .head_dim = 128, .context_length = 256, .rms_norm_eps = 1e-6f,
                  .rope = {.freq_base = 1e6f}, .tied_embeddings = true, .sliding_window = 16,
                  .rope_local = {.freq_base = 1e4f}},
                 kLlamaVocab),
      make_shape("tiny-phi3",
                 {.architecture = "phi3", .num_layers = 2, .hidden_dim = 256, .ffn_dim = 512, .num_heads = 4,
                  .num_kv_heads = 4, .context_length = 256},
                 kLlamaVocab),
      make_shape("tiny-qwen3moe",
                 {.architecture = "qwen3moe", .num_layers = 2, .hidden_dim = 256, .ffn_dim = 512, .num_heads = 4,
                  .num_kv_heads = 2, .context_length = 256, .rms_norm_eps = 1e-6f, .rope = {.freq_base = 1e6f},
                  .tied_embeddings = true, .num_experts = 8, .num_experts_used = 2, .expert_ffn_dim = 256},
                 kLlamaVocab),
  };
  return kShapes;
}

}  // namespace

std::optional<SynthShape> synth_shape(std::string_view name) {
  for (const SynthShape& shape : shapes()) {
    if (shape.name == name) return shape;
  }
  return std::nullopt;
}

std::vector<std::string> synth_shape_names() {
  std::vector<std::string> names;
  for (const SynthShape& shape : shapes()) names.push_back(shape.name);
  return names;
}

}  // namespace tessera
