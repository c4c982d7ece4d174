// Log-probabilities for the OpenAI `logprobs` fields: log-softmax of one row of raw logits, the
// sampled token's value and the k most likely tokens. Pure; knows nothing about requests.
#pragma once

#include <cstdint>
#include <span>

#include "tessera/request.h"

namespace tessera {

// `logits`: [vocab] f32, raw (before penalties or temperature). NaN counts as impossible (-inf).
// top: the `top_k` highest, highest first, ties to the lower id; top_k <= 0 gives none.
SampledLogprobs compute_logprobs(std::span<const float> logits, int32_t sampled_id, int32_t top_k);

}  // namespace tessera
