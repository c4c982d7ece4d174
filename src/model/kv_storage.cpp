#include "model/kv_storage.h"

#include "base/check.h"

namespace tessera {

KvStorage::KvStorage(int32_t num_layers, int32_t num_blocks, int32_t block_size, int32_t num_kv_heads,
                     int32_t head_dim)
    : num_layers_(num_layers),
      num_blocks_(num_blocks),
      block_size_(block_size),
      num_kv_heads_(num_kv_heads),
      head_dim_(head_dim) {
  TS_CHECK(num_layers > 0 && num_blocks > 0 && block_size > 0, "empty KV storage");
  const size_t floats = static_cast<size_t>(num_layers) * num_blocks * block_size * kv_dim();
  k_.assign(floats, 0.0f);
  v_.assign(floats, 0.0f);
}

size_t KvStorage::bytes_per_block(int32_t num_layers, int32_t block_size, int32_t num_kv_heads, int32_t head_dim) {
  return 2 * sizeof(float) * static_cast<size_t>(num_layers) * block_size * num_kv_heads * head_dim;
}

kernels::PagedKvLayer KvStorage::layer_view(int32_t layer) const {
  kernels::PagedKvLayer view;
  view.k = k_.data() + layer_offset(layer);
  view.v = v_.data() + layer_offset(layer);
  view.block_size = block_size_;
  view.num_kv_heads = num_kv_heads_;
  view.head_dim = head_dim_;
  return view;
}

}  // namespace tessera
