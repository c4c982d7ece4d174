// TextChunkRunner: runs a long token sequence through a model in independent chunks of
// `context` tokens, as llama.cpp's perplexity and imatrix tools do: chunk i is tokens
// [i*context, (i+1)*context), its first token replaced by BOS when the vocabulary adds one,
// with an empty KV cache. Shared by perplexity and imatrix collection.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "model/kv_storage.h"
#include "model/model.h"

namespace tessera::quantize {

class TextChunkRunner {
 public:
  // `model` must have been loaded with max_context >= context.
  // kv_type: the KV cache's element type (KvStorage).
  TextChunkRunner(Model& model, ThreadPool& pool, int32_t context, KvTypes kv_type = DType::kF32);

  // Checks that `num_tokens` make at least `min_chunks` whole chunks; the message names the counts.
  Status check_enough_tokens(int64_t num_tokens, int32_t min_chunks) const;
  // Whole chunks in `num_tokens`, at most `max_chunks` when that is > 0.
  int32_t num_chunks(int64_t num_tokens, int32_t max_chunks) const;

  // Runs chunk `chunk` of `tokens` and returns the logits of positions [first_logit, context - 1)
  // ([context - 1 - first_logit, vocab] f32; each row predicts the token after its position).
  std::span<const float> run(std::span<const int32_t> tokens, int32_t chunk, int32_t first_logit,
                             int32_t bos_id);

 private:
  Model& model_;
  ThreadPool& pool_;
  kernels::ExecutionContext execution_;  // runs the forward passes on pool_
  int32_t context_;
  KvStorage kv_;
  std::vector<int32_t> block_table_;  // identity: position p lives in block p / block size
  std::vector<int32_t> chunk_tokens_;  // [context] the chunk, BOS first
  std::vector<float> logits_;         // [context - 1, vocab]
};

}  // namespace tessera::quantize
