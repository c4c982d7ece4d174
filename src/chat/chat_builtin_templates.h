// Named built-in chat templates (Jinja sources of real models' templates) for `--chat-template
// NAME` and for models without a template (ChatML). Knows nothing about rendering.
#pragma once

#include <span>
#include <string_view>

namespace tessera::chat {

struct BuiltinTemplate {
  std::string_view name;    // chatml, llama2, llama3, mistral, gemma, zephyr
  std::string_view source;  // Jinja source
};

std::span<const BuiltinTemplate> builtin_templates();
// nullptr when `name` is not a built-in template.
const BuiltinTemplate* find_builtin_template(std::string_view name);

}  // namespace tessera::chat
