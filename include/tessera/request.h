// Public view of a request's progress: the tokens one engine step produced for it and, at the
// end, why it finished. Plain data; the engine fills it, callers read it.
#pragma once

#include <cstdint>
#include <vector>

namespace tessera {

using EngineRequestId = int64_t;

enum class FinishReason : uint8_t {
  kNone,    // still running
  kStop,    // sampled a stop token id or an end-of-generation id (EOS, end of turn, ...)
  kLength,  // reached max_tokens or the model's context
  kAbort,   // aborted by the caller
  kTimeout, // ran past GenerationParams::timeout_ms (the engine aborted it)
  kError,   // the engine failed under it (a rank of a parallel model died or hung); no more tokens come
};

const char* to_string(FinishReason reason);

// Log-probability of one token: log-softmax of the model's raw logits (before penalties,
// temperature or truncation), as OpenAI and vLLM report them.
struct TokenLogprob {
  int32_t token_id = 0;
  float logprob = 0.0f;  // natural log, <= 0
};

// The sampled token's log-probability and the most likely alternatives at that position.
struct SampledLogprobs {
  TokenLogprob sampled;             // the token that was chosen
  std::vector<TokenLogprob> top;    // the k most likely, highest first (k = GenerationParams::logprobs)
};

// What one step produced for one completion of one request.
struct RequestOutput {
  EngineRequestId request_id = 0;     // as returned by Engine::add_request
  int32_t index = 0;                  // which completion, 0..n-1
  std::vector<int32_t> new_token_ids; // tokens appended this step (usually one; none mid-prompt)
  FinishReason finish_reason = FinishReason::kNone;  // kNone while the completion is still running
  std::vector<SampledLogprobs> logprobs;  // [new_token_ids.size()] when GenerationParams::logprobs >= 0, else empty
  bool finished() const { return finish_reason != FinishReason::kNone; }
};

}  // namespace tessera
