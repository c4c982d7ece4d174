// OpenAI response bodies as JSON: completion and chat results, their streaming chunks, usage,
// the two logprobs formats, and the error object. Pure builders; no networking.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "serve/choice_state.h"

namespace tessera::serve {

using Json = nlohmann::json;

// Serializes with invalid UTF-8 (a token that is half a character) replaced, never throwing.
std::string dump_json(const Json& value);

// {"error": {"message", "type", "param", "code"}}; param/code null when empty.
Json error_json(const std::string& message, const std::string& type, const std::string& param, const std::string& code);

Json usage_json(int64_t prompt_tokens, int64_t completion_tokens);

// Completions format: {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"};
// offsets count bytes from `first_offset` (the echoed prompt's length, or 0).
Json completion_logprobs_json(const std::vector<LogprobEntry>& entries, size_t first_offset);
// Chat format: {"content": [{"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}]}.
Json chat_logprobs_json(const std::vector<LogprobEntry>& entries);

// Envelope shared by results and chunks: id, object, created, model, choices.
Json response_envelope(const std::string& id, const char* object, int64_t created, const std::string& model);

// One streaming choice. Completions: {"index", "text", "logprobs", "finish_reason"};
// chat: {"index", "delta", "logprobs", "finish_reason"} where delta holds role (first chunk) and content.
Json completion_chunk_choice(int32_t index, const std::string& text, const Json& logprobs,
                             const std::optional<std::string>& finish_reason);
Json chat_chunk_choice(int32_t index, const Json& delta, const Json& logprobs,
                       const std::optional<std::string>& finish_reason);

}  // namespace tessera::serve
