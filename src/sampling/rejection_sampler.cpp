#include "sampling/rejection_sampler.h"

#include <algorithm>

#include "base/check.h"
#include "sampling/sampler.h"

namespace tessera {
namespace {

float draft_probability(std::span<const float> draft_probs, int32_t token_id, int32_t draft_token) {
  if (draft_probs.empty()) return token_id == draft_token ? 1.0f : 0.0f;
  return draft_probs[static_cast<size_t>(token_id)];
}

}  // namespace

DraftVerdict verify_draft_token(std::span<const std::pair<float, int32_t>> target, int32_t draft_token,
                                std::span<const float> draft_probs, std::mt19937_64& rng) {
  TS_CHECK(!target.empty(), "verification against an empty distribution");
  float p_draft = 0.0f;
  for (const auto& [p, id] : target) {
    if (id == draft_token) p_draft = p;
  }
  const float q_draft = draft_probability(draft_probs, draft_token, draft_token);
  // u < p / q, written without the division (q > 0: the draft drew this token).
  if (uniform_01(rng) * static_cast<double>(q_draft) < static_cast<double>(p_draft)) return {draft_token, true};

  // The residual max(p - q, 0) lives on the target's support.
  double total = 0.0;
  for (const auto& [p, id] : target) total += std::max(0.0f, p - draft_probability(draft_probs, id, draft_token));
  // NOTE: p == q up to rounding leaves no residual; then acceptance was certain but for rounding,
  // and p itself is the right fallback.
  const bool use_residual = total > 1e-12;
  if (!use_residual) total = 1.0;
  const double point = uniform_01(rng) * total;
  double cumulative = 0.0;
  int32_t last_possible = target.front().second;
  for (const auto& [p, id] : target) {
    const double weight = use_residual ? std::max(0.0f, p - draft_probability(draft_probs, id, draft_token)) : p;
    if (weight <= 0.0) continue;
    cumulative += weight;
    last_possible = id;
    if (point < cumulative) return {id, false};
  }
  return {last_possible, false};  // the point rounded onto the total
}

}  // namespace tessera
