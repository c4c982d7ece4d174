// One `data:` payload of a streamed OpenAI completion or chat completion, reduced to what the
// benchmark measures. Works with any OpenAI-compatible server (vLLM, llama.cpp, TGI, ours).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tessera::serve_bench {

struct StreamChunk {
  bool done = false;         // the "[DONE]" sentinel
  bool has_choice = false;   // carries a choice (a token step, even with empty text), so it times TTFT/ITL
  std::string text;          // choices[0].text (completions) or choices[0].delta.content (chat)
  std::optional<int64_t> completion_tokens;  // usage.completion_tokens, when the chunk has usage
  std::optional<int64_t> prompt_tokens;      // usage.prompt_tokens, when the chunk has usage
  std::string error;         // message of an in-stream {"error": ...} object; "" if none
};

// Parses one event's data. Not JSON, or JSON that is not an object: kInvalidArgument.
Expected<StreamChunk> parse_stream_chunk(std::string_view data);

}  // namespace tessera::serve_bench
