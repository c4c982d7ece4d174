#include "spec/spec_depth.h"

#include <algorithm>

namespace tessera {

void SpecDepth::record(int32_t num_drafted, int32_t num_accepted) {
  accepted_ = accepted_ * kDecay + num_accepted;
  drafted_ = drafted_ * kDecay + num_drafted;
}

int32_t SpecDepth::next_num_spec_tokens(int32_t num_step_tokens) const {
  if (!adaptive_) return max_spec_tokens_;
  const double cost = std::max(kMinTokenCost, num_step_tokens / kComputeBoundTokens);
  const double rate = acceptance_rate();
  int32_t k = 0;
  for (double gain = rate; k < max_spec_tokens_ && gain >= cost; gain *= rate) ++k;
  return k;
}

}  // namespace tessera
