// GBNF front end: llama.cpp's grammar syntax (grammars/README.md) parsed into a Grammar.
//
//   root  ::= "{" ws pair ("," ws pair)* "}"   # comments run to the end of the line
//   pair  ::= [a-z]+ ":" ws [^"\\\x00-\x1F]{1,8} | "x"? . | ( "a" | "b" ){2,}
//
// Rules: `name ::= alternatives`; a rule ends where the next `name ::=` starts (so bodies may
// span lines). Atoms: "literal" (escapes \n \r \t \\ \" \' \[ \] \- \xHH \uHHHH \UHHHHHHHH, the
// hex ones giving a code point, stored as UTF-8), [class] and [^class] with ranges, "." (any code
// point), (groups), rule names. Postfix: * + ? {m} {m,} {m,n}. Not supported: llama.cpp's token
// references <[id]> and <name>. Errors name the line and column.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "grammar/grammar.h"

namespace tessera::grammar {

Expected<std::shared_ptr<const Grammar>> parse_gbnf(std::string_view text, std::string_view root = "root",
                                                   const GrammarLimits& limits = {});

// `bytes` as a GBNF string literal: quotes and backslashes escaped, control bytes as \xHH, UTF-8
// passed through (JSON schema enums and consts, guided_choice, ...).
std::string gbnf_literal(std::string_view bytes);

// Parses `text` into an existing builder (rules accumulate; used to combine GBNF pieces).
Status parse_gbnf_into(GrammarBuilder& builder, std::string_view text);

}  // namespace tessera::grammar
