#include "quantize/importance_collector.h"

#include <algorithm>

#include "quantize/perplexity.h"
#include "quantize/text_chunks.h"

namespace tessera::quantize {

Expected<ImportanceMatrix> collect_importance(Model& model, std::span<const int32_t> tokens,
                                              const ImportanceOptions& options, ThreadPool& pool,
                                              const std::function<void(int32_t chunk, double running)>& on_chunk) {
  TextChunkRunner runner(model, pool, options.context);
  TS_RETURN_IF_ERROR(runner.check_enough_tokens(static_cast<int64_t>(tokens.size()), 1));
  const int32_t num_chunks = runner.num_chunks(static_cast<int64_t>(tokens.size()), options.max_chunks);

  ImportanceMatrix matrix;
  model.set_matmul_input_observer([&matrix](const MatmulInput& in) {
    matrix.accumulate(in.weight_name, in.rows, in.num_rows, in.num_cols, in.expert, in.num_experts);
  });
  const int32_t first = options.context / 2;
  const int32_t vocab = model.config().vocab_size;
  PerplexityAccumulator accumulator;
  for (int32_t chunk = 0; chunk < num_chunks; ++chunk) {
    // Logits of every position, so the output head sees all tokens as the other matrices do.
    const std::span<const float> logits = runner.run(tokens, chunk, 0, options.bos_id);
    const size_t start = static_cast<size_t>(chunk) * static_cast<size_t>(options.context);
    for (int32_t position = first; position < options.context - 1; ++position) {
      const int32_t next = tokens[start + static_cast<size_t>(position + 1)];
      accumulator.add(negative_log_prob(logits.subspan(static_cast<size_t>(position) * vocab, vocab), next));
    }
    if (on_chunk) on_chunk(chunk, accumulator.perplexity());
  }
  model.set_matmul_input_observer(nullptr);
  matrix.num_chunks = num_chunks;
  matrix.chunk_size = options.context;
  return matrix;
}

}  // namespace tessera::quantize
