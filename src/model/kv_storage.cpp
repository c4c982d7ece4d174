#include "model/kv_storage.h"

#include <algorithm>
#include <cstring>

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
  const size_t bytes = static_cast<size_t>(num_layers) * num_blocks * block_size * kv_dim() * sizeof(float);
  k_buffer_ = HugePageBuffer(bytes);
  v_buffer_ = HugePageBuffer(bytes);
  // NOTE: touched once here (zero pages, already zero), so that page faults happen at startup,
  // not in the first steps that reach a block.
  std::memset(k_buffer_.data(), 0, bytes);
  std::memset(v_buffer_.data(), 0, bytes);
  k_ = reinterpret_cast<float*>(k_buffer_.data());
  v_ = reinterpret_cast<float*>(v_buffer_.data());
}

size_t KvStorage::bytes_per_block(int32_t num_layers, int32_t block_size, int32_t num_kv_heads, int32_t head_dim) {
  return 2 * sizeof(float) * static_cast<size_t>(num_layers) * block_size * num_kv_heads * head_dim;
}

void KvStorage::write(int32_t layer, int64_t slot, const float* k_row, const float* v_row) {
  TS_CHECK(layer >= 0 && layer < num_layers_, "layer %d outside the KV storage", layer);
  TS_CHECK(slot >= 0 && slot < static_cast<int64_t>(num_blocks_) * block_size_, "slot %lld outside the KV pool",
           static_cast<long long>(slot));
  const kernels::PagedKvLayer view = layer_view(layer);
  float* k = k_ + layer_offset(layer);
  float* v = v_ + layer_offset(layer);
  for (int32_t h = 0; h < num_kv_heads_; ++h) {
    const int64_t offset = kernels::kv_slot_offset(view, slot, h);
    std::copy_n(k_row + static_cast<size_t>(h) * head_dim_, head_dim_, k + offset);
    std::copy_n(v_row + static_cast<size_t>(h) * head_dim_, head_dim_, v + offset);
  }
}

kernels::PagedKvLayer KvStorage::layer_view(int32_t layer) const {
  kernels::PagedKvLayer view;
  view.k = k_ + layer_offset(layer);
  view.v = v_ + layer_offset(layer);
  view.block_size = block_size_;
  view.num_kv_heads = num_kv_heads_;
  view.head_dim = head_dim_;
  return view;
}

}  // namespace tessera
