#include "spec/ngram_proposer.h"

#include <algorithm>

#include "base/check.h"

namespace tessera {

NgramProposer::NgramProposer(int32_t ngram_min, int32_t ngram_max) : ngram_min_(ngram_min), ngram_max_(ngram_max) {
  TS_CHECK(ngram_min >= 1 && ngram_min <= ngram_max, "n-gram sizes %d..%d", ngram_min, ngram_max);
}

void NgramProposer::propose(std::span<const ProposalRequest> requests, ThreadPool& pool) {
  pool.parallel_for_dynamic(static_cast<int64_t>(requests.size()), 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      const ProposalRequest& r = requests[static_cast<size_t>(i)];
      propose_one(r.token_ids, r.num_spec_tokens, *r.draft_token_ids);
    }
  });
}

void NgramProposer::propose_one(std::span<const int32_t> token_ids, int32_t num_spec_tokens,
                                std::vector<int32_t>& draft_token_ids) const {
  draft_token_ids.clear();
  const auto num_tokens = static_cast<int64_t>(token_ids.size());
  // NOTE: longest n first, as a longer match is likelier to continue the same way; among matches
  // of one length the most recent wins, as nearby text is likelier to be what is being repeated.
  for (int64_t n = std::min<int64_t>(ngram_max_, num_tokens - 1); n >= ngram_min_; --n) {
    const std::span<const int32_t> suffix = token_ids.last(static_cast<size_t>(n));
    // Match starts s with at least one token after the match: s + n <= num_tokens - 1.
    for (int64_t start = num_tokens - n - 1; start >= 0; --start) {
      if (!std::equal(suffix.begin(), suffix.end(), token_ids.begin() + start)) continue;
      const int64_t first = start + n;
      const int64_t count = std::min<int64_t>(num_spec_tokens, num_tokens - first);
      draft_token_ids.assign(token_ids.begin() + first, token_ids.begin() + first + count);
      return;
    }
  }
}

}  // namespace tessera
