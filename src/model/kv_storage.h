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

// The element types of a KV cache's K and V (llama.cpp's --cache-type-k / --cache-type-v). One
// DType converts to both. They may differ only when both are quantized (q8_0 / q4_0): K is the
// sensitive half (docs/performance.md), so q8_0 K with q4_0 V is the useful mix.
struct KvTypes {
  DType k = DType::kF32, v = DType::kF32;
  KvTypes() = default;
  KvTypes(DType both) : k(both), v(both) {}  // NOLINT(google-explicit-constructor): one type for both
  KvTypes(DType k_type, DType v_type) : k(k_type), v(v_type) {}
  bool operator==(const KvTypes&) const = default;
};

// Whether a KV cache of `types` can hold heads of `head_dim` (q8_0 / q4_0 need a multiple of 32)
// and whether K and V may differ so: an invalid_argument Status saying why not, for
// configuration errors.
Status check_kv_cache_type(KvTypes types, int32_t head_dim);

class KvStorage {
 public:
  // types: kF32 or kF16 (llama.cpp's default cache type; K/V rows are rounded to nearest even
  // when written and read back exactly), or kQ8_0 / kQ4_0 (each position's head rows quantized
  // in 32-value blocks when written; head_dim must be a multiple of 32, else a check fails), K's
  // and V's (check_kv_cache_type). Every layer in one block (KvLayout::single_group).
  KvStorage(int32_t num_layers, int32_t num_blocks, int32_t block_size, int32_t num_kv_heads, int32_t head_dim,
            KvTypes types = DType::kF32);
  // A block holds layout.layers_per_block layer slots; layer l lives in slot layout.slot_of_layer[l].
  // Memory from `backend`.
  KvStorage(KvLayout layout, int32_t num_blocks, int32_t block_size, int32_t num_kv_heads, int32_t head_dim,
            KvTypes types = DType::kF32, const kernels::Backend& backend = kernels::cpu_backend());

  // Bytes of the K and V tensors of one block of `layers_per_block` layer slots (to size the
  // pool from a budget).
  static size_t bytes_per_block(int32_t layers_per_block, int32_t block_size, int32_t num_kv_heads, int32_t head_dim,
                                KvTypes types = DType::kF32);

  int32_t num_blocks() const { return num_blocks_; }
  int32_t block_size() const { return block_size_; }
  int32_t kv_dim() const { return num_kv_heads_ * head_dim_; }
  KvTypes types() const { return types_; }
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
  // Offset of model layer `layer`'s slot in a buffer of rows of `row_bytes`.
  size_t layer_offset_bytes(int32_t layer, size_t row_bytes) const {
    return static_cast<size_t>(layout_.slot_of_layer[static_cast<size_t>(layer)]) * num_blocks_ * block_size_ *
           num_kv_heads_ * row_bytes;
  }
  KvLayout layout_;
  int32_t num_blocks_, block_size_, num_kv_heads_, head_dim_;
  KvTypes types_;
  // Bytes of one position's values of one kv head (kernels::kv_row_bytes), in K and in V.
  size_t k_row_bytes_, v_row_bytes_;
  // [layers_per_block, num_blocks, num_kv_heads, head_dim, block_size] (K) and [..., block_size,
  // head_dim] (V) of types_ (PagedKvLayer's layout), on transparent huge pages: attention streams
  // them every step, like the weights.
  HugePageBuffer k_buffer_, v_buffer_;
};

}  // namespace tessera
