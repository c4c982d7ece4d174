// KvStorage: the memory of the paged KV cache, one pool of fixed-size blocks shared by all
// sequences. Owns the tensors only; which block belongs to whom is kv/'s business.
#pragma once

#include <cstdint>
#include <vector>

#include "base/huge_page_buffer.h"
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

  // Stores one token's K and V rows ([num_kv_heads * head_dim] each) of `layer` in KV slot `slot`.
  void write(int32_t layer, int64_t slot, const float* k_row, const float* v_row);
  kernels::PagedKvLayer layer_view(int32_t layer) const;

 private:
  size_t layer_offset(int32_t layer) const {  // in floats
    return static_cast<size_t>(layer) * num_blocks_ * block_size_ * kv_dim();
  }
  int32_t num_layers_, num_blocks_, block_size_, num_kv_heads_, head_dim_;
  // [num_layers, num_blocks, num_kv_heads, block_size, head_dim] f32 each (PagedKvLayer's layout),
  // on transparent huge pages: attention streams them every step, like the weights.
  HugePageBuffer k_buffer_, v_buffer_;
  float* k_ = nullptr;
  float* v_ = nullptr;
};

}  // namespace tessera
