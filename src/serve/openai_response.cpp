#include "serve/openai_response.h"

namespace tessera::serve {
namespace {

Json bytes_of(const std::string& text) {
  Json bytes = Json::array();
  for (unsigned char c : text) bytes.push_back(int(c));
  return bytes;
}

Json null_if_empty(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

}  // namespace

std::string dump_json(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json error_json(const std::string& message, const std::string& type, const std::string& param, const std::string& code) {
  return {{"error", {{"message", message}, {"type", type}, {"param", null_if_empty(param)}, {"code", null_if_empty(code)}}}};
}

Json usage_json(int64_t prompt_tokens, int64_t completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

Json completion_logprobs_json(const std::vector<LogprobEntry>& entries, size_t first_offset) {
  Json tokens = Json::array(), token_logprobs = Json::array(), top_logprobs = Json::array(), offsets = Json::array();
  size_t offset = first_offset;
  for (const LogprobEntry& e : entries) {
    tokens.push_back(e.token);
    token_logprobs.push_back(e.logprob);
    Json top = Json::object();
    for (const auto& [token, logprob] : e.top) {
      if (!top.contains(token)) top[token] = logprob;  // a dict: two ids with the same text keep the likelier
    }
    top_logprobs.push_back(top);
    offsets.push_back(offset);
    offset += e.token.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top_logprobs}, {"text_offset", offsets}};
}

Json chat_logprobs_json(const std::vector<LogprobEntry>& entries) {
  Json content = Json::array();
  for (const LogprobEntry& e : entries) {
    Json top = Json::array();
    for (const auto& [token, logprob] : e.top) top.push_back({{"token", token}, {"logprob", logprob}, {"bytes", bytes_of(token)}});
    content.push_back({{"token", e.token}, {"logprob", e.logprob}, {"bytes", bytes_of(e.token)}, {"top_logprobs", top}});
  }
  return {{"content", content}};
}

Json response_envelope(const std::string& id, const char* object, int64_t created, const std::string& model) {
  return {{"id", id}, {"object", object}, {"created", created}, {"model", model}, {"choices", Json::array()}};
}

Json completion_chunk_choice(int32_t index, const std::string& text, const Json& logprobs,
                             const std::optional<std::string>& finish_reason) {
  return {{"index", index}, {"text", text}, {"logprobs", logprobs},
          {"finish_reason", finish_reason ? Json(*finish_reason) : Json(nullptr)}};
}

Json chat_chunk_choice(int32_t index, const Json& delta, const Json& logprobs,
                       const std::optional<std::string>& finish_reason) {
  return {{"index", index}, {"delta", delta}, {"logprobs", logprobs},
          {"finish_reason", finish_reason ? Json(*finish_reason) : Json(nullptr)}};
}

}  // namespace tessera::serve
