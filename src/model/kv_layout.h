// KvLayout: how a model's layers share the paged KV cache, in KV cache groups of equal size (see
// kv/kv_cache_manager.h). A block id addresses one group's layers for block_size tokens, so
// KvStorage's layer axis has layers_per_block slots and each layer is (group, slot in block).
// Knows nothing about requests.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model_config.h"

namespace tessera {

struct KvLayout {
  int32_t layers_per_block = 0;         // layer slots of one block: KvStorage's layer axis
  std::vector<int32_t> group_of_layer;  // [num_layers] the group whose block table the layer reads
  std::vector<int32_t> slot_of_layer;   // [num_layers] its layer slot inside that group's blocks
  std::vector<int32_t> group_windows;   // [num_groups] sliding window in tokens, 0 = full attention

  int32_t num_layers() const { return static_cast<int32_t>(group_of_layer.size()); }
  int32_t num_groups() const { return static_cast<int32_t>(group_windows.size()); }

  // Every layer in one full-attention group (slot = layer): the plain paged cache.
  static KvLayout single_group(int32_t num_layers);
};

// The grouping for `config`. One full-attention group when no layer has a sliding window, or
// when release_window_blocks is off (sliding layers then keep every block; the attention still
// masks). Otherwise the global and the local layers each fill groups of
// min(num_global, num_local) layers (vLLM's rule: equal pages, little padding), global groups
// first: Gemma-3-1B's 4 global and 22 local layers make 1 + 6 groups of 4 slots.
KvLayout make_kv_layout(const ModelConfig& config, bool release_window_blocks = true);

}  // namespace tessera
