// Sampler: picks the next token from a row of logits under one request's sampling parameters.
// Owns the per-request RNG so a seed makes a run reproducible. Knows nothing about models.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace tessera {

struct SamplingParams {
  float temperature = 0.8f;        // <= 0 means greedy (argmax)
  int32_t top_k = 40;              // <= 0 means the whole vocabulary
  float top_p = 0.95f;             // 1.0 disables
  float min_p = 0.05f;             // 0.0 disables; relative to the most likely token's probability
  float repetition_penalty = 1.0f; // 1.0 disables; llama.cpp's rule (divide positive, multiply negative logits)
  int32_t repetition_last_n = 64;  // how many recent tokens the penalty looks at (-1: all)
  // OpenAI/vLLM additive penalties over the generated tokens only, i.e. history[num_prompt_tokens:]:
  // logit -= frequency_penalty * count + presence_penalty * (count > 0). 0 disables each.
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int32_t num_prompt_tokens = 0;   // leading history entries that are prompt, not generated
  int32_t logprobs = -1;           // read by the runner: -1 none; k >= 0 the sampled token's logprob and top k
  uint64_t seed = 0xFFFFFFFFu;     // 0xFFFFFFFF: pick a random seed
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  // Chooses a token id from `logits` ([vocab] f32; left unmodified) given the ids generated
  // or prompted so far (`history`, used by the repetition penalty).
  int32_t sample(std::span<const float> logits, std::span<const int32_t> history);

  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;  // scratch: (logit or prob, id), reused
  std::vector<int32_t> counts_;  // scratch: [vocab] occurrences of each id in the output, all 0 between calls
};

}  // namespace tessera
