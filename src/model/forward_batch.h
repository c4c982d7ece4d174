// ForwardBatch: everything one forward pass needs to know about the tokens it runs, as plain data.
// Built by the runner (or a simple generator) from scheduled requests; the model knows nothing
// about requests, queues or how blocks were chosen.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace tessera {

struct SequenceInBatch {
  int32_t first_token = 0;         // index into ForwardBatch::token_ids of its first token
  int32_t num_tokens = 0;          // its consecutive tokens in this batch
  int32_t first_block_table = 0;   // its tables: ForwardBatch::block_tables[first_block_table + group]
};

struct ForwardBatch {
  // Block tables per sequence: the KV cache groups of the cache it runs on (KvLayout); 1 for the
  // plain paged cache. Set before adding sequences; kept by clear().
  int32_t num_kv_groups = 1;
  std::vector<int32_t> token_ids;       // [num_tokens] flat over all sequences, sequence after sequence
  std::vector<int32_t> positions;       // [num_tokens] absolute position of each token in its sequence
  // [num_tokens, num_kv_groups] KV slot = block_id * block_size + offset each token writes, per group.
  std::vector<int64_t> slot_mapping;
  // [num_sequences, num_kv_groups] each sequence's block ids per group; cover every position up to
  // its last token (entries a sliding window has passed are never read).
  std::vector<std::span<const int32_t>> block_tables;
  std::vector<SequenceInBatch> sequences;
  std::vector<int32_t> logit_rows;      // flat token indices whose logits are returned, in output order

  int32_t num_tokens() const { return static_cast<int32_t>(token_ids.size()); }
  int64_t slot(int32_t token, int32_t group) const {
    return slot_mapping[static_cast<size_t>(token) * static_cast<size_t>(num_kv_groups) + static_cast<size_t>(group)];
  }
  std::span<const int32_t> block_table(const SequenceInBatch& sequence, int32_t group) const {
    return block_tables[static_cast<size_t>(sequence.first_block_table + group)];
  }
  void clear() {
    token_ids.clear();
    positions.clear();
    slot_mapping.clear();
    block_tables.clear();
    sequences.clear();
    logit_rows.clear();
  }
  // Appends `tokens` of one sequence starting at `start_position`, with slots from its block table
  // (a batch of one KV cache group); the logits of its last `num_logits` tokens are requested (0 or
  // 1 = false or true for ordinary steps; k + 1 to verify k draft tokens).
  void add_sequence(std::span<const int32_t> tokens, int32_t start_position, std::span<const int32_t> block_table,
                    int32_t block_size, int32_t num_logits);
  // The same with one block table per KV cache group (num_kv_groups of them).
  void add_sequence(std::span<const int32_t> tokens, int32_t start_position,
                    std::span<const std::span<const int32_t>> group_block_tables, int32_t block_size,
                    int32_t num_logits);
};

}  // namespace tessera
