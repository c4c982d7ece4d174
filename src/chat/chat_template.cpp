// ChatTemplate: loads a Jinja source, a file or a built-in template, and renders OpenAI messages
// with the variables Hugging Face's apply_chat_template passes (messages, tools, documents,
// add_generation_prompt, bos_token, eos_token).
#include "chat/chat_template.h"

#include <fstream>
#include <sstream>

#include "chat/chat_builtin_templates.h"
#include "chat/jinja/json.h"
#include "chat/jinja/string_util.h"
#include "chat/jinja/template.h"

namespace tessera {
namespace {

using jinja::Value;

// The message as the template sees it: OpenAI's fields, tool-call arguments parsed (vLLM does the
// same before applying a template; most tool templates expect a mapping there).
Value message_value(const ChatMessage& m, const ChatRenderOptions& options) {
  Value message = Value::dict();
  jinja::DictData& d = message.as_dict();
  d.set("role", Value(m.role));
  const bool null_content = m.content.empty() && !m.tool_calls.empty() && !options.tool_call_content_as_empty;
  d.set("content", null_content ? Value::none() : Value(m.content));
  if (!m.tool_calls.empty()) {
    std::vector<Value> calls;
    for (const ChatToolCall& call : m.tool_calls) {
      Value function = Value::dict();
      function.as_dict().set("name", Value(call.name));
      Expected<Value> arguments = jinja::parse_json(call.arguments);
      const bool as_text = !arguments.ok() || options.tool_call_arguments_as_text;
      function.as_dict().set("arguments", as_text ? Value(call.arguments) : *arguments);
      Value entry = Value::dict();
      entry.as_dict().set("id", Value(call.id));
      entry.as_dict().set("type", Value("function"));
      entry.as_dict().set("function", function);
      calls.push_back(entry);
    }
    d.set("tool_calls", Value::list(std::move(calls)));
  }
  if (!m.tool_call_id.empty()) d.set("tool_call_id", Value(m.tool_call_id));
  if (!m.name.empty()) d.set("name", Value(m.name));
  return message;
}

std::tm local_now() {
  const std::time_t t = std::time(nullptr);
  std::tm now{};
  localtime_r(&t, &now);
  return now;
}

}  // namespace

std::string_view chat_family_names() { return "chatml, llama2, llama3, mistral, gemma, zephyr"; }

ChatTemplate::ChatTemplate(std::shared_ptr<const jinja::Template> jinja, std::string name, std::string bos_token,
                           std::string eos_token, std::string_view source)
    : jinja_(std::move(jinja)), name_(std::move(name)), bos_token_(std::move(bos_token)), eos_token_(std::move(eos_token)),
      source_(std::make_shared<const std::string>(source)) {}

Expected<ChatTemplate> ChatTemplate::from_family_name(std::string_view name, std::string bos_token,
                                                      std::string eos_token) {
  const chat::BuiltinTemplate* builtin = chat::find_builtin_template(name);
  if (builtin == nullptr) {
    return not_found("unknown chat template '" + std::string(name) + "' (expected a Jinja file or one of: " +
                     std::string(chat_family_names()) + ")");
  }
  auto parsed = jinja::Template::parse(builtin->source);
  if (!parsed.ok()) return Status(StatusCode::kInternal, "built-in chat template " + std::string(name) + ": " + parsed.status().message());
  return ChatTemplate(std::make_shared<const jinja::Template>(std::move(parsed).value()), std::string(name),
                      std::move(bos_token), std::move(eos_token), builtin->source);
}

Expected<ChatTemplate> ChatTemplate::from_source(std::string_view jinja_source, std::string bos_token,
                                                 std::string eos_token) {
  const std::string trimmed = jinja::python_strip(jinja_source, nullptr, true, true);
  if (trimmed.empty()) {
    // NOTE: llama.cpp's fallback when a model has no template; ChatML's markers are plain text
    // to models that never saw them, which is the least harmful choice.
    auto fallback = from_family_name("chatml", std::move(bos_token), std::move(eos_token));
    if (fallback.ok()) fallback->is_fallback_ = true;
    return fallback;
  }
  if (chat::find_builtin_template(trimmed) != nullptr) return from_family_name(trimmed, std::move(bos_token), std::move(eos_token));
  TS_ASSIGN_OR_RETURN(jinja::Template parsed, jinja::Template::parse(jinja_source));
  return ChatTemplate(std::make_shared<const jinja::Template>(std::move(parsed)), "jinja", std::move(bos_token),
                      std::move(eos_token), jinja_source);
}

Expected<ChatTemplate> ChatTemplate::from_file(const std::string& path, std::string bos_token,
                                               std::string eos_token) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    if (chat::find_builtin_template(path) != nullptr) return from_family_name(path, std::move(bos_token), std::move(eos_token));
    return not_found(path + ": no such chat template file, and not a built-in template (" +
                     std::string(chat_family_names()) + ")");
  }
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return io_error(path + ": cannot read the chat template");
  if (jinja::python_strip(text.str(), nullptr, true, true).empty()) return invalid_argument(path + ": the chat template file is empty");
  auto loaded = from_source(text.str(), std::move(bos_token), std::move(eos_token));
  if (!loaded.ok()) return Status(loaded.status().code(), path + ": " + loaded.status().message());
  return loaded;
}

Expected<std::string> ChatTemplate::render(std::span<const ChatMessage> messages, bool add_generation_prompt) const {
  ChatRenderOptions options;
  options.add_generation_prompt = add_generation_prompt;
  return render(messages, options);
}

Expected<std::string> ChatTemplate::render(std::span<const ChatMessage> messages, const ChatRenderOptions& options) const {
  if (messages.empty()) return invalid_argument("messages: must contain at least one message");
  std::vector<Value> message_values;
  message_values.reserve(messages.size());
  for (const ChatMessage& m : messages) message_values.push_back(message_value(m, options));
  Value tools = Value::none();
  if (!options.tools_json.empty()) {
    Expected<Value> parsed = jinja::parse_json(options.tools_json);
    if (!parsed.ok()) return invalid_argument("tools: " + parsed.status().message());
    if (!parsed->is_list()) return invalid_argument("tools: must be a list");
    tools = *parsed;
  }
  // The variables transformers' apply_chat_template passes (documents is None without RAG).
  jinja::DictData variables;
  variables.set("messages", Value::list(std::move(message_values)));
  variables.set("tools", tools);
  variables.set("documents", Value::none());
  variables.set("add_generation_prompt", Value(options.add_generation_prompt));
  variables.set("bos_token", Value(bos_token_));
  variables.set("eos_token", Value(eos_token_));
  return jinja_->render(variables, options.now ? *options.now : local_now());
}

}  // namespace tessera
