// GBNF parsing and the byte-level matcher: what each construct accepts and refuses, and the
// errors bad grammars get.
#include <gtest/gtest.h>

#include "grammar/gbnf.h"
#include "grammar/compiled_grammar.h"
#include "grammar/grammar_matcher.h"

namespace tessera::grammar {
namespace {

// Whether the grammar matches `text` entirely, through a matcher on a one-byte-per-token vocabulary.
class Matches {
 public:
  explicit Matches(const std::string& gbnf) {
    auto g = parse_gbnf(gbnf);
    EXPECT_TRUE(g.ok()) << g.status().message();
    if (!g.ok()) return;
    std::vector<std::string> bytes;
    for (int b = 0; b < 256; ++b) bytes.emplace_back(1, static_cast<char>(b));
    auto vocab = TokenVocabulary::create(std::move(bytes), {});
    compiled_ = *CompiledGrammar::create(*g, vocab);
  }
  bool full(const std::string& text) const {
    if (!compiled_) return false;
    GrammarMatcher m(compiled_);
    return m.accept_bytes(text) && m.can_terminate();
  }
  bool prefix(const std::string& text) const {
    if (!compiled_) return false;
    GrammarMatcher m(compiled_);
    return m.accept_bytes(text);
  }

 private:
  std::shared_ptr<const CompiledGrammar> compiled_;
};

TEST(Gbnf, LiteralsAlternativesGroups) {
  Matches m(R"(root ::= "ab" ("c" | "de") tail
tail ::= "!" | "")");
  EXPECT_TRUE(m.full("abc"));
  EXPECT_TRUE(m.full("abde!"));
  EXPECT_FALSE(m.full("abd"));
  EXPECT_TRUE(m.prefix("abd"));
  EXPECT_FALSE(m.prefix("abx"));
  EXPECT_FALSE(m.full("abc!!"));
}

TEST(Gbnf, Repetitions) {
  Matches star(R"(root ::= "a"* "b"+ "c"?)");
  EXPECT_TRUE(star.full("b"));
  EXPECT_TRUE(star.full("aaabbc"));
  EXPECT_FALSE(star.full("aac"));
  EXPECT_FALSE(star.full("bcc"));
  Matches counted(R"(root ::= [0-9]{2,4} "-" "x"{3} "y"{1,})");
  EXPECT_TRUE(counted.full("12-xxxy"));
  EXPECT_TRUE(counted.full("1234-xxxyyy"));
  EXPECT_FALSE(counted.full("1-xxxy"));
  EXPECT_FALSE(counted.full("12345-xxxy"));
  EXPECT_FALSE(counted.full("12-xxy"));
  EXPECT_FALSE(counted.full("12-xxx"));
  Matches nullable(R"(root ::= ("a"?)* "b" ("c"? "d"?){0,3})");
  EXPECT_TRUE(nullable.full("aab"));
  EXPECT_TRUE(nullable.full("bcdcd"));
}

TEST(Gbnf, ClassesEscapesAndAnyChar) {
  Matches m(R"(root ::= [a-c] [^"\\] . "\x41\u00e9\n" [\u4e00-\u9fff])");
  EXPECT_TRUE(m.full("ax\xF0\x9F\x98\x80" "A\xC3\xA9\n\xE4\xB8\xAD"));  // ".": an emoji; 中
  EXPECT_TRUE(m.full("cé.A\xC3\xA9\n\xE4\xB8\x80"));
  EXPECT_FALSE(m.full("a\"xA\xC3\xA9\n\xE4\xB8\xAD"));
  EXPECT_FALSE(m.full("axxA\xC3\xA9\n\xE3\x81\x82"));  // あ is outside the CJK range
  EXPECT_FALSE(m.prefix("a\xC3"  "\x28"));             // invalid UTF-8 never matches [^...]
}

TEST(Gbnf, CommentsAndMultiLineRules) {
  Matches m(R"(# a comment
root ::= # after the operator
  item
  ( "," item )*   # trailing comment
item ::=
  [0-9]+
  | "x")");
  EXPECT_TRUE(m.full("1,x,23"));
  EXPECT_FALSE(m.full("1,"));
}

TEST(Gbnf, NestedRecursionIsCappedNotUnbounded) {
  Matches m(R"g(root ::= "(" root ")" | "")g");
  EXPECT_TRUE(m.full("((()))"));
  EXPECT_FALSE(m.full("(()"));
  // Past the depth cap the '(' is refused instead of growing without bound.
  EXPECT_FALSE(m.prefix(std::string(5000, '(')));
  EXPECT_TRUE(m.prefix(std::string(1000, '(')));
}

TEST(Gbnf, Errors) {
  auto message = [](const std::string& text) {
    auto g = parse_gbnf(text);
    return g.ok() ? std::string("ok") : g.status().message();
  };
  EXPECT_NE(message("root ::= foo").find("undefined rule 'foo'"), std::string::npos);
  EXPECT_NE(message("root ::= \"a\"\nx ::= y").find("line 2"), std::string::npos);
  EXPECT_NE(message("root ::= root \"a\" | \"b\"").find("left recursion"), std::string::npos);
  EXPECT_NE(message("root ::= \"abc").find("unterminated"), std::string::npos);
  EXPECT_NE(message("root ::= [a-").find("unterminated"), std::string::npos);
  EXPECT_NE(message("root ::= (\"a\"").find("unclosed"), std::string::npos);
  EXPECT_NE(message("root ::= \"a\"{3,2}").find("n < m"), std::string::npos);
  EXPECT_NE(message("root ::= \"\\q\"").find("unknown escape"), std::string::npos);
  EXPECT_NE(message("root ::= \"a\"{99999}").find("over"), std::string::npos);
  EXPECT_NE(message("root ::= ((\"a\"{9000}){9000}){9000}").find("too large"), std::string::npos);
  EXPECT_NE(message("").find("empty"), std::string::npos);
  EXPECT_NE(message("root ::= x\nx ::= \"a\" x").find("no string"), std::string::npos);
  EXPECT_NE(message("a ::= \"x\"").find("no rule 'root'"), std::string::npos);
  EXPECT_NE(message("root ::= \"a\"\nroot ::= \"b\"").find("defined twice"), std::string::npos);
  EXPECT_NE(message("root ::= " + std::string(1000, '(')).find("nested too deeply"), std::string::npos);
}

}  // namespace
}  // namespace tessera::grammar
