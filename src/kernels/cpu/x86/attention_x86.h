// One attention work item (a query token x the query heads of one kv head), written once over an
// ISA's primitives and included by the AVX2 and AVX-512 elementwise files AFTER they define, in
// their anonymous namespace in tessera::kernels:
//   round_to_f16(const float* x, int64_t n, float* out)       x rounded to f16 and back
//   softmax_x86(float* x, int64_t n)                           the ISA's softmax
//   weighted_values_chunks<T, kHeads, kFused>(scores, context, kv, block_table, kv_head, out)
//   f16_fast_path(kv)                                          whether the f16 fast path applies
//   struct PositionLanes: a vector over kLanes positions (Vec, Mask, kLanes, kMaxScoreHeads and
//     mask(n) / load(Mask, const T*) / set1 / add / mul / fmadd / store(float*, Mask, Vec); masked
//     loads read 0 in the lanes left out)
// T is the KV element type: float, or uint16_t for an f16 cache; a quantized cache goes to
// attention_quant_x86.h.
// NOTE: internal linkage only (anonymous namespace), like the matmul headers next to it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include <xmmintrin.h>

#include "kernels/cpu/x86/attention_quant_x86.h"
#include "kernels/cpu/x86/count_dispatch_x86.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"

namespace tessera::kernels {
namespace {

// Heads narrower than this get the reference's order in group_scores (see there).
constexpr int64_t kExactScoreHeadDim = 64;

// scores[g * context + p] = (q_g . k_p) * scale for kHeads heads and the `count` positions of one
// block whose K values (dimension-major: dimension d of position p at k_block[d * block_size + p])
// start at k_block. Lanes run over positions; per dimension one load and, per head, one
// broadcast multiply-add, with no horizontal sums. Per position the arithmetic is fixed, so the
// result does not depend on the ISA, the heads per pass or what else is in the batch:
//  - kExact: in order over d, separate multiply and add: bit for bit the reference (and ggml's
//    leftover loop); on the tiny golden models a last-bit difference in a score flips 8-bit
//    activation roundings downstream.
//  - otherwise four FMA chains (dimension d feeds chain d % 4), summed (c0 + c1) + (c2 + c3):
//    not the reference's order, held to its tolerance.
template <typename T, int kHeads, bool kExact>
void block_scores(const float* q, int64_t head_dim, const T* k_block, int64_t block_size, int32_t count,
                  int32_t context, float scale, float* scores) {
  using Vec = typename PositionLanes::Vec;
  constexpr int kChains = kExact ? 1 : 4;
  for (int32_t p0 = 0; p0 < count; p0 += PositionLanes::kLanes) {
    const typename PositionLanes::Mask m = PositionLanes::mask(count - p0);
    // chains[c][g]: head g's sum over the dimensions d with d % kChains == c.
    Vec chains[kChains][kHeads];
    for (int c = 0; c < kChains; ++c) {
      for (int g = 0; g < kHeads; ++g) chains[c][g] = PositionLanes::set1(0.0f);
    }
    const T* k = k_block + p0;
    // chain[g] += q_g[d] * k_d, on fully unrolled chain indices: a runtime index into chains
    // would make GCC keep the accumulators in memory.
    auto accumulate = [&](const Vec k_d, int64_t d, Vec (&chain)[kHeads]) __attribute__((always_inline)) {
      for (int g = 0; g < kHeads; ++g) {
        const Vec q_d = PositionLanes::set1(q[g * head_dim + d]);
        chain[g] = kExact ? PositionLanes::add(chain[g], PositionLanes::mul(q_d, k_d))
                          : PositionLanes::fmadd(q_d, k_d, chain[g]);
      }
    };
    int64_t d = 0;
    for (; d + kChains <= head_dim; d += kChains) {
#pragma GCC unroll 4
      for (int c = 0; c < kChains; ++c) accumulate(PositionLanes::load(m, k + (d + c) * block_size), d + c, chains[c]);
    }
#pragma GCC unroll 4
    for (int c = 0; c + 1 < kChains; ++c) {  // head_dim % 4 dimensions left: chains 0, 1, 2
      if (d + c < head_dim) accumulate(PositionLanes::load(m, k + (d + c) * block_size), d + c, chains[c]);
    }
    const Vec scale_v = PositionLanes::set1(scale);
    for (int g = 0; g < kHeads; ++g) {
      Vec dot = chains[0][g];
      if constexpr (!kExact) {
        dot = PositionLanes::add(PositionLanes::add(chains[0][g], chains[1][g]),
                                 PositionLanes::add(chains[2][g], chains[3][g]));
      }
      PositionLanes::store(scores + g * context + p0, m, PositionLanes::mul(dot, scale_v));
    }
  }
}

// Blocks of K that group_scores prefetches ahead of the one it reads.
constexpr int32_t kScoreBlocksAhead = 2;

// Scores of positions [0, context) for `num_group_heads` query heads of one kv head:
// scores[g * context + p] = (q_g . k_p) * scale (block_scores), each block's K read from memory
// once per PositionLanes::kMaxScoreHeads heads.
// NOTE: blocks sit at random places, where hardware prefetchers stop, and a decode step's
// attention streams every sequence's K and V from DRAM. Measured (SmolLM shape, 64 sequences of
// 160 positions, 30 layers, f16, 2 threads): prefetching the next K block only, 11.7-12.0 ms; K
// two blocks ahead plus this block's V, 9.3-10.2 ms; dropping the V pass's own prefetch then
// loses it again (11.5-12.0 ms). Prefill, which re-reads cached blocks, is unchanged.
template <typename T>
void group_scores(const float* q, int64_t num_group_heads, const PagedKvLayer& kv,
                  std::span<const int32_t> block_table, int64_t kv_head, int32_t context, float scale,
                  float* scores) {
  const T* k_base = static_cast<const T*>(kv.k);
  const int64_t head_dim = kv.head_dim, block_size = kv.block_size;
  const int64_t block_bytes = block_size * head_dim * static_cast<int64_t>(sizeof(T));
  const bool exact = head_dim < kExactScoreHeadDim;
  auto prefetch_block = [&](const T* base, int32_t block) {
    const char* start = reinterpret_cast<const char*>(base + kv_head_block_offset(kv, block, kv_head));
    for (int64_t line = 0; line < block_bytes; line += 64) _mm_prefetch(start + line, _MM_HINT_T0);
  };
  const int32_t num_blocks = static_cast<int32_t>((context + block_size - 1) / block_size);
  for (int32_t b = 0; b < num_blocks; ++b) {
    const T* k_block = k_base + kv_head_block_offset(kv, block_table[static_cast<size_t>(b)], kv_head);
    // K two blocks ahead (blocks 1 and 2 on entering block 0), and this block's V for the pass
    // over V that follows.
    for (int32_t ahead = b == 0 ? 1 : kScoreBlocksAhead; ahead <= kScoreBlocksAhead; ++ahead) {
      if (b + ahead < num_blocks) prefetch_block(k_base, block_table[static_cast<size_t>(b + ahead)]);
    }
    prefetch_block(static_cast<const T*>(kv.v), block_table[static_cast<size_t>(b)]);
    const int32_t first = b * static_cast<int32_t>(block_size);
    const int32_t count = std::min(static_cast<int32_t>(block_size), context - first);
    for (int64_t g = 0; g < num_group_heads; g += PositionLanes::kMaxScoreHeads) {
      with_count<PositionLanes::kMaxScoreHeads>(
          std::min<int64_t>(PositionLanes::kMaxScoreHeads, num_group_heads - g), [&](auto heads) {
            (exact ? block_scores<T, heads(), true> : block_scores<T, heads(), false>)(
                q + g * head_dim, head_dim, k_block, block_size, count, context, scale, scores + g * context + first);
          });
    }
  }
}

// The weighted sum of V over the ISA's weighted_values_chunks: fused multiply-adds on the f16
// fast path, the reference's separate multiply and add otherwise.
template <typename T, int kHeads>
void weighted_values(const float* scores, int32_t context, const PagedKvLayer& kv,
                     std::span<const int32_t> block_table, int64_t kv_head, float* out) {
  if constexpr (std::is_same_v<T, uint16_t>) {
    if (f16_fast_path(kv)) {
      weighted_values_chunks<T, kHeads, true>(scores, context, kv, block_table, kv_head, out);
      return;
    }
  }
  weighted_values_chunks<T, kHeads, false>(scores, context, kv, block_table, kv_head, out);
}

template <typename T>
void attention_heads_x86(const float* q, int32_t position, int32_t first_visible, float scale, float softcap,
                         int64_t first_head, int64_t num_group_heads, int64_t num_heads, const PagedKvLayer& kv,
                         std::span<const int32_t> block_table, float* scores, float* out) {
  const int64_t head_dim = kv.head_dim;
  const int64_t kv_head = first_head / (num_heads / kv.num_kv_heads);
  const int32_t context = position + 1;
  constexpr bool kF16 = std::is_same_v<T, uint16_t>;
  if constexpr (kF16) {
    // As ggml's f16 matmuls: the query and the softmax weights are rounded to f16 too.
    thread_local std::vector<float> q_rounded;
    q_rounded.resize(static_cast<size_t>(num_group_heads * head_dim));
    round_to_f16(q, num_group_heads * head_dim, q_rounded.data());
    q = q_rounded.data();
  }
  group_scores<T>(q, num_group_heads, kv, block_table, kv_head, context, scale, scores);
  for (int64_t g = 0; g < num_group_heads; ++g) {
    float* head_scores = scores + g * context;
    // Sliding window: positions before first_visible (in the first block read) get weight 0.
    if (softcap > 0.0f) ref::softcap(head_scores + first_visible, context - first_visible, softcap);
    softmax_x86(head_scores + first_visible, context - first_visible);
    std::fill(head_scores, head_scores + first_visible, 0.0f);
    if constexpr (kF16) round_to_f16(head_scores, context, head_scores);
  }
  // Up to four heads per pass over V: 4 x kHeads accumulators stay in registers.
  constexpr int64_t kMaxHeadsPerPass = 4;
  for (int64_t g = 0; g < num_group_heads; g += kMaxHeadsPerPass) {
    const float* pass_scores = scores + g * context;
    float* pass_out = out + g * head_dim;
    switch (std::min(kMaxHeadsPerPass, num_group_heads - g)) {
      case 1: weighted_values<T, 1>(pass_scores, context, kv, block_table, kv_head, pass_out); break;
      case 2: weighted_values<T, 2>(pass_scores, context, kv, block_table, kv_head, pass_out); break;
      case 3: weighted_values<T, 3>(pass_scores, context, kv, block_table, kv_head, pass_out); break;
      default: weighted_values<T, 4>(pass_scores, context, kv, block_table, kv_head, pass_out); break;
    }
  }
}

// The AttentionHeadsFn of an ISA: dispatches on the cache's element type.
void attention_heads_x86(const float* q, int32_t position, int32_t first_visible, float scale, float softcap,
                         int64_t first_head, int64_t num_group_heads, int64_t num_heads, const PagedKvLayer& kv,
                         std::span<const int32_t> block_table, float* scores, float* out) {
  if (quantized_kv(kv.type)) {
    attention_heads_quantized_x86(q, position, first_visible, scale, softcap, first_head, num_group_heads, num_heads,
                                  kv, block_table, scores, out);
  } else if (kv.type == DType::kF16) {
    attention_heads_x86<uint16_t>(q, position, first_visible, scale, softcap, first_head, num_group_heads, num_heads,
                                  kv, block_table, scores, out);
  } else {
    attention_heads_x86<float>(q, position, first_visible, scale, softcap, first_head, num_group_heads, num_heads, kv,
                               block_table, scores, out);
  }
}

}  // namespace
}  // namespace tessera::kernels
