// Sampler: picks the next token from a row of logits under one request's sampling parameters.
// Owns the per-request RNG so a seed makes a run reproducible. Knows nothing about models.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "tessera/sampling_params.h"

namespace tessera {


// A double in [0, 1) from the top 53 bits of one draw. NOTE: written out rather than
// std::uniform_real_distribution, whose algorithm is left to each standard library.
double uniform_01(std::mt19937_64& rng);

class Sampler {
 public:
  // num_prompt_tokens: leading entries of every history passed to sample() that are prompt, not
  // generated (the presence/frequency penalties look only past them).
  explicit Sampler(const SamplingParams& params, int32_t num_prompt_tokens = 0);

  // Chooses a token id from `logits` ([vocab] f32; left unmodified) given the ids generated
  // or prompted so far (`history`, used by the repetition penalty).
  int32_t sample(std::span<const float> logits, std::span<const int32_t> history);

  // (probability, id) pairs that one sample() with the same arguments draws from: the tokens left
  // after penalties, top-k, top-p and min-p, with their softmax at the temperature; they sum to 1.
  // Greedy: the argmax alone. Borrowed scratch, valid until the next call. Speculative decoding's
  // rejection sampler verifies draft tokens against it.
  std::span<const std::pair<float, int32_t>> distribution(std::span<const float> logits,
                                                          std::span<const int32_t> history);

  const SamplingParams& params() const { return params_; }
  std::mt19937_64& rng() { return rng_; }


 private:
  // candidates_ filled from `logits` with the penalties applied, indexed by id; false when the
  // greedy fast path needs none of it.
  bool fill_penalised_candidates(std::span<const float> logits, std::span<const int32_t> history);
  // Truncates candidates_ by top-k, top-p and min-p; returns the kept prefix.
  std::span<std::pair<float, int32_t>> truncated_candidates(bool* sorted);

  SamplingParams params_;
  int32_t num_prompt_tokens_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;  // scratch: (logit or prob, id), reused
  std::vector<int32_t> counts_;  // scratch: [vocab] occurrences of each id in the output, all 0 between calls
};

}  // namespace tessera
