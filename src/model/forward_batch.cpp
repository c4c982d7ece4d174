#include "model/forward_batch.h"

#include "base/check.h"

namespace tessera {

void ForwardBatch::add_sequence(std::span<const int32_t> tokens, int32_t start_position,
                                std::span<const int32_t> block_table, int32_t block_size, bool want_logits) {
  const int32_t first = num_tokens();
  const int32_t count = static_cast<int32_t>(tokens.size());
  TS_CHECK(static_cast<int64_t>(block_table.size()) * block_size >= start_position + count,
           "block table of %zu blocks cannot hold position %d", block_table.size(), start_position + count - 1);
  for (int32_t i = 0; i < count; ++i) {
    const int32_t position = start_position + i;
    token_ids.push_back(tokens[static_cast<size_t>(i)]);
    positions.push_back(position);
    slot_mapping.push_back(static_cast<int64_t>(block_table[static_cast<size_t>(position / block_size)]) * block_size +
                           position % block_size);
  }
  sequences.push_back({first, count, block_table});
  if (want_logits && count > 0) logit_rows.push_back(first + count - 1);
}

}  // namespace tessera
