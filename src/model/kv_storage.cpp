#include "model/kv_storage.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "base/check.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

namespace tessera {
Status check_kv_cache_type(KvTypes types, int32_t head_dim) {
  for (DType type : {types.k, types.v}) {
    if (kernels::quantized_kv(type) && head_dim % kLegacyBlockSize != 0) {
      return invalid_argument("a " + std::string(dtype_name(type)) +
                              " KV cache needs a head size that is a multiple of " + std::to_string(kLegacyBlockSize) +
                              "; this model's is " + std::to_string(head_dim) + " (use f16 or f32)");
    }
  }
  if (types.k != types.v && !(kernels::quantized_kv(types.k) && kernels::quantized_kv(types.v))) {
    return invalid_argument("K and V cache types may differ only when both are q8_0 or q4_0, not K " +
                            std::string(dtype_name(types.k)) + " and V " + std::string(dtype_name(types.v)));
  }
  return Status();
}

KvStorage::KvStorage(int32_t num_layers, int32_t num_blocks, int32_t block_size, int32_t num_kv_heads,
                     int32_t head_dim, KvTypes types)
    : KvStorage(KvLayout::single_group(num_layers), num_blocks, block_size, num_kv_heads, head_dim, types) {}

KvStorage::KvStorage(KvLayout layout, int32_t num_blocks, int32_t block_size, int32_t num_kv_heads, int32_t head_dim,
                     KvTypes types, const kernels::Backend& backend)
    : layout_(std::move(layout)),
      num_blocks_(num_blocks),
      block_size_(block_size),
      num_kv_heads_(num_kv_heads),
      head_dim_(head_dim),
      types_(types),
      k_row_bytes_(kernels::kv_row_bytes(types.k, head_dim)),
      v_row_bytes_(kernels::kv_row_bytes(types.v, head_dim)) {
  TS_CHECK(layout_.layers_per_block > 0 && num_blocks > 0 && block_size > 0, "empty KV storage");
  TS_CHECK(types.k == types.v || (kernels::quantized_kv(types.k) && kernels::quantized_kv(types.v)),
           "K and V cache types may differ only when both are q8_0 or q4_0");
  const size_t rows = static_cast<size_t>(layout_.layers_per_block) * num_blocks * block_size * num_kv_heads;
  k_buffer_ = backend.allocate(rows * k_row_bytes_);
  v_buffer_ = backend.allocate(rows * v_row_bytes_);
  // NOTE: touched once here (zero pages, already zero), so that page faults happen at startup,
  // not in the first steps that reach a block.
  std::memset(k_buffer_.data(), 0, rows * k_row_bytes_);
  std::memset(v_buffer_.data(), 0, rows * v_row_bytes_);
}

size_t KvStorage::bytes_per_block(int32_t layers_per_block, int32_t block_size, int32_t num_kv_heads,
                                  int32_t head_dim, KvTypes types) {
  return (kernels::kv_row_bytes(types.k, head_dim) + kernels::kv_row_bytes(types.v, head_dim)) *
         static_cast<size_t>(layers_per_block) * block_size * num_kv_heads;
}

void KvStorage::write(int32_t layer, int64_t slot, const float* k_row, const float* v_row) {
  TS_CHECK(layer >= 0 && layer < layout_.num_layers(), "layer %d outside the KV storage", layer);
  TS_CHECK(slot >= 0 && slot < static_cast<int64_t>(num_blocks_) * block_size_, "slot %lld outside the KV pool",
           static_cast<long long>(slot));
  const kernels::PagedKvLayer view = layer_view(layer);
  uint8_t* k = k_buffer_.data() + layer_offset_bytes(layer, k_row_bytes_);
  uint8_t* v = v_buffer_.data() + layer_offset_bytes(layer, v_row_bytes_);
  if (kernels::quantized_kv(types_.k)) {
    // Quantized as llama.cpp's copy into a q8_0 / q4_0 cache does (its from_float); a K row is
    // then spread over its block's dimension-major layout (PagedKvLayer).
    thread_local std::vector<uint8_t> k_quantized;
    k_quantized.resize(k_row_bytes_);
    for (int32_t h = 0; h < num_kv_heads_; ++h) {
      quantize_activation_row(types_.k, k_row + static_cast<size_t>(h) * head_dim_, k_quantized.data(), head_dim_);
      kernels::write_quantized_k_row(view, k, slot, h, k_quantized.data());
      quantize_activation_row(types_.v, v_row + static_cast<size_t>(h) * head_dim_,
                              v + kernels::quantized_v_offset(view, slot, h), head_dim_);
    }
    return;
  }
  const size_t k_stride = static_cast<size_t>(block_size_);  // K is dimension-major (PagedKvLayer)
  for (int32_t h = 0; h < num_kv_heads_; ++h) {
    const size_t k_offset = static_cast<size_t>(kernels::k_slot_offset(view, slot, h));
    const size_t v_offset = static_cast<size_t>(kernels::v_slot_offset(view, slot, h));
    const float* k_src = k_row + static_cast<size_t>(h) * head_dim_;
    const float* v_src = v_row + static_cast<size_t>(h) * head_dim_;
    if (types_.k == DType::kF16) {
      auto* k_dst = reinterpret_cast<uint16_t*>(k) + k_offset;
      // A head's K row is converted in one SIMD call, then scattered.
      thread_local std::vector<uint16_t> k_half;
      k_half.resize(static_cast<size_t>(head_dim_));
      kernels::to_f16(k_src, head_dim_, k_half.data());
      for (int32_t d = 0; d < head_dim_; ++d) k_dst[d * k_stride] = k_half[d];
      kernels::to_f16(v_src, head_dim_, reinterpret_cast<uint16_t*>(v) + v_offset);
    } else {
      auto* k_dst = reinterpret_cast<float*>(k) + k_offset;
      for (int32_t d = 0; d < head_dim_; ++d) k_dst[d * k_stride] = k_src[d];
      std::copy_n(v_src, head_dim_, reinterpret_cast<float*>(v) + v_offset);
    }
  }
}

void KvStorage::write_rows(int32_t layer, const int64_t* slots, int64_t slot_stride, const float* k_rows,
                           const float* v_rows, int32_t num_rows, ThreadPool& pool) {
  const size_t dim = static_cast<size_t>(kv_dim());
  auto rows = [&](int64_t first, int64_t last, int) {
    for (int64_t t = first; t < last; ++t) write(layer, slots[t * slot_stride], k_rows + t * dim, v_rows + t * dim);
  };
  constexpr int32_t kMinRowsToSplit = 16;
  if (num_rows >= kMinRowsToSplit) {
    pool.parallel_for(num_rows, rows);
  } else {
    rows(0, num_rows, 0);
  }
}

kernels::PagedKvLayer KvStorage::layer_view(int32_t layer) const {
  kernels::PagedKvLayer view;
  view.k = k_buffer_.data() + layer_offset_bytes(layer, k_row_bytes_);
  view.v = v_buffer_.data() + layer_offset_bytes(layer, v_row_bytes_);
  view.block_size = block_size_;
  view.num_kv_heads = num_kv_heads_;
  view.head_dim = head_dim_;
  view.type = types_.k;
  if (types_.v != types_.k) view.v_type = types_.v;
  return view;
}

}  // namespace tessera
