// Jinja lexer: template source -> tokens, with Jinja2's whitespace control exactly as Hugging Face
// configures it (trim_blocks, lstrip_blocks, keep_trailing_newline=False, "-" and "+" modifiers).
// Knows nothing about the grammar.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace tessera::jinja {

enum class TokenKind {
  kText,        // literal template text between tags (whitespace control already applied)
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,        // identifier or keyword
  kString,      // string literal, escapes decoded
  kInteger,
  kFloat,
  kOperator,    // + - * / // % ** ~ == != < <= > >= = ( ) [ ] { } , . : |
  kEnd,         // end of source
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;   // text, name, operator, or the decoded string
  int64_t integer = 0;
  double number = 0;
  int line = 1;       // 1-based line of the token's first character, for error messages
};

// Comments vanish; `{% raw %}` is not supported (no real chat template uses it).
Expected<std::vector<Token>> tokenize(std::string_view source);

}  // namespace tessera::jinja
