// NOTE: the rules are llama.cpp's (src/llama-quant.cpp) for the recipes we support, restricted to
// dense models (no experts, no Falcon). Where llama.cpp has changed over time we follow the
// current code: k-quant rows that cannot hold a 256 block fall back Q2_K/Q3_K -> Q4_0,
// Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, and to F16 when even 32 does not divide the row
// (older llama.cpp used IQ4_NL for Q2_K/Q3_K, a type we do not implement). llama.cpp has no
// fallback for the 32-element types; we use F16 there too, as the shared stories260K Q8_0/Q4_0
// files do for their 172-wide ffn_down.
#include "quantize/tensor_type_choice.h"

#include <algorithm>
#include <optional>

#include "model/tensor_names.h"

namespace tessera::quantize {
namespace {

enum class Category { kTokenEmbedding, kOutput, kAttentionQ, kAttentionK, kAttentionV, kAttentionQkv,
                      kAttentionOutput, kFfnUp, kFfnGate, kFfnDown, kOther };

// llama.cpp's tensor_get_category, over our name table instead of its substring tests. The
// matrices must be ".weight"; the FFN categories take any suffix and the expert tensors too, as
// llama.cpp's "ffn_up"/"ffn_gate"/"ffn_down" substrings do. (Names outside the table, such as
// shared-expert tensors, fall to kOther: dense models only, see the NOTE above.)
Category category_of(const std::string& name) {
  const std::optional<ParsedTensorName> parsed = parse_tensor_name(name);
  if (!parsed) return Category::kOther;
  const bool weight = parsed->suffix == "weight";
  switch (parsed->kind) {
    case TensorKind::kOutput: return weight ? Category::kOutput : Category::kOther;
    case TensorKind::kTokenEmbedding: return weight ? Category::kTokenEmbedding : Category::kOther;
    case TensorKind::kAttnQkv: return weight ? Category::kAttentionQkv : Category::kOther;
    case TensorKind::kAttnV: return weight ? Category::kAttentionV : Category::kOther;
    case TensorKind::kAttnK: return weight ? Category::kAttentionK : Category::kOther;
    case TensorKind::kAttnQ: return weight ? Category::kAttentionQ : Category::kOther;
    case TensorKind::kAttnOutput: return weight ? Category::kAttentionOutput : Category::kOther;
    case TensorKind::kFfnUp:
    case TensorKind::kFfnUpExps: return Category::kFfnUp;
    case TensorKind::kFfnGate:
    case TensorKind::kFfnGateExps:
    case TensorKind::kFfnGateInp: return Category::kFfnGate;
    case TensorKind::kFfnDown:
    case TensorKind::kFfnDownExps: return Category::kFfnDown;
    default: return Category::kOther;
  }
}

// llama.cpp's category_is_attn_v: the fused QKV holds V, so it gets attn_v's extra bits and
// advances the same counter (current llama-quant.cpp; older versions gave it its own rules).
bool is_attention_v_like(Category category) {
  return category == Category::kAttentionV || category == Category::kAttentionQkv;
}

// llama.cpp's tensor_allows_quantization for dense llama-family files. Never a 1-D tensor (norms,
// biases, attn_q_norm), never a norm, never the MoE router.
bool allows_quantization(const TensorShapeInfo& t, const TypeChoiceOptions& options) {
  if (t.shape.size() < 2) return false;
  const std::string& n = t.name;
  if (n.size() < 6 || n.compare(n.size() - 6, 6, "weight") != 0) return false;
  if (n.find("_norm.weight") != std::string::npos) return false;  // every norm, in the table or not
  const std::optional<ParsedTensorName> parsed = parse_tensor_name(n);
  if (options.leave_output_tensor && parsed && parsed->kind == TensorKind::kOutput) return false;
  if (parsed && parsed->kind == TensorKind::kFfnGateInp) return false;
  return true;
}

// More bits for the first and last eighth of the layers and every third layer in between.
bool use_more_bits(int layer, int num_layers) {
  return layer < num_layers / 8 || layer >= 7 * num_layers / 8 || (layer - num_layers / 8) % 3 == 2;
}

// Counters the mixes advance as they meet tensors, as llama.cpp's quantize_state_impl.
struct MixState {
  int num_attention_v = 0;    // attn_v and attn_qkv tensors in the file (llama.cpp's n_attention_wv)
  int attention_v_seen = 0;   // of those, typed so far
  int ffn_down_seen = 0;      // ffn_down tensors typed so far (= their layer in a dense model)
  bool tied_embeddings = true;
};

// llama_tensor_get_type_impl for our recipes.
DType mix_type(DType type, const TensorShapeInfo& t, Category category, const ModelShapeInfo& model,
               const TypeChoiceOptions& options, MixState& state) {
  const FileType f = options.file_type;
  const int num_kv_heads = model.num_kv_heads > 0 ? model.num_kv_heads : model.num_heads;
  const int gqa = num_kv_heads > 0 ? model.num_heads / num_kv_heads : 1;
  const int num_layers = model.num_layers;
  if (category == Category::kOutput || (state.tied_embeddings && category == Category::kTokenEmbedding)) {
    if (t.shape[0] % dtype_block_size(type) != 0) return DType::kQ8_0;
    return type == DType::kQ8_0 ? type : DType::kQ6_K;
  }
  switch (category) {
    case Category::kAttentionV:
    case Category::kAttentionQkv: {
      const int i = state.attention_v_seen++;
      if (f == FileType::kQ2_K) type = gqa >= 4 ? DType::kQ4_K : DType::kQ3_K;
      else if (f == FileType::kQ3_K_M) type = i < 2 ? DType::kQ5_K : DType::kQ4_K;
      else if (f == FileType::kQ3_K_L) type = DType::kQ5_K;
      else if ((f == FileType::kQ4_K_M || f == FileType::kQ5_K_M) && use_more_bits(i, state.num_attention_v))
        type = DType::kQ6_K;
      else if (f == FileType::kQ4_K_S && i < 4) type = DType::kQ5_K;
      // llama.cpp's LLM_TYPE_70B: 80 layers with grouped KV heads.
      if (num_layers == 80 && gqa > 1 && (type == DType::kQ3_K || type == DType::kQ4_K)) type = DType::kQ5_K;
      return type;
    }
    case Category::kFfnDown: {
      const int i = state.ffn_down_seen++;
      if (f == FileType::kQ2_K) type = DType::kQ3_K;
      else if (f == FileType::kQ3_K_M) type = i < num_layers / 16 ? DType::kQ5_K : DType::kQ4_K;
      else if (f == FileType::kQ3_K_L) type = DType::kQ5_K;
      else if (f == FileType::kQ4_K_M) { if (use_more_bits(i, num_layers)) type = DType::kQ6_K; }
      else if (f == FileType::kQ5_K_M && use_more_bits(i, num_layers)) type = DType::kQ6_K;
      else if (f == FileType::kQ4_K_S && i < num_layers / 8) type = DType::kQ5_K;
      else if ((f == FileType::kQ4_0 || f == FileType::kQ5_0) && options.has_importance && i < num_layers / 8)
        type = f == FileType::kQ4_0 ? DType::kQ4_1 : DType::kQ5_1;
      return type;
    }
    case Category::kAttentionOutput:
      if (f == FileType::kQ2_K) return DType::kQ3_K;
      if (f == FileType::kQ3_K_M) return DType::kQ4_K;
      if (f == FileType::kQ3_K_L) return DType::kQ5_K;
      return type;
    default:
      return type;
  }
}

// llama.cpp's tensor_type_fallback, ending in F16 for every type (see the NOTE above).
DType fallback_type(DType type, int64_t row_length, std::string* why) {
  if (row_length % dtype_block_size(type) == 0) return type;
  DType fallback = DType::kF16;
  switch (type) {
    case DType::kQ2_K:
    case DType::kQ3_K: fallback = DType::kQ4_0; break;
    case DType::kQ4_K: fallback = DType::kQ5_0; break;
    case DType::kQ5_K: fallback = DType::kQ5_1; break;
    case DType::kQ6_K: fallback = DType::kQ8_0; break;
    default: break;
  }
  if (row_length % dtype_block_size(fallback) != 0) fallback = DType::kF16;
  *why = "rows of " + std::to_string(row_length) + " are not a multiple of " +
         std::to_string(dtype_block_size(type)) + " (" + std::string(dtype_name(type)) + "): " +
         std::string(dtype_name(fallback));
  return fallback;
}

}  // namespace

void sort_like_llama_cpp(std::vector<TensorShapeInfo>& tensors) {
  std::stable_sort(tensors.begin(), tensors.end(), [](const TensorShapeInfo& a, const TensorShapeInfo& b) {
    const int la = tensor_layer(a.name), lb = tensor_layer(b.name);
    if (la != lb) return la < lb;
    return a.name < b.name;
  });
}

Expected<std::vector<TensorTypeChoice>> choose_tensor_types(const std::vector<TensorShapeInfo>& tensors,
                                                            const ModelShapeInfo& model,
                                                            const TypeChoiceOptions& options) {
  MixState state;
  for (const TensorShapeInfo& t : tensors) {
    const Category c = category_of(t.name);
    state.num_attention_v += is_attention_v_like(c);
    if (c == Category::kOutput) state.tied_embeddings = false;
  }
  const DType default_type = default_tensor_type(options.file_type);
  const bool mixes = traits(default_type).is_quantized && !options.pure;
  std::vector<TensorTypeChoice> choices;
  for (const TensorShapeInfo& t : tensors) {
    TensorTypeChoice choice{t.name, t.type, false, ""};
    if (allows_quantization(t, options)) {
      DType type = default_type;
      if (mixes) type = mix_type(type, t, category_of(t.name), model, options, state);
      if (traits(type).is_quantized) {
        if (options.pure && t.shape[0] % dtype_block_size(type) != 0) {
          return invalid_argument(t.name + ": rows of " + std::to_string(t.shape[0]) + " are not a multiple of " +
                                  std::to_string(dtype_block_size(type)) + ", so the tensor cannot be " +
                                  std::string(dtype_name(type)) + " (drop --pure to allow llama.cpp's fallbacks)");
        }
        type = fallback_type(type, t.shape[0], &choice.fallback);
      }
      choice.type = type;
      choice.quantize = type != t.type;
    }
    choices.push_back(std::move(choice));
  }
  return choices;
}

}  // namespace tessera::quantize
