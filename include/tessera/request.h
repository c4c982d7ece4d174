// Public view of a request's progress: the tokens one engine step produced for it and, at the
// end, why it finished. Plain data; the engine fills it, callers read it.
#pragma once

#include <cstdint>
#include <vector>

namespace tessera {

using EngineRequestId = int64_t;

enum class FinishReason : uint8_t {
  kNone,    // still running
  kStop,    // sampled a stop token id or EOS
  kLength,  // reached max_tokens or the model's context
  kAbort,   // aborted by the caller
  kTimeout, // ran past GenerationParams::timeout_ms (the engine aborted it)
};

const char* to_string(FinishReason reason);

// What one step produced for one completion of one request.
struct RequestOutput {
  EngineRequestId request_id = 0;     // as returned by Engine::add_request
  int32_t index = 0;                  // which completion, 0..n-1
  std::vector<int32_t> new_token_ids; // tokens appended this step (usually one; none mid-prompt)
  FinishReason finish_reason = FinishReason::kNone;  // kNone while the completion is still running
  bool finished() const { return finish_reason != FinishReason::kNone; }
};

}  // namespace tessera
