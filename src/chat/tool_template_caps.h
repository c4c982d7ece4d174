// What a chat template needs to render tool calls and tool results from OpenAI-shaped messages,
// found by rendering small probe conversations through it (llama.cpp's minja does the same).
// OpenAI sends an assistant message with tool_calls as content null and each call's arguments
// as JSON text; many templates iterate over content or concatenate it (so they need ""), some
// concatenate arguments (so they need the text, not the mapping most templates expect),
// Mistral's need 9-character alphanumeric call ids, Llama 3.x's allow one call per message.
//
// Use: probe once per template (at server start), put apply_to() into every ChatRenderOptions,
// and pass the messages through adapt_tool_messages() before rendering.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_template.h"

namespace tessera {

struct ToolTemplateCaps {
  bool renders_tool_calls = false;        // some adaptation below renders a call and its result
  bool needs_string_content = false;      // content "" instead of None beside tool_calls
  bool needs_string_arguments = false;    // arguments as JSON text instead of a mapping
  bool needs_nine_char_ids = false;       // call ids must be 9 alphanumeric characters (Mistral)
  bool parallel_tool_calls = false;       // two calls in one assistant message render

  void apply_to(ChatRenderOptions* options) const {
    options->tool_call_content_as_empty = needs_string_content;
    options->tool_call_arguments_as_text = needs_string_arguments;
  }
};

ToolTemplateCaps probe_tool_template(const ChatTemplate& chat_template);

// A 9-character alphanumeric id derived from any call id (the same id always maps the same way).
std::string nine_char_call_id(std::string_view id);

// The messages as the template needs them: call ids (and the tool messages' tool_call_id that
// answer them) rewritten to nine_char_call_id when the caps say so; unchanged otherwise.
std::vector<ChatMessage> adapt_tool_messages(std::vector<ChatMessage> messages, const ToolTemplateCaps& caps);

}  // namespace tessera
