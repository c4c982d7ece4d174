// Public sampling parameters of one request: how its tokens are drawn (SamplingParams, the part
// the runner's Sampler reads) and how many completions it has and when they stop (GenerationParams).
// Plain data for embedders and the server; the engine hands SamplingParams to the runner as is.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace tessera {

namespace grammar {
class CompiledGrammar;  // src/grammar/compiled_grammar.h: a grammar bound to the model's vocabulary
}

// What one draw needs: the Sampler's input, carried typed from add_request to the runner.
struct SamplingParams {
  float temperature = 0.8f;             // <= 0 means greedy (argmax)
  int32_t top_k = 40;                   // <= 0 means the whole vocabulary
  float top_p = 0.95f;                  // 1.0 disables
  float min_p = 0.05f;                  // 0.0 disables; relative to the most likely token's probability
  float repetition_penalty = 1.0f;      // 1.0 disables; llama.cpp's rule (divide positive, multiply negative logits)
  int32_t repetition_last_n = 64;       // tokens the penalty looks back over (-1: all)
  // OpenAI/vLLM additive penalties over the generated tokens only (not the prompt):
  // logit -= frequency_penalty * count + presence_penalty * (count > 0). 0 disables each.
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int32_t logprobs = -1;                // -1: none; k >= 0: the sampled token's logprob and the top k
  // OpenAI's logit_bias: (token id, bias in [-100, 100]) added to that token's logit before
  // penalties, truncation and temperature (-100 bans a token in practice, 100 all but forces it).
  std::vector<std::pair<int32_t, float>> logit_bias;
  uint64_t seed = 0xFFFFFFFFu;          // 0xFFFFFFFF: random
  // Structured output: only tokens the grammar allows next are ever drawn (the rest are masked to
  // -inf before bias, penalties and truncation), and end-of-generation only where the grammar may
  // end. Shared by every request that uses the same grammar; null = unconstrained.
  std::shared_ptr<const grammar::CompiledGrammar> grammar;
};

// NOTE: a SamplingParams plus what shapes the request around the draws, so the engine passes the
// sampling part on by slicing instead of copying it field by field.
struct GenerationParams : SamplingParams {
  int32_t n = 1;                        // independent completions of the prompt; they share its KV blocks
                                        // (completion i draws with seed + i unless the seed is random)
  int32_t max_tokens = 16;              // output tokens per completion at most, >= 1
  std::vector<int32_t> stop_token_ids;  // any of these ends a completion (kept as its last token)
  bool ignore_eos = false;              // keep generating past the model's end-of-generation ids (EOS, end of turn)
  int64_t timeout_ms = 0;               // wall-clock limit from add_request to the last token; 0 = none.
                                        // Past it every completion ends with FinishReason::kTimeout
};

}  // namespace tessera
