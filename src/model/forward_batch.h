// ForwardBatch: everything one forward pass needs to know about the tokens it runs, as plain data.
// Built by the runner (or a simple generator) from scheduled requests; the model knows nothing
// about requests, queues or how blocks were chosen.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace tessera {

struct SequenceInBatch {
  int32_t first_token = 0;              // index into ForwardBatch::token_ids of its first token
  int32_t num_tokens = 0;               // its consecutive tokens in this batch
  std::span<const int32_t> block_table; // its KV block ids; covers every position up to its last token
};

struct ForwardBatch {
  std::vector<int32_t> token_ids;       // [num_tokens] flat over all sequences, sequence after sequence
  std::vector<int32_t> positions;       // [num_tokens] absolute position of each token in its sequence
  std::vector<int64_t> slot_mapping;    // [num_tokens] KV slot = block_id * block_size + offset to write
  std::vector<SequenceInBatch> sequences;
  std::vector<int32_t> logit_rows;      // flat token indices whose logits are returned, in output order

  int32_t num_tokens() const { return static_cast<int32_t>(token_ids.size()); }
  void clear() {
    token_ids.clear();
    positions.clear();
    slot_mapping.clear();
    sequences.clear();
    logit_rows.clear();
  }
  // Appends `tokens` of one sequence starting at `start_position`, with slots from its block table;
  // when `want_logits`, the logits of its last token are requested.
  void add_sequence(std::span<const int32_t> tokens, int32_t start_position, std::span<const int32_t> block_table,
                    int32_t block_size, bool want_logits);
};

}  // namespace tessera
