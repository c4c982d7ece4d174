// Family recognition from template sources and names, message validation, render dispatch.
#include "chat/chat_template.h"

#include <array>
#include <fstream>
#include <optional>
#include <sstream>

#include "chat/chat_renderers.h"

namespace tessera {
namespace {

struct FamilyName {
  ChatFamily family;
  std::string_view name;
};
constexpr std::array<FamilyName, 6> kFamilyNames = {{
    {ChatFamily::kChatMl, "chatml"},
    {ChatFamily::kLlama2, "llama2"},
    {ChatFamily::kLlama3, "llama3"},
    {ChatFamily::kMistral, "mistral"},
    {ChatFamily::kGemma, "gemma"},
    {ChatFamily::kZephyr, "zephyr"},
}};

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::optional<ChatFamily> family_from_name(std::string_view name) {
  for (const FamilyName& f : kFamilyNames) {
    if (f.name == name) return f.family;
  }
  return std::nullopt;
}

// The literal default system prompt of a ChatML template, if it writes one when the conversation
// has none: '<|im_start|>system\n<text><|im_end|>' with <text> a plain literal. The newline may be
// written as the escape "\n" or as a real newline (SmolLM2).
std::string chatml_default_system_prompt(std::string_view source) {
  constexpr std::string_view kOpen = "<|im_start|>system";
  for (size_t pos = source.find(kOpen); pos != std::string_view::npos; pos = source.find(kOpen, pos + 1)) {
    std::string_view rest = source.substr(pos + kOpen.size());
    if (rest.starts_with("\\n")) {
      rest.remove_prefix(2);
    } else if (rest.starts_with("\n")) {
      rest.remove_prefix(1);
    } else {
      continue;
    }
    const size_t end = rest.find("<|im_end|>");
    if (end == std::string_view::npos || end == 0) continue;
    const std::string_view text = rest.substr(0, end);
    if (text.find_first_of("'\"{}+\\") != std::string_view::npos) continue;  // not a plain literal
    return std::string(text);
  }
  return {};
}

// Recognises the family of a Jinja source by markers of the real templates; see the header.
Expected<std::pair<ChatFamily, ChatTemplateVariant>> detect(std::string_view source) {
  ChatTemplateVariant variant;
  if (contains(source, "<|im_start|>")) {
    variant.default_system_prompt = chatml_default_system_prompt(source);
    return std::pair{ChatFamily::kChatMl, variant};
  }
  if (contains(source, "<|start_header_id|>") && contains(source, "<|end_header_id|>")) {
    variant.llama3_date_header = contains(source, "Cutting Knowledge Date");
    return std::pair{ChatFamily::kLlama3, variant};
  }
  if (contains(source, "[INST]")) {
    if (contains(source, "<<SYS>>")) return std::pair{ChatFamily::kLlama2, variant};
    if (contains(source, "[SYSTEM_PROMPT]")) {
      return unsupported("chat template: Mistral v7 ([SYSTEM_PROMPT]) templates are not supported; "
                         "use --chat-template with one of: " + std::string(chat_family_names()));
    }
    if (contains(source, "[AVAILABLE_TOOLS]")) {
      variant.mistral_style = MistralStyle::kV3;
    } else if (contains(source, "' [INST] '")) {
      variant.mistral_style = MistralStyle::kV1;
    }
    return std::pair{ChatFamily::kMistral, variant};
  }
  if (contains(source, "<start_of_turn>")) return std::pair{ChatFamily::kGemma, variant};
  if (contains(source, "<|user|>") && contains(source, "<|assistant|>") && !contains(source, "<|end|>")) {
    return std::pair{ChatFamily::kZephyr, variant};
  }
  return unsupported("chat template: not one of the supported families (" + std::string(chat_family_names()) +
                     "); pass --chat-template with a family name");
}

// Llama 2, Mistral and Gemma templates raise on anything but an optional leading system message
// followed by user/assistant turns alternating from user.
Status check_alternation(std::span<const ChatMessage> messages, std::string_view family) {
  const size_t first_turn = messages.front().role == "system" ? 1 : 0;
  if (first_turn == messages.size()) {
    return invalid_argument("messages: the " + std::string(family) + " chat template needs a user message");
  }
  for (size_t i = first_turn; i < messages.size(); ++i) {
    const std::string_view expected = (i - first_turn) % 2 == 0 ? "user" : "assistant";
    if (messages[i].role == "system") {
      return invalid_argument("messages[" + std::to_string(i) + "]: the " + std::string(family) +
                              " chat template allows a system message only as the first message");
    }
    if (messages[i].role != expected) {
      return invalid_argument("messages[" + std::to_string(i) + "]: the " + std::string(family) +
                              " chat template needs roles alternating user/assistant/... after the "
                              "optional system message, got '" + messages[i].role + "'");
    }
  }
  return Status();
}

}  // namespace

std::string_view chat_family_names() { return "chatml, llama2, llama3, mistral, gemma, zephyr"; }

Expected<ChatTemplate> ChatTemplate::from_family_name(std::string_view name, std::string bos_token,
                                                      std::string eos_token) {
  const std::optional<ChatFamily> family = family_from_name(name);
  if (!family) {
    return not_found("unknown chat template family '" + std::string(name) + "' (expected one of: " +
                     std::string(chat_family_names()) + ")");
  }
  return ChatTemplate(*family, ChatTemplateVariant{}, std::move(bos_token), std::move(eos_token));
}

Expected<ChatTemplate> ChatTemplate::from_source(std::string_view jinja_source, std::string bos_token,
                                                 std::string eos_token) {
  const std::string trimmed = chat::strip_whitespace(jinja_source);
  if (trimmed.empty()) {
    // NOTE: llama.cpp's fallback when a model has no template; ChatML's markers are plain text
    // to models that never saw them, which is the least harmful choice.
    ChatTemplate fallback(ChatFamily::kChatMl, ChatTemplateVariant{}, std::move(bos_token), std::move(eos_token));
    fallback.is_fallback_ = true;
    return fallback;
  }
  if (family_from_name(trimmed)) return from_family_name(trimmed, std::move(bos_token), std::move(eos_token));
  auto detected = detect(jinja_source);
  if (!detected.ok()) return detected.status();
  return ChatTemplate(detected->first, std::move(detected->second), std::move(bos_token), std::move(eos_token));
}

Expected<ChatTemplate> ChatTemplate::from_file(const std::string& path, std::string bos_token,
                                               std::string eos_token) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    if (family_from_name(path)) return from_family_name(path, std::move(bos_token), std::move(eos_token));
    return not_found(path + ": no such chat template file, and not a family name (" +
                     std::string(chat_family_names()) + ")");
  }
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return io_error(path + ": cannot read the chat template");
  if (chat::strip_whitespace(text.str()).empty()) return invalid_argument(path + ": the chat template file is empty");
  auto loaded = from_source(text.str(), std::move(bos_token), std::move(eos_token));
  if (!loaded.ok()) return Status(loaded.status().code(), path + ": " + loaded.status().message());
  return loaded;
}

Expected<std::string> ChatTemplate::render(std::span<const ChatMessage> messages, bool add_generation_prompt) const {
  if (messages.empty()) return invalid_argument("messages: must contain at least one message");
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& role = messages[i].role;
    if (role != "system" && role != "user" && role != "assistant") {
      return invalid_argument("messages[" + std::to_string(i) + "]: unknown role '" + role +
                              "' (expected system, user or assistant)");
    }
  }
  if (family_ == ChatFamily::kLlama2 || family_ == ChatFamily::kMistral || family_ == ChatFamily::kGemma) {
    TS_RETURN_IF_ERROR(check_alternation(messages, family_name()));
  }
  const chat::RenderInput in{messages, add_generation_prompt, &variant_, &bos_token_, &eos_token_};
  switch (family_) {
    case ChatFamily::kChatMl: return chat::render_chatml(in);
    case ChatFamily::kLlama2: return chat::render_llama2(in);
    case ChatFamily::kLlama3: return chat::render_llama3(in);
    case ChatFamily::kMistral: return chat::render_mistral(in);
    case ChatFamily::kGemma: return chat::render_gemma(in);
    case ChatFamily::kZephyr: return chat::render_zephyr(in);
  }
  return Status(StatusCode::kInternal, "chat template: unhandled family");
}

std::string_view ChatTemplate::family_name() const {
  for (const FamilyName& f : kFamilyNames) {
    if (f.family == family_) return f.name;
  }
  return "unknown";
}

}  // namespace tessera
