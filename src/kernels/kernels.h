// The op surface of the engine: every numeric operation the model runs, as pure functions over
// plain pointers and views. Kernels know nothing about requests, blocks or files.
// Each op has a scalar reference in kernels/ref/ (the test oracle); faster variants must match it.
// Shapes use [rows, cols] with cols contiguous; all activations are f32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "base/thread_pool.h"
#include "tensor/tensor_view.h"

namespace tessera::kernels {

// Bytes of scratch matmul() needs to convert `num_tokens` activation rows of `num_cols` for `type`.
size_t matmul_scratch_bytes(DType weight_type, int64_t num_cols, int64_t num_tokens);

// out[t, r] = sum_c weight[r, c] * x[t, c] for t < num_tokens, r < weight.num_rows.
//   x:   [num_tokens, weight.num_cols] f32;  out: [num_tokens, weight.num_rows] f32.
// The activations are first converted to vec_dot_type(weight.type) (Q8_0/Q8_1/Q8_K/F16/BF16),
// as llama.cpp does, into `scratch` (matmul_scratch_bytes() bytes, 64-byte aligned).
void matmul(const MatrixView& weight, const float* x, int64_t num_tokens, float* out, void* scratch,
            ThreadPool& pool);

// Several matmuls of the same input x (Q/K/V, gate/up): out_i = weight_i · x as matmul() does,
// with x converted once and one parallel loop over all of them (when the weights share
// num_cols and vec_dot_type; otherwise one matmul() each). At most 4 outputs.
struct MatmulOutput {
  const MatrixView* weight;
  float* out;  // [num_tokens, weight->num_rows] f32
};
void matmul_shared_input(std::span<const MatmulOutput> outputs, const float* x, int64_t num_tokens, void* scratch,
                         ThreadPool& pool);

// Independent matmuls with different inputs (the experts of a mixture, each over the rows routed
// to it), as matmul() computes each: every distinct input is converted once (tasks sharing an x,
// its row count and vec_dot_type share it), all conversions in one parallel loop, then one
// parallel loop over the 16-row units of all tasks: two wake-ups for the lot instead of two per
// task. scratch: matmul_tasks_scratch_bytes(tasks) bytes, 64-byte aligned.
struct MatmulTask {
  const MatrixView* weight;
  const float* x;      // [num_tokens, weight->num_cols] f32
  int64_t num_tokens;
  float* out;          // [num_tokens, weight->num_rows] f32
};
size_t matmul_tasks_scratch_bytes(std::span<const MatmulTask> tasks);
// An upper bound of matmul_tasks_scratch_bytes for at most num_inputs distinct inputs of
// num_cols columns and total_tokens rows in all, against weights of `weight_type`.
size_t matmul_tasks_scratch_bound(DType weight_type, int64_t num_cols, int64_t total_tokens, int64_t num_inputs);
void matmul_tasks(std::span<const MatmulTask> tasks, void* scratch, ThreadPool& pool);

// Load-time weight repacking (kernels/cpu/repack.h). True when the active ISA has a faster
// kernel for a repacked copy of `weight`; repack_weight then writes that copy to dst
// (weight.num_rows * weight.row_stride_bytes bytes, 64-byte aligned) and returns its view, which
// only matmul() may read. Results stay within the matmul tests' tolerance of the reference.
bool prefers_repacked(const MatrixView& weight);
MatrixView repack_weight(const MatrixView& weight, uint8_t* dst);

// out[t, :] = the f32 values of row ids[t] of `table` (embedding lookup in any dtype).
void get_rows(const MatrixView& table, std::span<const int32_t> ids, float* out);

// The f32 ops below take an optional pool: given one, a batch of many tokens is split across its
// threads (same results: every token, every element, is computed the same way); one or a few
// tokens run on the calling thread, where a wake-up would cost more than it saves.

// out[t, :] = x[t, :] / sqrt(mean(x[t, :]^2) + eps) * weight[:]   (x, out: [num_tokens, dim]).
void rms_norm(const float* x, const float* weight, int64_t num_tokens, int64_t dim, float eps, float* out,
              ThreadPool* pool = nullptr);

enum class RopeOrder {
  kNormal,  // rotate adjacent pairs (x[2i], x[2i+1]): llama, mistral
  kNeox,    // rotate halves (x[i], x[i + rot_dims/2]): gpt-neox, qwen2, phi3, gemma
};

struct RopeParams {
  int32_t rot_dims = 0;        // leading dims of each head that rotate (rope.dimension_count)
  float freq_base = 10000.0f;  // theta_i = pos * freq_scale * freq_base^(-2i/rot_dims)
  float freq_scale = 1.0f;     // 1 / linear scaling factor
  RopeOrder order = RopeOrder::kNormal;
};

// Rotates in place x: [num_tokens, num_heads, head_dim] with positions[t] for token t.
void rope(float* x, std::span<const int32_t> positions, int64_t num_heads, int64_t head_dim,
          const RopeParams& params, ThreadPool* pool = nullptr);

// The angles of rope for each of `positions`, computed once and shared by every call that rotates
// at those positions (q and k of every layer of a forward pass):
// table[t * rot_dims + i] = cos and table[t * rot_dims + i + 1] = sin of pair i / 2 (i even),
// the same values rope computes. table: positions.size() x rot_dims floats.
void rope_table(std::span<const int32_t> positions, const RopeParams& params, float* table);
// rope with the angles of rope_table: bit for bit rope at the positions the table was made for.
void rope_from_table(float* x, int64_t num_tokens, int64_t num_heads, int64_t head_dim, const float* table,
                     const RopeParams& params, ThreadPool* pool = nullptr);

// out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)); n elements.
void silu_mul(const float* gate, const float* up, int64_t n, float* out, ThreadPool* pool = nullptr);

// out[i] = gelu_tanh(gate[i]) * up[i] as ggml's CPU backend computes it (GGML_GELU_FP16): for
// -10 < g < 10 the GELU of g rounded to f16 (0.5 g (1 + tanh(sqrt(2/pi) g (1 + 0.044715 g^2)))),
// itself rounded to f16; 0 at or below -10; g at or above 10. n elements; out may alias gate.
void gelu_tanh_mul(const float* gate, const float* up, int64_t n, float* out, ThreadPool* pool = nullptr);

// x[t, :] += bias[:] for t < num_tokens (x: [num_tokens, dim]).
void add_bias(float* x, const float* bias, int64_t num_tokens, int64_t dim, ThreadPool* pool = nullptr);

// x[i] *= factor for n elements.
void scale_inplace(float* x, int64_t n, float factor, ThreadPool* pool = nullptr);

// x[i] = cap * tanh(x[i] / cap) for n elements (logit soft-capping, gemma2-style).
void softcap_inplace(float* x, int64_t n, float cap);

// x[0..n) = softmax(x) in place (max-subtracted, sum in double as ggml does).
void softmax(float* x, int64_t n);

// out[i] = x[i] as IEEE half, rounded to nearest even (f32_to_f16 of each), for n elements.
void to_f16(const float* x, int64_t n, uint16_t* out);

// out[i] += x[i] for n elements.
void add_inplace(float* out, const float* x, int64_t n, ThreadPool* pool = nullptr);

}  // namespace tessera::kernels

namespace tessera::kernels {

// One layer's paged KV cache, as attention reads it.
// NOTE: head-major inside a block (vLLM's CPU layout too): the block_size entries of one kv head
// are contiguous (block_size x head_dim values), so attention streams one run of memory per block
// and head instead of picking head_dim values out of every token's num_kv_heads x head_dim.
// Inside that run V is position-major (each position's head_dim values together: the weighted
// sum of V runs over d with a position's weight broadcast), but K is DIMENSION-major (each
// dimension's block_size values together): q . k for a vector of positions is then one
// broadcast multiply-add per dimension, with no horizontal sums and no scalar tail.
struct PagedKvLayer {
  const void* k = nullptr;   // [num_blocks, num_kv_heads, head_dim, block_size] of `type`
  const void* v = nullptr;   // [num_blocks, num_kv_heads, block_size, head_dim] of `type`
  int32_t block_size = 16;   // tokens per block
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  DType type = DType::kF32;  // kF32 or kF16 (the values attention reads are converted to f32),
                             // or kQ8_0 / kQ4_0 (quantized_kv below); K's type when v_type is set
  std::optional<DType> v_type;  // V's type when it differs from K's (both quantized); value_type()
};

// The element type of kv.v.
inline DType value_type(const PagedKvLayer& kv) { return kv.v_type.value_or(kv.type); }

// Quantized KV (kQ8_0, kQ4_0; K and V may differ): ggml's 32-value blocks (an f16 scale and 32
// int8 values or 32 nibbles), head_dim / 32 blocks per (position, kv head). Per (block, kv head)
// a region of block_size rows' bytes, laid out for attention:
//  - V: position-major rows, [block_size][head_dim / 32 blocks] (quantized_v_offset): the weighted
//    sum dequantizes a row at a time.
//  - K: per 32-value block b of the rows, the block_size f16 scales, then the values as 4-byte
//    groups dimension-major: [head_dim / 32][scales[block_size], groups[kGroups][block_size][4
//    bytes]]. Group i of Q8_0 is values 4i..4i+3; of Q4_0 the stored bytes 4i..4i+3 (low nibbles
//    values 4i..4i+3, high nibbles 16+4i..16+4i+3). One 4-byte group of block_size positions is
//    then one vector, so q . k for the positions of a block is one integer multiply-add (vpdpbusd)
//    per group with q's 4 bytes broadcast, with no horizontal sums (as the f16 K is dimension-major).
// NOTE: a quantized value needs its block's scale, so the query is converted to Q8_0 (as ggml's
// flash attention does on a quantized cache) and each (position, block) dot is scaled by both
// scales. head_dim must be a multiple of 32.
inline bool quantized_kv(DType type) { return type == DType::kQ8_0 || type == DType::kQ4_0; }
// Bytes of one position's head_dim values of one kv head in a `type` cache (any KV type).
size_t kv_row_bytes(DType type, int64_t head_dim);
// Index of the row of KV slot `slot` of `kv_head` in a quantized cache: the (block, kv head)
// regions one after another, block_size rows each.
inline int64_t quantized_row_index(const PagedKvLayer& kv, int64_t slot, int64_t kv_head) {
  return ((slot / kv.block_size) * kv.num_kv_heads + kv_head) * kv.block_size + slot % kv.block_size;
}
// Byte offset, in kv.v of a quantized cache, of the row of KV slot `slot` of `kv_head`.
inline int64_t quantized_v_offset(const PagedKvLayer& kv, int64_t slot, int64_t kv_head) {
  return quantized_row_index(kv, slot, kv_head) * static_cast<int64_t>(kv_row_bytes(value_type(kv), kv.head_dim));
}
// Byte offset, in kv.k of a quantized cache, of the K region of (block `block`, `kv_head`).
inline int64_t quantized_k_region_offset(const PagedKvLayer& kv, int64_t block, int64_t kv_head) {
  return (block * kv.num_kv_heads + kv_head) * kv.block_size * static_cast<int64_t>(kv_row_bytes(kv.type, kv.head_dim));
}
// One position's K row as head_dim / 32 contiguous blocks of kv.type, stored into / read from its
// place in the K layout above (`k`: the layer's K memory).
void write_quantized_k_row(const PagedKvLayer& kv, void* k, int64_t slot, int64_t kv_head, const void* row);
void read_quantized_k_row(const PagedKvLayer& kv, int64_t slot, int64_t kv_head, void* row);

// Offset in elements, in kv.k and kv.v, of the block_size x head_dim values of `kv_head` in
// block `block`.
inline int64_t kv_head_block_offset(const PagedKvLayer& kv, int64_t block, int64_t kv_head) {
  return (block * kv.num_kv_heads + kv_head) * kv.block_size * kv.head_dim;
}

// Offsets in elements of KV slot `slot` (slot = block id * block_size + index inside the block)
// of `kv_head`: in kv.v, of its head_dim contiguous values; in kv.k, of its dimension 0, dimension
// d being at + d * kv.block_size.
inline int64_t v_slot_offset(const PagedKvLayer& kv, int64_t slot, int64_t kv_head) {
  return kv_head_block_offset(kv, slot / kv.block_size, kv_head) + slot % kv.block_size * kv.head_dim;
}
inline int64_t k_slot_offset(const PagedKvLayer& kv, int64_t slot, int64_t kv_head) {
  return kv_head_block_offset(kv, slot / kv.block_size, kv_head) + slot % kv.block_size;
}

// The same for the slot holding `position`: index position % block_size of block
// block_table[position / block_size].
inline int64_t position_slot(const PagedKvLayer& kv, std::span<const int32_t> block_table, int32_t position) {
  return static_cast<int64_t>(block_table[static_cast<size_t>(position / kv.block_size)]) * kv.block_size +
         position % kv.block_size;
}
inline int64_t v_offset(const PagedKvLayer& kv, std::span<const int32_t> block_table, int32_t position,
                        int64_t kv_head) {
  return v_slot_offset(kv, position_slot(kv, block_table, position), kv_head);
}
inline int64_t k_offset(const PagedKvLayer& kv, std::span<const int32_t> block_table, int32_t position,
                        int64_t kv_head) {
  return k_slot_offset(kv, position_slot(kv, block_table, position), kv_head);
}

// How a query's scores are formed: scale, causal window and soft-cap.
struct AttentionParams {
  float scale = 1.0f;          // multiplies q . k
  int32_t sliding_window = 0;  // > 0: the query at position p sees positions p - W + 1 ... p only
                               // (llama.cpp masks p - p' >= W); 0: every position up to p
  float softcap = 0.0f;        // > 0: a scaled score s becomes softcap * tanh(s / softcap)
};

// The first position a query at `position` sees under `params`.
inline int32_t first_visible_position(int32_t position, const AttentionParams& params) {
  return params.sliding_window > 0 && position >= params.sliding_window ? position - params.sliding_window + 1 : 0;
}

// Causal attention for `num_tokens` consecutive query tokens of ONE sequence.
//   q:   [num_tokens, num_heads, head_dim] f32 (already rotated)
//   positions[t]: absolute position of query t; it attends to cached positions 0..positions[t].
//   block_table: the sequence's block ids; position p lives in block block_table[p / block_size].
//   out: [num_tokens, num_heads * head_dim] f32.
// GQA: query head h reads kv head h / (num_heads / num_kv_heads).
// scratch: attention_scratch_floats(max_context, num_heads / num_kv_heads, pool) floats.
size_t attention_scratch_floats(int64_t max_context, int64_t heads_per_kv_head, const ThreadPool& pool);
// With a sliding window, blocks wholly before the window are never read (their block_table
// entries may be anything, e.g. the null block of a released block).
void paged_attention(const float* q, int64_t num_tokens, int64_t num_heads, std::span<const int32_t> positions,
                     const PagedKvLayer& kv, std::span<const int32_t> block_table, const AttentionParams& params,
                     float* out, float* scratch, ThreadPool& pool);
inline void paged_attention(const float* q, int64_t num_tokens, int64_t num_heads, std::span<const int32_t> positions,
                            const PagedKvLayer& kv, std::span<const int32_t> block_table, float scale, float* out,
                            float* scratch, ThreadPool& pool) {
  paged_attention(q, num_tokens, num_heads, positions, kv, block_table, AttentionParams{scale}, out, scratch, pool);
}

// The query tokens of one sequence in a batched attention call (see paged_attention_batch).
struct AttentionSequence {
  const float* q;                        // [positions.size(), num_heads, head_dim]
  std::span<const int32_t> positions;    // one per query token
  std::span<const int32_t> block_table;  // the sequence's block ids
  float* out;                            // [positions.size(), num_heads * head_dim]
};

// paged_attention for several sequences at once: one parallel loop over every (token, head) of
// every sequence, so a decode step of many short sequences pays one wake-up and one barrier per
// layer rather than one per sequence. Same results as calling paged_attention per sequence.
void paged_attention_batch(std::span<const AttentionSequence> sequences, int64_t num_heads, const PagedKvLayer& kv,
                           const AttentionParams& params, float* scratch, ThreadPool& pool);
inline void paged_attention_batch(std::span<const AttentionSequence> sequences, int64_t num_heads,
                                  const PagedKvLayer& kv, float scale, float* scratch, ThreadPool& pool) {
  paged_attention_batch(sequences, num_heads, kv, AttentionParams{scale}, scratch, pool);
}

}  // namespace tessera::kernels
