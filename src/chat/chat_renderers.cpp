// Each renderer mirrors one published template; the template it follows is quoted in the comment
// above it, reduced to the text-only path (no tools, no images).
#include "chat/chat_renderers.h"

namespace tessera::chat {
namespace {

bool has_leading_system(std::span<const ChatMessage> messages) {
  return !messages.empty() && messages.front().role == "system";
}

}  // namespace

std::string strip_whitespace(std::string_view text) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  const size_t end = text.find_last_not_of(kSpace);
  return std::string(text.substr(begin, end - begin + 1));
}

// Qwen2 / SmolLM2 / OpenHermes:
//   {% if loop.first and messages[0]['role'] != 'system' %}'<|im_start|>system\n<default><|im_end|>\n'
//   '<|im_start|>' + role + '\n' + content + '<|im_end|>' + '\n' ... '<|im_start|>assistant\n'
std::string render_chatml(const RenderInput& in) {
  std::string out;
  if (!in.variant->default_system_prompt.empty() && !has_leading_system(in.messages)) {
    out += "<|im_start|>system\n" + in.variant->default_system_prompt + "<|im_end|>\n";
  }
  for (const ChatMessage& m : in.messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (in.add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

// Llama-2-chat: the system message goes inside the first user turn;
//   bos_token + '[INST] ' + content.strip() + ' [/INST]'   and   ' ' + content.strip() + ' ' + eos_token
// where content of the first turn is '<<SYS>>\n' + system + '\n<</SYS>>\n\n' + user content.
// The template has no generation prompt: the prompt already ends with "[/INST]".
std::string render_llama2(const RenderInput& in) {
  const bool has_system = has_leading_system(in.messages);
  const auto turns = in.messages.subspan(has_system ? 1 : 0);
  std::string out;
  for (size_t i = 0; i < turns.size(); ++i) {
    std::string content = turns[i].content;
    if (i == 0 && has_system) content = "<<SYS>>\n" + in.messages.front().content + "\n<</SYS>>\n\n" + content;
    if (turns[i].role == "user") {
      out += *in.bos_token + "[INST] " + strip_whitespace(content) + " [/INST]";
    } else {
      out.append(" ").append(strip_whitespace(content)).append(" ").append(*in.eos_token);
    }
  }
  return out;
}

// Meta-Llama-3-Instruct:
//   '<|start_header_id|>' + role + '<|end_header_id|>\n\n' + content|trim + '<|eot_id|>', bos before
//   the first; generation prompt '<|start_header_id|>assistant<|end_header_id|>\n\n'.
// Llama 3.1+ always opens with a system turn carrying the knowledge/today dates (the template's
// default date_string "26 Jul 2024") followed by the trimmed system message, if any.
std::string render_llama3(const RenderInput& in) {
  auto turn = [](const std::string& role, std::string_view content) {
    return "<|start_header_id|>" + role + "<|end_header_id|>\n\n" + strip_whitespace(content) + "<|eot_id|>";
  };
  std::string out = *in.bos_token;
  auto messages = in.messages;
  if (in.variant->llama3_date_header) {
    std::string system;
    if (has_leading_system(messages)) {
      system = strip_whitespace(messages.front().content);
      messages = messages.subspan(1);
    }
    out += "<|start_header_id|>system<|end_header_id|>\n\n"
           "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n" +
           system + "<|eot_id|>";
  }
  for (const ChatMessage& m : messages) out += turn(m.role, m.content);
  if (in.add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

// Mistral-7B-Instruct, three published variants (mistral_style):
//   v0.2 original:  bos + '[INST] ' + content + ' [/INST]'  and  content + eos_token
//   v1 (' [INST] ' + system_message, v0.1 and v0.2 since 2024): ' [INST] ' ... ' [/INST]', ' ' + content + eos
//   v3 ([AVAILABLE_TOOLS], v0.3): '[INST] ' + content + '[/INST]', ' ' + content|trim + eos
// The system message joins a user turn as system + '\n\n' + content: the first user turn (v1; the
// original raises on system messages, we fold like v1), or in v3 the last message if it is a user's.
std::string render_mistral(const RenderInput& in) {
  const bool has_system = has_leading_system(in.messages);
  const auto turns = in.messages.subspan(has_system ? 1 : 0);
  const MistralStyle style = in.variant->mistral_style;
  std::string out = *in.bos_token;
  for (size_t i = 0; i < turns.size(); ++i) {
    const ChatMessage& m = turns[i];
    if (m.role == "user") {
      const bool gets_system = has_system && (style == MistralStyle::kV3 ? i + 1 == turns.size() : i == 0);
      const std::string content = gets_system ? in.messages.front().content + "\n\n" + m.content : m.content;
      switch (style) {
        case MistralStyle::kOriginal: out += "[INST] " + content + " [/INST]"; break;
        case MistralStyle::kV1: out += " [INST] " + content + " [/INST]"; break;
        case MistralStyle::kV3: out += "[INST] " + content + "[/INST]"; break;
      }
    } else {
      switch (style) {
        case MistralStyle::kOriginal: out += m.content + *in.eos_token; break;
        case MistralStyle::kV1: out.append(" ").append(m.content).append(*in.eos_token); break;
        case MistralStyle::kV3: out.append(" ").append(strip_whitespace(m.content)).append(*in.eos_token); break;
      }
    }
  }
  return out;
}

// gemma-3-it (gemma-2-it and gemma-7b-it raise on a system message instead; we fold it the Gemma 3
// way for them too):
//   bos + '<start_of_turn>' + ('model' for assistant) + '\n' + (system + '\n\n' if first) +
//   content|trim + '<end_of_turn>\n'; generation prompt '<start_of_turn>model\n'.
std::string render_gemma(const RenderInput& in) {
  const bool has_system = has_leading_system(in.messages);
  const auto turns = in.messages.subspan(has_system ? 1 : 0);
  std::string out = *in.bos_token;
  for (size_t i = 0; i < turns.size(); ++i) {
    const std::string role = turns[i].role == "assistant" ? "model" : turns[i].role;
    out += "<start_of_turn>" + role + "\n";
    if (i == 0 && has_system) out += in.messages.front().content + "\n\n";
    out += strip_whitespace(turns[i].content) + "<end_of_turn>\n";
  }
  if (in.add_generation_prompt) out += "<start_of_turn>model\n";
  return out;
}

// zephyr-7b-beta / TinyLlama-Chat (rendered with trim_blocks, so each `{{ }}` line keeps its '\n'):
//   '<|' + role + '|>\n' + content + eos_token + '\n' ... '<|assistant|>\n'
std::string render_zephyr(const RenderInput& in) {
  std::string out;
  for (const ChatMessage& m : in.messages) out += "<|" + m.role + "|>\n" + m.content + *in.eos_token + "\n";
  if (in.add_generation_prompt) out += "<|assistant|>\n";
  return out;
}

}  // namespace tessera::chat
