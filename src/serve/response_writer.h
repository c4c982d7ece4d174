// Turns a running GenerationSession into an OpenAI response: one JSON body, or a Server-Sent
// Events stream ending with `data: [DONE]`. Writes through a callback, so no HTTP library here.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "serve/generation_session.h"
#include "serve/openai_response.h"

namespace tessera::serve {

struct ResponseIds {
  std::string id;        // "cmpl-..." or "chatcmpl-..."
  int64_t created = 0;   // Unix seconds
};

// Writes bytes to the client; false once the client is gone.
using StreamWrite = std::function<bool(std::string_view bytes)>;

struct StreamOptions {
  std::chrono::milliseconds poll_interval{50};         // how often a quiet stream checks its client
  std::chrono::milliseconds heartbeat_interval{1000};  // an SSE comment after this long without bytes
};

// Waits for every choice to finish and returns the completion or chat.completion body.
Json collect_response(GenerationSession& session, const GenerationJob& job, const ResponseIds& ids);

// Streams chunks as they come. Returns false (after cancelling the session, which aborts the engine
// requests and frees their KV blocks) when a write fails because the client left.
bool stream_response(GenerationSession& session, const GenerationJob& job, const ResponseIds& ids,
                     const StreamWrite& write, const StreamOptions& options = {});

}  // namespace tessera::serve
