#include "runtime/generator.h"

#include "base/timer.h"

#include <numeric>

namespace tessera {
namespace {

constexpr int32_t kBlockSize = 16;

int32_t blocks_for(int32_t positions) { return (positions + kBlockSize - 1) / kBlockSize; }

}  // namespace

Generator::Generator(Model& model, ThreadPool& pool, int32_t context_size, KvTypes kv_type)
    : model_(model),
      pool_(pool),
      execution_(pool),
      context_size_(context_size),
      kv_(model.config().num_layers, blocks_for(context_size), kBlockSize, model.kv_cache_heads(),
          model.config().head_dim, kv_type),
      block_table_(static_cast<size_t>(blocks_for(context_size))),
      logits_(static_cast<size_t>(model.config().vocab_size)) {
  std::iota(block_table_.begin(), block_table_.end(), 0);
}

Expected<GenerationResult> Generator::generate(const std::vector<int32_t>& prompt, int32_t max_new_tokens,
                                               Sampler& sampler, const std::function<bool(int32_t)>& is_eog,
                                               const std::function<void(int32_t)>& on_token) {
  const int32_t num_prompt = static_cast<int32_t>(prompt.size());
  if (num_prompt == 0) return invalid_argument("the prompt is empty (no tokens)");
  if (num_prompt >= context_size_) {
    return out_of_range("the prompt has " + std::to_string(num_prompt) + " tokens but the context holds " +
                        std::to_string(context_size_) + " (need at least one free position to generate)");
  }
  const int32_t vocab = model_.config().vocab_size;
  for (int32_t id : prompt) {
    if (id < 0 || id >= vocab) return invalid_argument("prompt token id " + std::to_string(id) + " is outside the vocabulary");
  }
  GenerationResult result;
  std::vector<int32_t> history = prompt;  // prompt + generated, for penalties
  ForwardBatch batch;
  batch.add_sequence(prompt, 0, block_table_, kBlockSize, /*want_logits=*/true);
  int64_t start = now_us();
  model_.forward(batch, kv_, logits_.data(), execution_);
  result.prompt_us = now_us() - start;

  start = now_us();
  int32_t position = num_prompt;
  while (static_cast<int32_t>(result.tokens.size()) < max_new_tokens) {
    const int32_t next = sampler.sample(logits_, history);
    result.tokens.push_back(next);
    history.push_back(next);
    on_token(next);
    if (is_eog(next)) {
      result.stopped_at_eog = true;
      break;
    }
    if (position >= context_size_ || static_cast<int32_t>(result.tokens.size()) >= max_new_tokens) break;
    batch.clear();
    const int32_t token[1] = {next};
    batch.add_sequence(token, position, block_table_, kBlockSize, /*want_logits=*/true);
    model_.forward(batch, kv_, logits_.data(), execution_);
    ++position;
  }
  result.generate_us = now_us() - start;
  return result;
}

}  // namespace tessera
