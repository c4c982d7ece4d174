// Proposer: the interface behind which speculative decoding's draft tokens are made (n-gram
// prompt lookup, a draft model). The runner asks it once per step for every request that
// speculates; the target model verifies the drafts in the next step. Knows nothing of scheduling.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/thread_pool.h"

namespace tessera {

// One request's ask.
struct ProposalRequest {
  int64_t request_id = 0;
  std::span<const int32_t> token_ids;        // every known token: prompt then outputs
  int32_t num_spec_tokens = 0;               // drafts wanted, >= 1
  std::vector<int32_t>* draft_token_ids = nullptr;  // out: cleared, then at most num_spec_tokens drafts
                                                    // (none when the proposer has no guess)
};

class Proposer {
 public:
  virtual ~Proposer() = default;
  // Fills each request's draft_token_ids. Batched so that a draft model runs one forward per step.
  virtual void propose(std::span<const ProposalRequest> requests, ThreadPool& pool) = 0;
  // The request finished or was preempted: drop what is kept for it (a draft model's KV).
  virtual void drop_request(int64_t request_id) {}
};

}  // namespace tessera
