// Rejection sampling for speculative decoding (Leviathan et al. 2023; Chen et al. 2023): verifies
// one draft token against the target model's distribution so that the verified token is
// distributed exactly as the target's, whatever the draft's distribution was. Knows nothing about
// models or requests.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <utility>

namespace tessera {

struct DraftVerdict {
  int32_t token_id = 0;   // the draft token when accepted, otherwise the token drawn in its place
  bool accepted = false;  // false ends the run of drafts: later ones were conditioned on a rejected token
};

// `target`: (probability, id) pairs summing to 1 (Sampler::distribution of the target's logits at
// the draft's position). `draft_probs`: the draft's whole distribution [vocab] that drew
// `draft_token`, or empty for a deterministic proposal (n-gram: all its mass on draft_token).
// Accepts with probability min(1, p(x) / q(x)); otherwise draws from max(p - q, 0), renormalised.
// NOTE: greedy targets are a single token of probability 1, so this accepts exactly when the
// draft is the argmax and otherwise returns the argmax: the same rule as comparing to it.
DraftVerdict verify_draft_token(std::span<const std::pair<float, int32_t>> target, int32_t draft_token,
                                std::span<const float> draft_probs, std::mt19937_64& rng);

}  // namespace tessera
