// Perplexity exactly as llama.cpp's llama-perplexity defines it: the text is tokenized once (with
// BOS), cut into chunks of `context` tokens, each chunk starts with BOS and runs with an empty
// cache, and only the second half of each chunk is scored (the first half is warm-up context).
// PPL = exp(mean negative log-likelihood); the +/- is llama.cpp's estimate
// PPL * sqrt((mean(nll^2) - mean(nll)^2) / (N - 1)).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "model/kv_storage.h"
#include "model/model.h"

namespace tessera::quantize {

// -log p(token | logits) with llama.cpp's arithmetic: max in f32, sum of expf(l - max) in double.
double negative_log_prob(std::span<const float> logits, int32_t token);

// Running statistics of scored tokens.
class PerplexityAccumulator {
 public:
  void add(double nll) {
    sum_nll_ += nll;
    sum_nll2_ += nll * nll;
    ++count_;
  }
  int64_t count() const { return count_; }
  double perplexity() const;  // exp(sum / count); 1 when empty
  double error() const;       // llama.cpp's +/- estimate; 0 when it cannot be formed

 private:
  double sum_nll_ = 0;   // sum of -log p
  double sum_nll2_ = 0;  // sum of (-log p)^2
  int64_t count_ = 0;    // tokens scored
};

struct PerplexityOptions {
  int32_t context = 512;    // tokens per chunk (llama.cpp's -c)
  int32_t max_chunks = -1;  // -1: every whole chunk of the text
  int32_t bos_id = -1;      // replaces each chunk's first token; -1: the vocabulary adds no BOS
  KvTypes kv_type = DType::kF32;  // KV cache element types (f32, f16, q8_0, q4_0; K and V)
};

struct PerplexityResult {
  std::vector<double> running_perplexity;  // [num_chunks] PPL over chunks 1..i
  double perplexity = 0;
  double error = 0;
  int64_t num_scored_tokens = 0;
  int32_t num_chunks = 0;
};

// `tokens`: the whole text tokenized with BOS. Needs at least 2 chunks, as llama.cpp does.
// `model` must have been loaded with max_context >= options.context.
Expected<PerplexityResult> compute_perplexity(Model& model, std::span<const int32_t> tokens,
                                              const PerplexityOptions& options, ThreadPool& pool,
                                              const std::function<void(int32_t chunk, double running)>& on_chunk);

}  // namespace tessera::quantize
