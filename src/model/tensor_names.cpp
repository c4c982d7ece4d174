#include "model/tensor_names.h"

#include <array>
#include <charconv>
#include <utility>

namespace tessera {
namespace {

constexpr std::array<std::pair<TensorKind, std::string_view>, 21> kNames = {{
    {TensorKind::kTokenEmbedding, "token_embd"},
    {TensorKind::kOutputNorm, "output_norm"},
    {TensorKind::kOutput, "output"},
    {TensorKind::kAttnNorm, "attn_norm"},
    {TensorKind::kAttnQ, "attn_q"},
    {TensorKind::kAttnK, "attn_k"},
    {TensorKind::kAttnV, "attn_v"},
    {TensorKind::kAttnQkv, "attn_qkv"},
    {TensorKind::kAttnQNorm, "attn_q_norm"},
    {TensorKind::kAttnKNorm, "attn_k_norm"},
    {TensorKind::kAttnOutput, "attn_output"},
    {TensorKind::kPostAttentionNorm, "post_attention_norm"},
    {TensorKind::kFfnNorm, "ffn_norm"},
    {TensorKind::kFfnGate, "ffn_gate"},
    {TensorKind::kFfnUp, "ffn_up"},
    {TensorKind::kFfnDown, "ffn_down"},
    {TensorKind::kPostFfnNorm, "post_ffw_norm"},
    {TensorKind::kFfnGateInp, "ffn_gate_inp"},
    {TensorKind::kFfnGateExps, "ffn_gate_exps"},
    {TensorKind::kFfnUpExps, "ffn_up_exps"},
    {TensorKind::kFfnDownExps, "ffn_down_exps"},
}};

}  // namespace

std::string_view tensor_base_name(TensorKind kind) {
  for (const auto& [k, name] : kNames) {
    if (k == kind) return name;
  }
  return "";
}

bool is_layer_tensor(TensorKind kind) {
  return kind != TensorKind::kTokenEmbedding && kind != TensorKind::kOutputNorm && kind != TensorKind::kOutput;
}

std::string tensor_name(TensorKind kind, int32_t layer, std::string_view suffix) {
  std::string name;
  if (is_layer_tensor(kind)) name = "blk." + std::to_string(layer) + ".";
  name += tensor_base_name(kind);
  if (!suffix.empty()) {
    name += '.';
    name += suffix;
  }
  return name;
}

namespace {

// Splits "blk.N." off `name`: N, or -1 (name untouched) when there is no such prefix.
int32_t take_layer_prefix(std::string_view& name) {
  if (name.substr(0, 4) != "blk.") return -1;
  const std::string_view rest = name.substr(4);
  int32_t layer = -1;
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), layer);
  if (error != std::errc() || end == rest.data() || end == rest.data() + rest.size() || *end != '.' || layer < 0) {
    return -1;
  }
  name = rest.substr(static_cast<size_t>(end - rest.data()) + 1);
  return layer;
}

}  // namespace

int32_t tensor_layer(std::string_view name) { return take_layer_prefix(name); }

std::optional<ParsedTensorName> parse_tensor_name(std::string_view name) {
  ParsedTensorName parsed;
  const bool has_blk_prefix = name.substr(0, 4) == "blk.";
  parsed.layer = take_layer_prefix(name);
  if (has_blk_prefix && parsed.layer < 0) return std::nullopt;
  const size_t dot = name.find('.');
  const std::string_view base = name.substr(0, dot);
  parsed.suffix = dot == std::string_view::npos ? "" : std::string(name.substr(dot + 1));
  for (const auto& [kind, known] : kNames) {
    if (known != base) continue;
    if (is_layer_tensor(kind) != (parsed.layer >= 0)) return std::nullopt;
    parsed.kind = kind;
    return parsed;
  }
  return std::nullopt;
}

}  // namespace tessera
