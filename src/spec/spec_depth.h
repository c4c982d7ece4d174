// SpecDepth: how many draft tokens one request asks for next (fixed, or adaptive to its running
// acceptance rate and to how loaded the step is). Plain arithmetic, no model.
#pragma once

#include <cstdint>

namespace tessera {

// The adaptive rule (`--num-spec-tokens auto`):
//   acceptance a = (A + 1) / (D + 2), where A and D are the request's accepted and drafted tokens
//   with every older step's counts decayed by kDecay (a Beta(1,1) prior, so no evidence reads 0.5
//   and a request that stopped speculating drifts back to probing);
//   the j-th draft adds a token only if all j are accepted (probability a^j) and costs c of a step,
//   so k = the largest j <= max_spec_tokens with a^j >= c;
//   c = max(kMinTokenCost, num_step_tokens / kComputeBoundTokens): one more verified token is
//   nearly free while a step is memory-bound (few tokens: every token streams the same weights)
//   and costs a full token's compute once the batch's GEMMs are compute-bound, where k falls to 0.
class SpecDepth {
 public:
  static constexpr double kDecay = 0.8;
  static constexpr double kMinTokenCost = 0.1;
  static constexpr double kComputeBoundTokens = 64.0;

  // adaptive: the rule above with max_spec_tokens as its ceiling; otherwise always max_spec_tokens.
  SpecDepth(int32_t max_spec_tokens, bool adaptive) : max_spec_tokens_(max_spec_tokens), adaptive_(adaptive) {}

  // After a step in which the request sampled: it had `num_drafted` drafts verified (0 if none),
  // `num_accepted` of them accepted.
  void record(int32_t num_drafted, int32_t num_accepted);
  // Drafts to ask for next, given the step's tokens that were not drafts (its load).
  int32_t next_num_spec_tokens(int32_t num_step_tokens) const;
  double acceptance_rate() const { return (accepted_ + 1.0) / (drafted_ + 2.0); }

 private:
  int32_t max_spec_tokens_;
  bool adaptive_;
  double accepted_ = 0.0;  // decayed sum of accepted draft tokens
  double drafted_ = 0.0;   // decayed sum of verified draft tokens
};

}  // namespace tessera
