// Turns a running GenerationSession into an OpenAI response: one JSON body, or a Server-Sent
// Events stream ending with `data: [DONE]`. Writes through a callback, so no HTTP library here.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "chat/tool_call_parser.h"
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
// The body of a session whose every choice has finished.
Json response_body(const GenerationSession& session, const GenerationJob& job, const ResponseIds& ids);

// The SSE bytes of one streamed response, piece by piece, for callers that drive the session
// themselves (the event-driven server) or through stream_response below.
class SseEncoder {
 public:
  SseEncoder(const GenerationJob& job, const ResponseIds& ids, int32_t num_choices);
  std::string begin();  // chat: each choice's role; completions with echo: the prompts; else ""
  std::string encode(const std::vector<std::pair<int32_t, ChoiceDelta>>& deltas);
  std::string end(int64_t prompt_tokens, int64_t completion_tokens);  // usage (if asked) and [DONE]

 private:
  std::string chunk_with(Json choice) const;
  // Chat with tools: the delta's text through choice `index`'s tool-call parser, as chunks.
  std::string encode_with_tools(int32_t index, const ChoiceDelta& delta, const Json& logprobs);

  const GenerationJob& job_;
  Json envelope_;                    // the fields every chunk repeats
  int32_t num_choices_ = 0;
  std::vector<size_t> text_offset_;  // [choices] completions logprobs offsets so far
  std::vector<StreamingToolCallParser> tool_parsers_;  // [choices] when job.parses_output()
  std::vector<std::vector<std::string>> call_ids_;     // [choices][calls] ids sent with each call's start
};

// A fresh tool-call id: "call_" and 24 random alphanumerics.
std::string new_tool_call_id();

// Streams chunks as they come. Returns false (after cancelling the session, which aborts the engine
// requests and frees their KV blocks) when a write fails because the client left.
bool stream_response(GenerationSession& session, const GenerationJob& job, const ResponseIds& ids,
                     const StreamWrite& write, const StreamOptions& options = {});

}  // namespace tessera::serve
