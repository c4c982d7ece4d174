// A DecoderRecipe turned into tensors: the table of names and shapes, and the loader that checks
// them and assembles DecoderWeights. The two follow the same recipe fields in the same order
// (tests/model/architecture_test.cpp holds the table against every synthetic fixture).
#include <cmath>

#include "model/arch/architecture.h"
#include "model/weight_loader.h"

namespace tessera {

std::vector<TensorSpec> tensor_table(const ModelConfig& c, const DecoderRecipe& r) {
  std::vector<TensorSpec> table;
  auto matrix = [&](TensorKind kind, int32_t layer, int64_t rows, int64_t cols) {
    table.push_back({tensor_name(kind, layer), {cols, rows}, false});
  };
  auto experts = [&](TensorKind kind, int32_t layer, int64_t rows, int64_t cols) {
    table.push_back({tensor_name(kind, layer), {cols, rows, c.num_experts}, false});
  };
  auto vector = [&](TensorKind kind, int32_t layer, int64_t length, std::string_view suffix = "weight") {
    table.push_back({tensor_name(kind, layer, suffix), {length}, true});
  };
  matrix(TensorKind::kTokenEmbedding, -1, c.vocab_size, c.hidden_dim);
  vector(TensorKind::kOutputNorm, -1, c.hidden_dim);
  if (!c.tied_embeddings) matrix(TensorKind::kOutput, -1, c.vocab_size, c.hidden_dim);
  for (int32_t l = 0; l < c.num_layers; ++l) {
    vector(TensorKind::kAttnNorm, l, c.hidden_dim);
    if (r.fused_qkv) {
      matrix(TensorKind::kAttnQkv, l, c.q_dim() + 2 * c.kv_dim(), c.hidden_dim);
    } else {
      matrix(TensorKind::kAttnQ, l, c.q_dim(), c.hidden_dim);
      matrix(TensorKind::kAttnK, l, c.kv_dim(), c.hidden_dim);
      matrix(TensorKind::kAttnV, l, c.kv_dim(), c.hidden_dim);
      if (r.qkv_bias) {
        vector(TensorKind::kAttnQ, l, c.q_dim(), "bias");
        vector(TensorKind::kAttnK, l, c.kv_dim(), "bias");
        vector(TensorKind::kAttnV, l, c.kv_dim(), "bias");
      }
    }
    if (r.qk_norm) {
      vector(TensorKind::kAttnQNorm, l, c.head_dim);
      vector(TensorKind::kAttnKNorm, l, c.head_dim);
    }
    matrix(TensorKind::kAttnOutput, l, c.hidden_dim, c.q_dim());
    if (r.post_norms) vector(TensorKind::kPostAttentionNorm, l, c.hidden_dim);
    vector(TensorKind::kFfnNorm, l, c.hidden_dim);
    if (c.is_moe()) {
      matrix(TensorKind::kFfnGateInp, l, c.num_experts, c.hidden_dim);
      experts(TensorKind::kFfnGateExps, l, c.expert_ffn_dim, c.hidden_dim);
      experts(TensorKind::kFfnUpExps, l, c.expert_ffn_dim, c.hidden_dim);
      experts(TensorKind::kFfnDownExps, l, c.hidden_dim, c.expert_ffn_dim);
    } else if (r.fused_gate_up) {
      matrix(TensorKind::kFfnUp, l, 2 * static_cast<int64_t>(c.ffn_dim), c.hidden_dim);
    } else {
      matrix(TensorKind::kFfnGate, l, c.ffn_dim, c.hidden_dim);
      matrix(TensorKind::kFfnUp, l, c.ffn_dim, c.hidden_dim);
    }
    if (!c.is_moe()) matrix(TensorKind::kFfnDown, l, c.hidden_dim, c.ffn_dim);
    if (r.post_norms) vector(TensorKind::kPostFfnNorm, l, c.hidden_dim);
  }
  return table;
}

namespace {

Status load_attention(const gguf::GgufFile& f, const ModelConfig& c, const DecoderRecipe& r, int32_t l,
                      AttentionLayer& a) {
  a.num_heads = c.num_heads;
  a.num_kv_heads = c.num_kv_heads;
  a.head_dim = c.head_dim;
  if (r.fused_qkv) {
    TS_ASSIGN_OR_RETURN(Linear fused, load_linear(f, TensorKind::kAttnQkv, l, c.q_dim() + 2 * c.kv_dim(), c.hidden_dim,
                                                  BiasMode::kOptional));
    const int64_t rows[] = {c.q_dim(), c.kv_dim(), c.kv_dim()};
    std::vector<Linear> slices = split_linear_rows(fused, rows);
    a.q = std::move(slices[0]);
    a.k = std::move(slices[1]);
    a.v = std::move(slices[2]);
  } else {
    const BiasMode bias = r.qkv_bias ? BiasMode::kRequired : BiasMode::kNone;
    TS_ASSIGN_OR_RETURN(a.q, load_linear(f, TensorKind::kAttnQ, l, c.q_dim(), c.hidden_dim, bias));
    TS_ASSIGN_OR_RETURN(a.k, load_linear(f, TensorKind::kAttnK, l, c.kv_dim(), c.hidden_dim, bias));
    TS_ASSIGN_OR_RETURN(a.v, load_linear(f, TensorKind::kAttnV, l, c.kv_dim(), c.hidden_dim, bias));
  }
  if (r.qk_norm) {
    TS_ASSIGN_OR_RETURN(a.q_norm, load_rms_norm(f, TensorKind::kAttnQNorm, l, c.head_dim, c.rms_norm_eps));
    TS_ASSIGN_OR_RETURN(a.k_norm, load_rms_norm(f, TensorKind::kAttnKNorm, l, c.head_dim, c.rms_norm_eps));
  }
  TS_ASSIGN_OR_RETURN(a.output, load_linear(f, TensorKind::kAttnOutput, l, c.hidden_dim, c.q_dim()));
  const bool local = c.is_local_layer(l);
  a.rope_index = local ? 1 : 0;
  a.rope = local ? c.rope_local : c.rope;
  const float inverse_sqrt_head_dim = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  a.query_scale = r.prescale_query ? inverse_sqrt_head_dim : 1.0f;
  a.params.scale = r.prescale_query ? 1.0f : inverse_sqrt_head_dim;
  a.params.sliding_window = local ? c.sliding_window : 0;
  a.params.softcap = c.attention_softcap;
  return Status();
}

Status load_ffn(const gguf::GgufFile& f, const ModelConfig& c, const DecoderRecipe& r, int32_t l, GatedFfn& ffn) {
  if (r.fused_gate_up) {
    TS_ASSIGN_OR_RETURN(Linear fused, load_linear(f, TensorKind::kFfnUp, l, 2 * static_cast<int64_t>(c.ffn_dim),
                                                  c.hidden_dim));
    const int64_t rows[] = {c.ffn_dim, c.ffn_dim};
    std::vector<Linear> slices = split_linear_rows(fused, rows);
    ffn.gate = std::move(slices[0]);
    ffn.up = std::move(slices[1]);
  } else {
    TS_ASSIGN_OR_RETURN(ffn.gate, load_linear(f, TensorKind::kFfnGate, l, c.ffn_dim, c.hidden_dim));
    TS_ASSIGN_OR_RETURN(ffn.up, load_linear(f, TensorKind::kFfnUp, l, c.ffn_dim, c.hidden_dim));
  }
  TS_ASSIGN_OR_RETURN(ffn.down, load_linear(f, TensorKind::kFfnDown, l, c.hidden_dim, c.ffn_dim));
  ffn.activation = r.activation;
  return Status();
}

// Routing as llama.cpp's build_moe_ffn for llama (Mixtral) and qwen3moe: softmax gating, the
// chosen probabilities renormalised. Each expert is a GatedFfn over its rows of the 3-D tensors.
Status load_moe(const gguf::GgufFile& f, const ModelConfig& c, const DecoderRecipe& r, int32_t l, MoeFfn& moe) {
  TS_ASSIGN_OR_RETURN(moe.router, load_linear(f, TensorKind::kFfnGateInp, l, c.num_experts, c.hidden_dim));
  const int64_t e = c.num_experts, ffn = c.expert_ffn_dim, hidden = c.hidden_dim;
  TS_ASSIGN_OR_RETURN(const std::vector<MatrixView> gate,
                      load_expert_matrices(f, tensor_name(TensorKind::kFfnGateExps, l), e, ffn, hidden));
  TS_ASSIGN_OR_RETURN(const std::vector<MatrixView> up,
                      load_expert_matrices(f, tensor_name(TensorKind::kFfnUpExps, l), e, ffn, hidden));
  TS_ASSIGN_OR_RETURN(const std::vector<MatrixView> down,
                      load_expert_matrices(f, tensor_name(TensorKind::kFfnDownExps, l), e, hidden, ffn));
  moe.gate_name = tensor_name(TensorKind::kFfnGateExps, l);
  moe.up_name = tensor_name(TensorKind::kFfnUpExps, l);
  moe.down_name = tensor_name(TensorKind::kFfnDownExps, l);
  moe.experts.resize(static_cast<size_t>(e));
  for (size_t i = 0; i < moe.experts.size(); ++i) {
    // NOTE: the experts' own Linears carry no observed name: MoeFfn shows the observer each
    // expert's rows under the 3-D tensor's name with the expert's index.
    moe.experts[i].gate.weight = gate[i];
    moe.experts[i].up.weight = up[i];
    moe.experts[i].down.weight = down[i];
    moe.experts[i].activation = r.activation;
  }
  moe.num_used = c.num_experts_used;
  moe.normalize_weights = true;
  return Status();
}

}  // namespace

Expected<DecoderWeights> load_decoder_weights(const gguf::GgufFile& f, const ModelConfig& c, const Architecture& arch) {
  const DecoderRecipe& r = arch.recipe;
  DecoderWeights w;
  TS_ASSIGN_OR_RETURN(w.token_embedding,
                      load_matrix(f, tensor_name(TensorKind::kTokenEmbedding), c.vocab_size, c.hidden_dim));
  if (r.scale_embeddings) w.embedding_scale = std::sqrt(static_cast<float>(c.hidden_dim));
  if (c.tied_embeddings) {
    w.output.weight = w.token_embedding;
    w.output.observed_name = tensor_name(TensorKind::kTokenEmbedding);
  } else {
    TS_ASSIGN_OR_RETURN(w.output, load_linear(f, TensorKind::kOutput, -1, c.vocab_size, c.hidden_dim,
                                              BiasMode::kOptional));
  }
  TS_ASSIGN_OR_RETURN(w.output_norm, load_rms_norm(f, TensorKind::kOutputNorm, -1, c.hidden_dim, c.rms_norm_eps));
  w.final_logit_softcap = c.final_logit_softcap;
  w.ropes.push_back(c.rope);
  if (!c.layer_is_local.empty()) w.ropes.push_back(c.rope_local);
  // NOTE: layers are added as they load, so an absurd block_count in a file without the tensors
  // fails at the first missing one before anything is allocated for it.
  for (int32_t l = 0; l < c.num_layers; ++l) {
    DecoderLayer& layer = w.layers.emplace_back();
    TS_ASSIGN_OR_RETURN(layer.attn_norm, load_rms_norm(f, TensorKind::kAttnNorm, l, c.hidden_dim, c.rms_norm_eps));
    TS_RETURN_IF_ERROR(load_attention(f, c, r, l, layer.attention));
    TS_ASSIGN_OR_RETURN(layer.ffn_norm, load_rms_norm(f, TensorKind::kFfnNorm, l, c.hidden_dim, c.rms_norm_eps));
    TS_RETURN_IF_ERROR(c.is_moe() ? load_moe(f, c, r, l, layer.moe) : load_ffn(f, c, r, l, layer.ffn));
    if (r.post_norms) {
      TS_ASSIGN_OR_RETURN(layer.post_attention_norm,
                          load_rms_norm(f, TensorKind::kPostAttentionNorm, l, c.hidden_dim, c.rms_norm_eps));
      TS_ASSIGN_OR_RETURN(layer.post_ffn_norm,
                          load_rms_norm(f, TensorKind::kPostFfnNorm, l, c.hidden_dim, c.rms_norm_eps));
    }
  }
  return w;
}

}  // namespace tessera
