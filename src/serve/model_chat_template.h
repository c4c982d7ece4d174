// The chat template `tessera serve` and `tessera chat` render a model's conversations with.
#pragma once

#include <string>

#include "base/status.h"
#include "chat/chat_template.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace tessera::serve {

// `template_path` (a Jinja file) when given, else the GGUF's tokenizer.chat_template; BOS/EOS
// from the tokenizer. A built-in template that is not recognised falls back to ChatML with a
// warning on stderr that starts with `who` ("tessera serve"); a bad file is an error.
Expected<ChatTemplate> load_model_chat_template(const gguf::GgufFile& file, const Tokenizer& tokenizer,
                                                const std::string& template_path, const char* who);

}  // namespace tessera::serve
