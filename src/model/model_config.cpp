#include "model/model_config.h"

#include <string_view>

#include "model/arch/architecture.h"
#include "model/tensor_names.h"

namespace tessera {
namespace {

Status config_error(const gguf::GgufFile& file, const std::string& what) {
  return corrupt_data(file.path() + ": " + what);
}

}  // namespace

Expected<ModelConfig> read_model_config(const gguf::GgufFile& file) {
  ModelConfig config;
  auto arch = file.get_string("general.architecture");
  if (!arch) return config_error(file, "missing general.architecture");
  config.architecture = *arch;
  const Architecture* entry = find_architecture(config.architecture);
  if (entry == nullptr) {
    return unsupported(file.path() + ": unsupported architecture '" + config.architecture +
                       "' (supported: " + supported_architecture_names() + ")");
  }
  config.name = file.get_string("general.name").value_or("");
  const std::string prefix = config.architecture + ".";
  auto get_int = [&](const char* key) { return file.get_int(prefix + key); };

  auto required = [&](const char* key, int32_t& out) -> Status {
    auto v = get_int(key);
    if (!v) return config_error(file, "missing " + prefix + key);
    if (*v <= 0 || *v > (1 << 24)) return config_error(file, prefix + key + " = " + std::to_string(*v) + " is absurd");
    out = static_cast<int32_t>(*v);
    return Status();
  };
  TS_RETURN_IF_ERROR(required("block_count", config.num_layers));
  TS_RETURN_IF_ERROR(required("embedding_length", config.hidden_dim));
  TS_RETURN_IF_ERROR(required("feed_forward_length", config.ffn_dim));
  TS_RETURN_IF_ERROR(required("attention.head_count", config.num_heads));
  config.num_kv_heads = static_cast<int32_t>(get_int("attention.head_count_kv").value_or(config.num_heads));
  config.head_dim = static_cast<int32_t>(get_int("attention.key_length").value_or(config.hidden_dim / config.num_heads));
  config.context_length = static_cast<int32_t>(get_int("context_length").value_or(2048));
  config.rms_norm_eps = static_cast<float>(file.get_float(prefix + "attention.layer_norm_rms_epsilon").value_or(1e-5));
  if (config.num_kv_heads <= 0 || config.num_heads % config.num_kv_heads != 0) {
    return config_error(file, "head_count " + std::to_string(config.num_heads) + " is not a multiple of head_count_kv " +
                                  std::to_string(config.num_kv_heads));
  }
  const int64_t value_length = get_int("attention.value_length").value_or(config.head_dim);
  if (value_length != config.head_dim) {
    return unsupported(file.path() + ": attention.value_length " + std::to_string(value_length) +
                       " differs from key_length " + std::to_string(config.head_dim));
  }
  if (config.head_dim <= 0 || config.head_dim % 2 != 0 || config.head_dim > (1 << 16)) {
    return config_error(file, "head dimension " + std::to_string(config.head_dim) + " must be even and positive");
  }
  if (config.context_length <= 0) return config_error(file, "context_length must be positive");

  config.rope.order = entry->rope_order;
  config.rope.freq_base = static_cast<float>(file.get_float(prefix + "rope.freq_base").value_or(10000.0));
  if (!(config.rope.freq_base > 0.0f)) return config_error(file, "rope.freq_base must be positive");
  config.rope.rot_dims = static_cast<int32_t>(get_int("rope.dimension_count").value_or(config.head_dim));
  if (config.rope.rot_dims <= 0 || config.rope.rot_dims > config.head_dim || config.rope.rot_dims % 2 != 0) {
    return config_error(file, "rope.dimension_count " + std::to_string(config.rope.rot_dims) + " is invalid");
  }
  // Linear RoPE scaling: llama.cpp reads rope.scaling.factor (or the older rope.scale_linear).
  double factor = file.get_float(prefix + "rope.scaling.factor").value_or(file.get_float(prefix + "rope.scale_linear").value_or(0.0));
  auto scaling_type = file.get_string(prefix + "rope.scaling.type");
  if (scaling_type && *scaling_type != "linear" && *scaling_type != "none") {
    return unsupported(file.path() + ": rope scaling type '" + *scaling_type + "' is not supported");
  }
  if (factor > 0.0 && (!scaling_type || *scaling_type == "linear")) config.rope.freq_scale = static_cast<float>(1.0 / factor);

  const gguf::TensorInfo* embedding = file.find_tensor(tensor_name(TensorKind::kTokenEmbedding));
  if (embedding == nullptr || embedding->shape.size() != 2) return config_error(file, "missing 2-D token_embd.weight");
  config.vocab_size = static_cast<int32_t>(embedding->shape[1]);
  config.tied_embeddings = file.find_tensor(tensor_name(TensorKind::kOutput)) == nullptr;
  config.attention_softcap = static_cast<float>(file.get_float(prefix + "attn_logit_softcapping").value_or(0.0));
  config.final_logit_softcap = static_cast<float>(file.get_float(prefix + "final_logit_softcapping").value_or(0.0));
  if (!(config.attention_softcap >= 0.0f) || !(config.final_logit_softcap >= 0.0f)) {
    return config_error(file, "logit soft-capping must be positive");
  }
  // Mixture of experts: read for every architecture (llama files carry Mixtral's experts).
  const int64_t num_experts = get_int("expert_count").value_or(0);
  const int64_t num_experts_used = get_int("expert_used_count").value_or(0);
  if (num_experts < 0 || num_experts > 4096 || num_experts_used < 0 || num_experts_used > num_experts ||
      (num_experts > 0 && num_experts_used == 0)) {
    return config_error(file, prefix + "expert_used_count " + std::to_string(num_experts_used) + " of expert_count " +
                                  std::to_string(num_experts) + " is invalid");
  }
  config.num_experts = static_cast<int32_t>(num_experts);
  config.num_experts_used = static_cast<int32_t>(num_experts_used);
  if (config.num_experts > 0) {
    const int64_t expert_ffn = get_int("expert_feed_forward_length").value_or(config.ffn_dim);
    if (expert_ffn <= 0 || expert_ffn > (1 << 24)) {
      return config_error(file, prefix + "expert_feed_forward_length = " + std::to_string(expert_ffn) + " is absurd");
    }
    config.expert_ffn_dim = static_cast<int32_t>(expert_ffn);
  }
  config.rope_local = config.rope;
  if (entry->read_hparams != nullptr) TS_RETURN_IF_ERROR(entry->read_hparams(file, config));
  return config;
}

}  // namespace tessera
