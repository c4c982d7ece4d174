#include "quantize/text_chunks.h"

#include <algorithm>
#include <numeric>

#include "base/check.h"

namespace tessera::quantize {
namespace {
constexpr int32_t kBlockSize = 16;
int32_t blocks_for(int32_t positions) { return (positions + kBlockSize - 1) / kBlockSize; }
}  // namespace

TextChunkRunner::TextChunkRunner(Model& model, ThreadPool& pool, int32_t context, KvTypes kv_type)
    : model_(model),
      pool_(pool),
      execution_(pool),
      context_(context),
      kv_(model.config().num_layers, blocks_for(context), kBlockSize, model.config().num_kv_heads,
          model.config().head_dim, kv_type),
      block_table_(static_cast<size_t>(blocks_for(context))),
      chunk_tokens_(static_cast<size_t>(context)),
      logits_(static_cast<size_t>(context) * model.config().vocab_size) {
  TS_CHECK(context >= 2 && context <= model.max_context(), "chunk context %d outside [2, %d]", context,
           model.max_context());
  std::iota(block_table_.begin(), block_table_.end(), 0);
}

Status TextChunkRunner::check_enough_tokens(int64_t num_tokens, int32_t min_chunks) const {
  if (num_tokens / context_ >= min_chunks) return Status();
  return invalid_argument("the text has " + std::to_string(num_tokens) + " tokens; at least " +
                          std::to_string(static_cast<int64_t>(min_chunks) * context_) + " are needed for " +
                          std::to_string(min_chunks) + " chunk(s) of " + std::to_string(context_) +
                          " (use a longer text or a smaller --ctx)");
}

int32_t TextChunkRunner::num_chunks(int64_t num_tokens, int32_t max_chunks) const {
  const int32_t whole = static_cast<int32_t>(num_tokens / context_);
  return max_chunks > 0 ? std::min(whole, max_chunks) : whole;
}

std::span<const float> TextChunkRunner::run(std::span<const int32_t> tokens, int32_t chunk, int32_t first_logit,
                                            int32_t bos_id) {
  const size_t start = static_cast<size_t>(chunk) * static_cast<size_t>(context_);
  TS_CHECK(start + static_cast<size_t>(context_) <= tokens.size(), "chunk %d past the end of the text", chunk);
  TS_CHECK(first_logit >= 0 && first_logit < context_, "first logit %d outside the chunk", first_logit);
  std::copy_n(tokens.begin() + static_cast<std::ptrdiff_t>(start), context_, chunk_tokens_.begin());
  if (bos_id >= 0) chunk_tokens_[0] = bos_id;
  ForwardBatch batch;
  batch.add_sequence(chunk_tokens_, 0, block_table_, kBlockSize, /*want_logits=*/false);
  for (int32_t row = first_logit; row < context_ - 1; ++row) batch.logit_rows.push_back(row);
  model_.forward(batch, kv_, logits_.data(), execution_);
  return {logits_.data(), static_cast<size_t>(context_ - 1 - first_logit) * model_.config().vocab_size};
}

}  // namespace tessera::quantize
