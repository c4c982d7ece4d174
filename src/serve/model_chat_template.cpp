#include "serve/model_chat_template.h"

#include <cstdio>

namespace tessera::serve {

Expected<ChatTemplate> load_model_chat_template(const gguf::GgufFile& file, const Tokenizer& tokenizer,
                                                const std::string& template_path, const char* who) {
  const std::string bos = tokenizer.bos_id() >= 0 ? tokenizer.token_text(tokenizer.bos_id()) : "";
  const std::string eos = tokenizer.eos_id() >= 0 ? tokenizer.token_text(tokenizer.eos_id()) : "";
  if (!template_path.empty()) return ChatTemplate::from_file(template_path, bos, eos);
  Expected<ChatTemplate> chat = ChatTemplate::from_source(file.get_string("tokenizer.chat_template").value_or(""), bos, eos);
  if (chat.ok()) return chat;
  // An unrecognised built-in template: the documented fallback, with a warning.
  std::fprintf(stderr, "%s: %s; using the ChatML fallback\n", who, chat.status().message().c_str());
  return ChatTemplate::from_source("", bos, eos);
}

}  // namespace tessera::serve
