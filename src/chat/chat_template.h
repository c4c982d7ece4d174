// Chat templates: turns an OpenAI `messages` list into the prompt text a model was trained on.
// Owns family recognition (from a GGUF `tokenizer.chat_template` Jinja source, a file, or a
// family name) and rendering; knows nothing about tokenizers, models or HTTP.
//
// NOTE: there is no Jinja interpreter here, on purpose (as in llama.cpp's llm_chat_apply_template):
// the common families are recognised by distinctive markers of their real templates and rendered
// by hand-written code that reproduces, byte for byte, what the real template renders. The
// rendered text includes BOS where the real template writes `bos_token` (Llama 2, Llama 3,
// Mistral, Gemma), so callers tokenize it with special tokens parsed and WITHOUT adding
// another BOS (vLLM's `add_special_tokens=False` for chat).
#pragma once

#include <span>
#include <utility>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tessera {

// One chat message as OpenAI sends it. Roles: "system", "user", "assistant".
struct ChatMessage {
  std::string role;     // "system" | "user" | "assistant"
  std::string content;  // plain text
};

// The template families we render. Names (family_name()) are also what --chat-template accepts.
enum class ChatFamily {
  kChatMl,   // "chatml":  <|im_start|>role\n...<|im_end|>\n      (Qwen2, SmolLM2, OpenHermes, Yi)
  kLlama2,   // "llama2":  <s>[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] ... </s>  (Llama-2-chat)
  kLlama3,   // "llama3":  <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>  (Llama 3/3.1)
  kMistral,  // "mistral": <s>[INST] ... [/INST]...</s>   (Mistral-7B-Instruct v0.1/v0.2)
  kGemma,    // "gemma":   <start_of_turn>user|model\n...<end_of_turn>\n   (Gemma 1/2/3 -it)
  kZephyr,   // "zephyr":  <|user|>\n...</s>\n<|assistant|>\n   (zephyr-7b-beta, TinyLlama-Chat)
};

// The published Mistral template styles (see chat_renderers.cpp for their exact strings).
enum class MistralStyle {
  kOriginal,  // v0.2 as first released: "[INST] user [/INST]reply</s>"
  kV1,        // ' [INST] ' + system_message (v0.1, v0.2 since 2024): " [INST] user [/INST] reply</s>"
  kV3,        // [AVAILABLE_TOOLS] (v0.3): "[INST] user[/INST] reply</s>"
};

// Small differences between the published templates of one family, found in the Jinja source.
struct ChatTemplateVariant {
  std::string default_system_prompt;  // ChatML: system turn the template adds when none is given
                                      // (Qwen2 "You are a helpful assistant.", SmolLM2 ...); "" none
  MistralStyle mistral_style = MistralStyle::kOriginal;  // Mistral only
  bool llama3_date_header = false;     // Llama 3.1+: system turn always present, starting with
                                       // "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
};

class ChatTemplate {
 public:
  // Recognises the family from a Jinja source (GGUF `tokenizer.chat_template`):
  //   <|im_start|> ChatML; <|start_header_id|> Llama 3; [INST] with <<SYS>> Llama 2;
  //   [INST] without it Mistral; <start_of_turn> Gemma; <|user|> + <|assistant|> Zephyr.
  // An empty source (the model has no template) falls back to ChatML, as llama.cpp does.
  // A bare family name ("chatml", "llama3", ...) is accepted too. Any other source is an
  // kUnsupported error naming the families; a caller that prefers to serve anyway can fall back
  // explicitly with from_source("", ...).
  static Expected<ChatTemplate> from_source(std::string_view jinja_source, std::string bos_token,
                                            std::string eos_token);

  // `--chat-template FILE`: a Jinja file (recognised as above) or a bare family name.
  static Expected<ChatTemplate> from_file(const std::string& path, std::string bos_token,
                                          std::string eos_token);

  // A family by name: chatml, llama2, llama3, mistral, gemma, zephyr.
  static Expected<ChatTemplate> from_family_name(std::string_view name, std::string bos_token,
                                                 std::string eos_token);

  // The prompt text for `messages`. With add_generation_prompt, ends with the opening of an
  // assistant turn (families whose template has no such prompt, Llama 2 and Mistral, ignore it).
  // Errors (kInvalidArgument): empty list, a role other than system/user/assistant, and for
  // Llama 2 / Mistral / Gemma a system message after the first or roles that do not alternate
  // user/assistant (their real templates raise on these too).
  Expected<std::string> render(std::span<const ChatMessage> messages, bool add_generation_prompt) const;

  // "chatml", "llama2", "llama3", "mistral", "gemma" or "zephyr".
  std::string_view family_name() const;
  ChatFamily family() const { return family_; }
  const ChatTemplateVariant& variant() const { return variant_; }
  // True when no template was given and ChatML was chosen as the fallback.
  bool is_fallback() const { return is_fallback_; }

 private:
  ChatTemplate(ChatFamily family, ChatTemplateVariant variant, std::string bos_token, std::string eos_token)
      : family_(family), variant_(std::move(variant)), bos_token_(std::move(bos_token)), eos_token_(std::move(eos_token)) {}

  ChatFamily family_;
  ChatTemplateVariant variant_;
  std::string bos_token_;  // text of the model's BOS token, e.g. "<s>", "<|begin_of_text|>", "<bos>"
  std::string eos_token_;  // text of the model's EOS token, e.g. "</s>"
  bool is_fallback_ = false;
};

// The family names, comma-separated, for error messages and help texts.
std::string_view chat_family_names();

}  // namespace tessera
