#include "model/kv_layout.h"

#include <algorithm>

namespace tessera {

KvLayout KvLayout::single_group(int32_t num_layers) {
  KvLayout layout;
  layout.layers_per_block = num_layers;
  layout.group_of_layer.assign(static_cast<size_t>(num_layers), 0);
  for (int32_t l = 0; l < num_layers; ++l) layout.slot_of_layer.push_back(l);
  layout.group_windows = {0};
  return layout;
}

KvLayout make_kv_layout(const ModelConfig& config, bool release_window_blocks) {
  std::vector<int32_t> global_layers, local_layers;
  for (int32_t l = 0; l < config.num_layers; ++l) {
    (config.is_local_layer(l) && config.sliding_window > 0 ? local_layers : global_layers).push_back(l);
  }
  if (!release_window_blocks || local_layers.empty()) return KvLayout::single_group(config.num_layers);
  KvLayout layout;
  layout.layers_per_block = global_layers.empty() ? static_cast<int32_t>(local_layers.size())
                                                  : static_cast<int32_t>(std::min(global_layers.size(), local_layers.size()));
  layout.group_of_layer.assign(static_cast<size_t>(config.num_layers), 0);
  layout.slot_of_layer.assign(static_cast<size_t>(config.num_layers), 0);
  auto fill_groups = [&](const std::vector<int32_t>& layers, int32_t window) {
    for (size_t i = 0; i < layers.size(); ++i) {
      if (i % static_cast<size_t>(layout.layers_per_block) == 0) layout.group_windows.push_back(window);
      layout.group_of_layer[static_cast<size_t>(layers[i])] = layout.num_groups() - 1;
      layout.slot_of_layer[static_cast<size_t>(layers[i])] = static_cast<int32_t>(i % static_cast<size_t>(layout.layers_per_block));
    }
  };
  fill_groups(global_layers, 0);
  fill_groups(local_layers, config.sliding_window);
  return layout;
}

}  // namespace tessera
