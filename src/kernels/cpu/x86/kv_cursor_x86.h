// KvCursor: walks one kv head's V vectors of a sequence through its block table, for the x86
// attention kernels (AVX2 and AVX-512). ISA-neutral apart from an SSE prefetch. K is
// dimension-major inside a block (PagedKvLayer), read block by block (attention_x86.h).
// NOTE: internal linkage only (anonymous namespace), like the other headers in this folder.
#pragma once

#include <xmmintrin.h>

#include <cstdint>
#include <span>

#include "kernels/kernels.h"

namespace tessera::kernels {
namespace {

// Walks the V slots of positions 0, 1, ..., context - 1 of one kv head (`base`) through
// the block table, without a division per position.
// NOTE: a block's vectors of one head are block_size x head_dim contiguous values (4 KiB at 16 x
// 64 in f32, 2 KiB in f16) at a random place: hardware prefetchers stop there, so on entering a
// block the cursor prefetches the whole next one.
template <typename T>
class KvCursor {
 public:
  KvCursor(const void* base, const PagedKvLayer& kv, std::span<const int32_t> block_table, int64_t kv_head,
           int32_t context)
      : base_(static_cast<const T*>(base)),
        block_table_(block_table.data()),
        num_blocks_((context + kv.block_size - 1) / kv.block_size),
        block_size_(kv.block_size),
        head_dim_(kv.head_dim),
        head_stride_(static_cast<int64_t>(kv.block_size) * kv.head_dim),
        block_stride_(head_stride_ * kv.num_kv_heads),
        kv_head_(kv_head) {}
  // The next position's head vector.
  const T* next() {
    if (slot_ == 0) {
      block_base_ = block_start(block_);
      if (++block_ < num_blocks_) {
        const char* next_block = reinterpret_cast<const char*>(base_ + block_start(block_));
        const int64_t bytes = head_stride_ * static_cast<int64_t>(sizeof(T));
        for (int64_t line = 0; line < bytes; line += 64) _mm_prefetch(next_block + line, _MM_HINT_T0);
      }
    }
    const T* vector = base_ + block_base_ + slot_ * head_dim_;
    if (++slot_ == block_size_) slot_ = 0;
    return vector;
  }

 private:
  int64_t block_start(int64_t block) const {
    return static_cast<int64_t>(block_table_[block]) * block_stride_ + kv_head_ * head_stride_;
  }

  const T* base_;
  const int32_t* block_table_;
  const int64_t num_blocks_, block_size_, head_dim_, head_stride_, block_stride_, kv_head_;
  int64_t block_ = 0, slot_ = 0, block_base_ = 0;
};

}  // namespace
}  // namespace tessera::kernels
