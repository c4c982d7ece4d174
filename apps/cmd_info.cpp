// `tessera info`: what a GGUF model file holds.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "commands.h"
#include "model/kv_layout.h"
#include "model/model_config.h"
#include "model_loading.h"

namespace tessera::app {
namespace {

void print_config(const ModelConfig& c) {
  std::printf("architecture:     %s\n", c.architecture.c_str());
  if (!c.name.empty()) std::printf("name:             %s\n", c.name.c_str());
  std::printf("layers:           %d\n", c.num_layers);
  std::printf("hidden dim:       %d\n", c.hidden_dim);
  std::printf("ffn dim:          %d\n", c.ffn_dim);
  std::printf("heads / kv heads: %d / %d (head dim %d)\n", c.num_heads, c.num_kv_heads, c.head_dim);
  std::printf("vocab size:       %d\n", c.vocab_size);
  std::printf("context length:   %d\n", c.context_length);
  std::printf("rms norm eps:     %g\n", static_cast<double>(c.rms_norm_eps));
  std::printf("rope:             %s, base %g, dims %d, freq scale %g\n",
              c.rope.order == kernels::RopeOrder::kNormal ? "normal" : "neox", static_cast<double>(c.rope.freq_base),
              c.rope.rot_dims, static_cast<double>(c.rope.freq_scale));
  std::printf("tied embeddings:  %s\n", c.tied_embeddings ? "yes" : "no");
  if (c.sliding_window > 0 && !c.layer_is_local.empty()) {
    std::string local;
    for (int32_t l = 0; l < c.num_layers; ++l) {
      if (c.is_local_layer(l)) local += (local.empty() ? "" : ",") + std::to_string(l);
    }
    std::printf("sliding window:   %d tokens on layers %s (rope base %g, freq scale %g)\n", c.sliding_window,
                local.c_str(), static_cast<double>(c.rope_local.freq_base), static_cast<double>(c.rope_local.freq_scale));
    const KvLayout layout = make_kv_layout(c);
    std::printf("kv cache groups:  %d of %d layer slots (%d releasing blocks outside the window)\n",
                layout.num_groups(), layout.layers_per_block,
                static_cast<int>(std::count_if(layout.group_windows.begin(), layout.group_windows.end(),
                                               [](int32_t w) { return w > 0; })));
  }
  if (c.is_moe()) {
    std::printf("experts:          %d, %d used per token, expert ffn dim %d\n", c.num_experts, c.num_experts_used,
                c.expert_ffn_dim);
  }
  if (c.attention_softcap > 0.0f) std::printf("attention softcap: %g\n", static_cast<double>(c.attention_softcap));
  if (c.final_logit_softcap > 0.0f) std::printf("logit softcap:    %g\n", static_cast<double>(c.final_logit_softcap));
}

int run_info(std::string model_path) {
  if (model_path.empty()) model_path = default_model_path();
  auto loaded = load_model(model_path, /*with_weights=*/true);
  if (!loaded.ok()) return fail(loaded.status().message());
  const gguf::GgufFile& file = *loaded->file;
  std::printf("file:             %s (GGUF v%u, %.2f MiB)\n", file.path().c_str(), file.version(),
              static_cast<double>(file.file_bytes()) / (1024.0 * 1024.0));
  print_config(loaded->model->config());
  const ModelConfig& config = loaded->model->config();
  int64_t num_params = 0, num_active_params = 0;
  std::map<std::string, std::pair<int, uint64_t>> by_type;  // type name -> (tensor count, bytes)
  for (const gguf::TensorInfo& t : file.tensors()) {
    num_params += t.num_elements();
    // A token runs expert_used_count of expert_count experts of every 3-D expert tensor.
    const bool expert = t.shape.size() == 3 && config.is_moe();
    num_active_params += expert ? t.num_elements() / config.num_experts * config.num_experts_used : t.num_elements();
    auto& entry = by_type[std::string(dtype_name(t.type))];
    entry.first += 1;
    entry.second += t.num_bytes;
  }
  std::printf("parameters:       %lld (%.3f M)\n", static_cast<long long>(num_params), static_cast<double>(num_params) / 1e6);
  if (config.is_moe()) {
    std::printf("active per token: %lld (%.3f M)\n", static_cast<long long>(num_active_params),
                static_cast<double>(num_active_params) / 1e6);
  }
  std::printf("tensors:          %zu\n", file.tensors().size());
  for (const auto& [name, entry] : by_type) {
    std::printf("  %-6s %4d tensors, %10.3f MiB\n", name.c_str(), entry.first,
                static_cast<double>(entry.second) / (1024.0 * 1024.0));
  }
  std::printf("vocab:            %d tokens, bos %d, eos %d, add_bos %s\n", loaded->tokenizer->vocab_size(),
              loaded->tokenizer->bos_id(), loaded->tokenizer->eos_id(), loaded->tokenizer->add_bos() ? "yes" : "no");
  std::string eog_list;
  for (const TokenId id : loaded->tokenizer->eog_ids()) eog_list += " " + std::to_string(id);
  std::printf("end of generation:%s\n", eog_list.c_str());
  return 0;
}

}  // namespace

Command add_info_command(CLI::App& app) {
  auto model_path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("info", "Show a model's architecture, hyper-parameters and tensor types");
  cmd->add_option("-m,--model", *model_path, "GGUF model file");
  return {cmd, [model_path] { return run_info(*model_path); }};
}

}  // namespace tessera::app
