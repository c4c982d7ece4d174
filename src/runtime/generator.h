// Generator: runs ONE request to completion on a model — prefill the prompt as one batch, then
// decode a token at a time with a Sampler. The simple path behind `tessera generate`; the
// batching engine (engine/) serves many requests instead.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "model/kv_storage.h"
#include "model/model.h"
#include "sampling/sampler.h"

namespace tessera {

struct GenerationResult {
  std::vector<int32_t> tokens;  // generated ids (including a final end-of-generation id, if any)
  bool stopped_at_eog = false;  // true when an end-of-generation token ended the run
  int64_t prompt_us = 0;        // wall time of the prompt forward pass
  int64_t generate_us = 0;      // wall time of the decode steps
};

class Generator {
 public:
  // `context_size` is the most positions one request may use (prompt + generated); kv_type the
  // KV cache's element type (kF32 or kF16).
  Generator(Model& model, ThreadPool& pool, int32_t context_size, KvTypes kv_type = DType::kF32);

  // Generates up to `max_new_tokens` tokens after `prompt` (which must not be empty and must
  // leave room in the context). `is_eog(id)` ends the run after emitting id; `on_token(id)` is
  // called for every generated id as soon as it exists.
  Expected<GenerationResult> generate(const std::vector<int32_t>& prompt, int32_t max_new_tokens, Sampler& sampler,
                                      const std::function<bool(int32_t)>& is_eog,
                                      const std::function<void(int32_t)>& on_token);

 private:
  Model& model_;
  ThreadPool& pool_;
  kernels::ExecutionContext execution_;  // runs the forward passes on pool_
  int32_t context_size_;
  KvStorage kv_;
  std::vector<int32_t> block_table_;  // [num_blocks] identity table: position p lives in block p / block_size
  std::vector<float> logits_;         // [vocab_size] logits of the latest token
};

}  // namespace tessera
