// One function per chat template family, each reproducing its real Jinja template's output.
// Internal to src/chat: callers go through ChatTemplate, which validates roles first.
#pragma once

#include <span>
#include <string>

#include "chat/chat_template.h"

namespace tessera::chat {

// What every renderer needs; messages were already checked (non-empty, known roles, and for the
// strict families: optional leading system, then user/assistant alternating from user).
struct RenderInput {
  std::span<const ChatMessage> messages;
  bool add_generation_prompt = false;
  const ChatTemplateVariant* variant = nullptr;  // never null
  const std::string* bos_token = nullptr;        // never null
  const std::string* eos_token = nullptr;        // never null
};

std::string render_chatml(const RenderInput& in);
std::string render_llama2(const RenderInput& in);
std::string render_llama3(const RenderInput& in);
std::string render_mistral(const RenderInput& in);
std::string render_gemma(const RenderInput& in);
std::string render_zephyr(const RenderInput& in);

// Python's str.strip() / Jinja's `trim` on ASCII whitespace.
std::string strip_whitespace(std::string_view text);

}  // namespace tessera::chat
