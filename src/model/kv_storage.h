// KvStorage: the memory of the paged KV cache, one pool of fixed-size blocks shared by all
// sequences. Owns the tensors only; which block belongs to whom is kv/'s business.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/kernels.h"

namespace tessera {

class KvStorage {
 public:
  KvStorage(int32_t num_layers, int32_t num_blocks, int32_t block_size, int32_t num_kv_heads, int32_t head_dim);

  // Bytes of the K and V tensors for the given geometry (used to size the pool from a budget).
  static size_t bytes_per_block(int32_t num_layers, int32_t block_size, int32_t num_kv_heads, int32_t head_dim);

  int32_t num_blocks() const { return num_blocks_; }
  int32_t block_size() const { return block_size_; }
  int32_t kv_dim() const { return num_kv_heads_ * head_dim_; }

  float* k_layer(int32_t layer) { return k_.data() + layer_offset(layer); }
  float* v_layer(int32_t layer) { return v_.data() + layer_offset(layer); }
  kernels::PagedKvLayer layer_view(int32_t layer) const;

 private:
  size_t layer_offset(int32_t layer) const {
    return static_cast<size_t>(layer) * num_blocks_ * block_size_ * kv_dim();
  }
  int32_t num_layers_, num_blocks_, block_size_, num_kv_heads_, head_dim_;
  std::vector<float> k_;  // [num_layers, num_blocks, block_size, num_kv_heads, head_dim] f32
  std::vector<float> v_;  // [num_layers, num_blocks, block_size, num_kv_heads, head_dim] f32
};

}  // namespace tessera
