// Jinja parser: tokens -> syntax tree, following Jinja2's grammar (jinja2/parser.py) for the
// statements and expressions chat templates use. Knows nothing about evaluation.
#pragma once

#include <vector>

#include "base/status.h"
#include "chat/jinja/ast.h"
#include "chat/jinja/lexer.h"

namespace tessera::jinja {

// Nesting deeper than max_depth (brackets, operators, statements) is an error, so that hostile
// templates cannot exhaust the stack of the parser or of the interpreter that walks the tree.
Expected<Body> parse(const std::vector<Token>& tokens, int max_depth);

}  // namespace tessera::jinja
