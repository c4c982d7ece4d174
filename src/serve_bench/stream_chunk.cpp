#include "serve_bench/stream_chunk.h"

#include <nlohmann/json.hpp>

namespace tessera::serve_bench {
namespace {

std::optional<int64_t> optional_count(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

std::string error_message(const nlohmann::json& error) {
  if (error.is_string()) return error.get<std::string>();
  if (error.is_object()) {
    const auto message = error.find("message");
    if (message != error.end() && message->is_string()) return message->get<std::string>();
  }
  return error.dump();
}

}  // namespace

Expected<StreamChunk> parse_stream_chunk(std::string_view data) {
  StreamChunk chunk;
  if (data == "[DONE]") {
    chunk.done = true;
    return chunk;
  }
  const nlohmann::json json = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return invalid_argument("stream chunk is not a JSON object: " + std::string(data.substr(0, 200)));
  }
  if (const auto error = json.find("error"); error != json.end() && !error->is_null()) {
    chunk.error = error_message(*error);
  }
  if (const auto choices = json.find("choices"); choices != json.end() && choices->is_array() && !choices->empty()) {
    chunk.has_choice = true;
    const nlohmann::json& choice = choices->front();
    if (const auto text = choice.find("text"); text != choice.end() && text->is_string()) {
      chunk.text = text->get<std::string>();
    } else if (const auto delta = choice.find("delta"); delta != choice.end() && delta->is_object()) {
      const auto content = delta->find("content");
      if (content != delta->end() && content->is_string()) chunk.text = content->get<std::string>();
    }
  }
  if (const auto usage = json.find("usage"); usage != json.end() && usage->is_object()) {
    chunk.completion_tokens = optional_count(*usage, "completion_tokens");
    chunk.prompt_tokens = optional_count(*usage, "prompt_tokens");
  }
  return chunk;
}

}  // namespace tessera::serve_bench
