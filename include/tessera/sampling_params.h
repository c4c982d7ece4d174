// Public sampling parameters of one request: how its tokens are drawn and when it stops.
// Plain data for embedders and the server; the engine maps it onto the internal Sampler.
#pragma once

#include <cstdint>
#include <vector>

namespace tessera {

// NOTE: named GenerationParams, not SamplingParams, because the internal sampling/ module
// already owns that name for the per-draw subset (temperature, top-k, ...).
struct GenerationParams {
  int32_t n = 1;                        // independent completions of the prompt; they share its KV blocks
  int32_t max_tokens = 16;              // output tokens per completion at most, >= 1
  std::vector<int32_t> stop_token_ids;  // any of these ends a completion (kept as its last token)
  bool ignore_eos = false;              // keep generating past the model's end-of-generation ids (EOS, end of turn)
  float temperature = 0.8f;             // <= 0 means greedy (argmax)
  int32_t top_k = 40;                   // <= 0 means the whole vocabulary
  float top_p = 0.95f;                  // 1.0 disables
  float min_p = 0.05f;                  // 0.0 disables
  float repetition_penalty = 1.0f;      // 1.0 disables
  int32_t repetition_last_n = 64;       // tokens the penalty looks back over (-1: all)
  float presence_penalty = 0.0f;        // OpenAI: minus this from each token already generated; 0 disables
  float frequency_penalty = 0.0f;       // OpenAI: minus this times how often it was generated; 0 disables
  int32_t logprobs = -1;                // -1: none; k >= 0: the sampled token's logprob and the top k
  int64_t timeout_ms = 0;               // wall-clock limit from add_request to the last token; 0 = none.
                                        // Past it every completion ends with FinishReason::kTimeout
  uint64_t seed = 0xFFFFFFFFu;          // 0xFFFFFFFF: random; completion i uses seed + i
};

}  // namespace tessera
