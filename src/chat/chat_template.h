// Chat templates: turns an OpenAI `messages` list into the prompt text a model was trained on, by
// running the model's own Jinja template (GGUF `tokenizer.chat_template`) as Hugging Face's
// apply_chat_template does. Knows nothing about tokenizers, models or HTTP.
//
// NOTE: the rendered text includes BOS where the template writes `bos_token` (Llama, Mistral,
// Gemma), so callers tokenize it with special tokens parsed and WITHOUT adding another BOS
// (vLLM's `add_special_tokens=False` for chat).
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace tessera {

namespace jinja {
class Template;
}

// One tool call of an assistant message, as OpenAI sends it.
struct ChatToolCall {
  std::string id;         // "call_1"
  std::string name;       // the function's name
  std::string arguments;  // JSON text; templates see it parsed (as vLLM passes it), or as text if invalid
};

// One chat message as OpenAI sends it. Roles: "system", "user", "assistant", "tool", ...; what a
// role means is the template's business.
struct ChatMessage {
  std::string role;
  std::string content;                  // plain text; an assistant message with tool_calls and ""
                                        // here reaches the template as content None
  std::vector<ChatToolCall> tool_calls;  // assistant
  std::string tool_call_id;             // tool: the call this result answers ("" none)
  std::string name;                     // tool: the function's name ("" none)
};

struct ChatRenderOptions {
  bool add_generation_prompt = true;  // end with the opening of an assistant turn
  std::string tools_json;             // OpenAI `tools` as a JSON array; "" = none (None to the template)
  std::optional<std::tm> now;         // strftime_now's clock; default local time
  // Adaptations some templates need (probe_tool_template in chat/tool_template_caps.h finds them):
  bool tool_call_content_as_empty = false;  // content "" instead of None beside tool_calls
  bool tool_call_arguments_as_text = false;  // arguments as the JSON text instead of a mapping
};

class ChatTemplate {
 public:
  // A Jinja source (GGUF `tokenizer.chat_template`) or a built-in template name ("chatml",
  // "llama3", ...). An empty source (the model has no template) falls back to ChatML, as
  // llama.cpp does. A syntax error is kInvalidArgument.
  static Expected<ChatTemplate> from_source(std::string_view jinja_source, std::string bos_token,
                                            std::string eos_token);

  // `--chat-template FILE`: a Jinja file or a built-in template name.
  static Expected<ChatTemplate> from_file(const std::string& path, std::string bos_token,
                                          std::string eos_token);

  // A built-in template by name: chatml, llama2, llama3, mistral, gemma, zephyr.
  static Expected<ChatTemplate> from_family_name(std::string_view name, std::string bos_token,
                                                 std::string eos_token);

  // The prompt text for `messages`. Errors (kInvalidArgument): an empty list, bad tools JSON, and
  // whatever the template raises (raise_exception, e.g. roles that do not alternate) or a render
  // over the interpreter's limits.
  Expected<std::string> render(std::span<const ChatMessage> messages, const ChatRenderOptions& options) const;
  Expected<std::string> render(std::span<const ChatMessage> messages, bool add_generation_prompt) const;

  // The built-in template's name, or "jinja" for a template given as source.
  std::string_view family_name() const { return name_; }
  // The Jinja source (tool-call format detection reads it).
  const std::string& source() const { return *source_; }
  // True when no template was given and ChatML was chosen as the fallback.
  bool is_fallback() const { return is_fallback_; }

 private:
  ChatTemplate(std::shared_ptr<const jinja::Template> jinja, std::string name, std::string bos_token, std::string eos_token,
               std::string_view source);

  std::shared_ptr<const jinja::Template> jinja_;  // parsed once, shared by copies and threads
  std::string name_;
  std::string bos_token_;  // text of the model's BOS token, e.g. "<s>", "<|begin_of_text|>", "<bos>"
  std::string eos_token_;  // text of the model's EOS token, e.g. "</s>"
  std::shared_ptr<const std::string> source_;  // shared by copies
  bool is_fallback_ = false;
};

// The built-in template names, comma-separated, for error messages and help texts.
std::string_view chat_family_names();

}  // namespace tessera
