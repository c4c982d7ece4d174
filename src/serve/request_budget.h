// What one generation request may cost, checked after parsing and tokenizing and before the
// engine sees it: the completions it asks for against the waiting queue, and the size of the
// response its max_tokens and logprobs can build. A request that can never fit is a 400 (a 503
// would tell the client to retry it). No networking, no engine.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "serve/generation_session.h"

namespace tessera::serve {

// Upper estimate of the JSON bytes a response holds for every choice: per token its text and,
// with logprobs, one entry for the sampled token and one per top alternative.
// NOTE: an estimate, not a measure (token texts vary); its constants are generous averages.
int64_t estimate_response_bytes(int64_t num_completions, int32_t max_tokens, int32_t logprobs);

// kInvalidArgument naming the field when `job` (max_tokens already resolved) asks for more
// completions than the waiting queue holds (`max_waiting_requests`, 0 = no limit) or for a
// response above limits.max_response_bytes.
Status check_request_budget(const GenerationJob& job, const RequestLimits& limits, int32_t max_waiting_requests);

}  // namespace tessera::serve
