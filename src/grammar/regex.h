// Regex front end: a practical subset of ECMAScript/Python regex syntax, translated to a GBNF
// expression and compiled like any GBNF grammar. The match is anchored: the whole output must
// match (a leading ^ and trailing $ are accepted and ignored).
//
// Supported: literals; escapes \n \r \t \f \v \0 \xHH \uHHHH \\ \. etc.; classes \d \w \s \D \W \S;
// [...] and [^...] with ranges and those escapes; "." (any code point but \n); | ; (...) and (?:...);
// * + ? {m} {m,} {m,n} (a trailing lazy ? or possessive + is ignored: a grammar has no
// preference). Refused with an error: backreferences, lookaround, named groups, anchors inside.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "grammar/grammar.h"

namespace tessera::grammar {

// The GBNF expression (usable on the right of ::=) matching exactly the pattern.
Expected<std::string> regex_to_gbnf(std::string_view pattern, const GrammarLimits& limits = {});

// A grammar whose root matches the whole pattern.
Expected<std::shared_ptr<const Grammar>> compile_regex(std::string_view pattern, const GrammarLimits& limits = {});

}  // namespace tessera::grammar
