#include "model/forward_batch.h"

#include <algorithm>

#include "base/check.h"

namespace tessera {

void ForwardBatch::add_sequence(std::span<const int32_t> tokens, int32_t start_position,
                                std::span<const int32_t> block_table, int32_t block_size, int32_t num_logits) {
  TS_CHECK(num_kv_groups == 1, "one block table for a batch of %d KV cache groups", num_kv_groups);
  add_sequence(tokens, start_position, std::span<const std::span<const int32_t>>(&block_table, 1), block_size,
               num_logits);
}

void ForwardBatch::add_sequence(std::span<const int32_t> tokens, int32_t start_position,
                                std::span<const std::span<const int32_t>> group_block_tables, int32_t block_size,
                                int32_t num_logits) {
  TS_CHECK(static_cast<int32_t>(group_block_tables.size()) == num_kv_groups, "%zu block tables for %d groups",
           group_block_tables.size(), num_kv_groups);
  const int32_t first = num_tokens();
  const int32_t count = static_cast<int32_t>(tokens.size());
  for (const std::span<const int32_t> table : group_block_tables) {
    TS_CHECK(static_cast<int64_t>(table.size()) * block_size >= start_position + count,
             "block table of %zu blocks cannot hold position %d", table.size(), start_position + count - 1);
  }
  for (int32_t i = 0; i < count; ++i) {
    const int32_t position = start_position + i;
    token_ids.push_back(tokens[static_cast<size_t>(i)]);
    positions.push_back(position);
    for (const std::span<const int32_t> table : group_block_tables) {
      slot_mapping.push_back(static_cast<int64_t>(table[static_cast<size_t>(position / block_size)]) * block_size +
                             position % block_size);
    }
  }
  sequences.push_back({first, count, static_cast<int32_t>(block_tables.size())});
  block_tables.insert(block_tables.end(), group_block_tables.begin(), group_block_tables.end());
  TS_CHECK(num_logits >= 0, "logits of %d tokens", num_logits);
  num_logits = std::min(num_logits, count);
  for (int32_t i = count - num_logits; i < count; ++i) logit_rows.push_back(first + i);
}

}  // namespace tessera
