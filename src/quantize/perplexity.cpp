#include "quantize/perplexity.h"

#include <algorithm>
#include <cmath>

#include "quantize/text_chunks.h"

namespace tessera::quantize {

double negative_log_prob(std::span<const float> logits, int32_t token) {
  float max_logit = logits[0];
  for (float l : logits) max_logit = std::max(max_logit, l);
  double sum_exp = 0.0;
  for (float l : logits) sum_exp += std::exp(l - max_logit);
  return -(static_cast<double>(logits[static_cast<size_t>(token)] - max_logit) - std::log(sum_exp));
}

double PerplexityAccumulator::perplexity() const {
  return count_ == 0 ? 1.0 : std::exp(sum_nll_ / static_cast<double>(count_));
}

double PerplexityAccumulator::error() const {
  if (count_ < 2) return 0;
  const double mean = sum_nll_ / static_cast<double>(count_);
  const double variance = sum_nll2_ / static_cast<double>(count_) - mean * mean;
  if (!(variance > 0)) return 0;
  return std::sqrt(variance / static_cast<double>(count_ - 1)) * perplexity();
}

Expected<PerplexityResult> compute_perplexity(Model& model, std::span<const int32_t> tokens,
                                              const PerplexityOptions& options, ThreadPool& pool,
                                              const std::function<void(int32_t chunk, double running)>& on_chunk) {
  TextChunkRunner runner(model, pool, options.context, options.kv_type);
  TS_RETURN_IF_ERROR(runner.check_enough_tokens(static_cast<int64_t>(tokens.size()), 2));
  const int32_t num_chunks = runner.num_chunks(static_cast<int64_t>(tokens.size()), options.max_chunks);
  const int32_t first = options.context / 2;  // positions before it are context only
  const int32_t vocab = model.config().vocab_size;
  PerplexityAccumulator accumulator;
  PerplexityResult result;
  for (int32_t chunk = 0; chunk < num_chunks; ++chunk) {
    const std::span<const float> logits = runner.run(tokens, chunk, first, options.bos_id);
    const size_t start = static_cast<size_t>(chunk) * static_cast<size_t>(options.context);
    // Row i holds the logits at position first + i, which predict the token at first + i + 1.
    for (int32_t i = 0; i + first < options.context - 1; ++i) {
      const int32_t next = tokens[start + static_cast<size_t>(first + i + 1)];
      accumulator.add(negative_log_prob(logits.subspan(static_cast<size_t>(i) * vocab, vocab), next));
    }
    result.running_perplexity.push_back(accumulator.perplexity());
    if (on_chunk) on_chunk(chunk, accumulator.perplexity());
  }
  result.perplexity = accumulator.perplexity();
  result.error = accumulator.error();
  result.num_scored_tokens = accumulator.count();
  result.num_chunks = num_chunks;
  return result;
}

}  // namespace tessera::quantize
