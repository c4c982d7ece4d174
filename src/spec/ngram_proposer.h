// NgramProposer: prompt lookup decoding. The last n tokens of a request (n from ngram_max down to
// ngram_min) are looked up among its own earlier tokens, prompt and output; the tokens that
// followed the most recent earlier match are the drafts. Free to compute, so it pays wherever
// text repeats (copying, editing, extraction); it proposes nothing elsewhere.
#pragma once

#include "spec/proposer.h"

namespace tessera {

class NgramProposer final : public Proposer {
 public:
  NgramProposer(int32_t ngram_min, int32_t ngram_max);  // 1 <= ngram_min <= ngram_max

  void propose(std::span<const ProposalRequest> requests, ThreadPool& pool) override;
  // One request's drafts: at most num_spec_tokens tokens into `draft_token_ids` (cleared first).
  void propose_one(std::span<const int32_t> token_ids, int32_t num_spec_tokens,
                   std::vector<int32_t>& draft_token_ids) const;

 private:
  int32_t ngram_min_;
  int32_t ngram_max_;
};

}  // namespace tessera
