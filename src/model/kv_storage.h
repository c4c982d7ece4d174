// KvStorage: the memory of the paged KV cache, one pool of fixed-size blocks shared by all
// sequences. Owns the tensors only; which block belongs to whom is kv/'s business.
#pragma once

#include <cstdint>
#include <vector>

#include "base/huge_page_buffer.h"
#include "base/status.h"
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "model/kv_layout.h"

namespace tessera {

// Whether a KV cache of `type` can hold heads of `head_dim` (q8_0 / q4_0 need a multiple of 32):
// an invalid_argument Status naming both when not, for configuration errors.
Status check_kv_cache_type(DType type, int32_t head_dim);

class KvStorage {
 public:
  // type: kF32 or kF16 (llama.cpp's default cache type; K/V rows are rounded to nearest even
  // when written and read back exactly), or kQ8_0 / kQ4_0 (each position's head rows quantized
  // in 32-value blocks when written; head_dim must be a multiple of 32, else a check fails).
  // Every layer in one block (KvLayout::single_group).
  KvStorage(int32_t num_layers, int32_t num_blocks, int32_t block_size, int32_t num_kv_heads, int32_t head_dim,
            DType type = DType::kF32);
  // A block holds layout.layers_per_block layer slots; layer l lives in slot layout.slot_of_layer[l].
  // Memory from `backend`.
  KvStorage(KvLayout layout, int32_t num_blocks, int32_t block_size, int32_t num_kv_heads, int32_t head_dim,
            DType type = DType::kF32, const kernels::Backend& backend = kernels::cpu_backend());

  // Bytes of the K and V tensors of one block of `layers_per_block` layer slots (to size the
  // pool from a budget).
  static size_t bytes_per_block(int32_t layers_per_block, int32_t block_size, int32_t num_kv_heads, int32_t head_dim,
                                DType type = DType::kF32);

  int32_t num_blocks() const { return num_blocks_; }
  int32_t block_size() const { return block_size_; }
  int32_t kv_dim() const { return num_kv_heads_ * head_dim_; }
  DType type() const { return type_; }
  const KvLayout& layout() const { return layout_; }

  // Stores one token's K and V rows ([num_kv_heads * head_dim] f32 each) of model layer `layer`
  // in KV slot `slot` (of the layer's group's blocks), converted to the storage type.
  void write(int32_t layer, int64_t slot, const float* k_row, const float* v_row);
  // write() for num_rows rows: row t of k_rows / v_rows ([num_rows, kv_dim] f32) goes to slot
  // slots[t * slot_stride] (a ForwardBatch's slot mapping for one group). Rows write distinct
  // slots, so many rows split across the pool (serial, this was ~1% of a batched SmolLM run).
  void write_rows(int32_t layer, const int64_t* slots, int64_t slot_stride, const float* k_rows, const float* v_rows,
                  int32_t num_rows, ThreadPool& pool);
  kernels::PagedKvLayer layer_view(int32_t layer) const;

 private:
  // Offset of model layer `layer`'s slot.
  size_t layer_offset_bytes(int32_t layer) const {
    return static_cast<size_t>(layout_.slot_of_layer[static_cast<size_t>(layer)]) * num_blocks_ * block_size_ *
           num_kv_heads_ * head_row_bytes_;
  }
  KvLayout layout_;
  int32_t num_blocks_, block_size_, num_kv_heads_, head_dim_;
  DType type_;
  size_t head_row_bytes_;  // bytes of one position's values of one kv head (kernels::kv_row_bytes)
  // [layers_per_block, num_blocks, num_kv_heads, head_dim, block_size] (K) and [..., block_size,
  // head_dim] (V) of type_ (PagedKvLayer's layout), on transparent huge pages: attention streams
  // them every step, like the weights.
  HugePageBuffer k_buffer_, v_buffer_;
};

}  // namespace tessera
