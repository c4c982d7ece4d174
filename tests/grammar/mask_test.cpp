// The fast mask (cached accepted/rejected sets + run-time checks of uncertain tokens) against the
// reference mask (every token's bytes fed to the byte-level matcher) along random walks, on real
// vocabularies.
#include <gtest/gtest.h>

#include <thread>

#include "grammar/gbnf.h"
#include "grammar/json_schema.h"
#include "grammar/regex.h"
#include "grammar_test_util.h"

namespace tessera::grammar {
namespace {

using testing::random_walk;
using testing::reference_mask;
using testing::vocab_for;

const char* kJsonGbnf = R"g(
root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
ws ::= | " " | "\n" [ \t]{0,20}
)g";

const char* kArithmeticGbnf = R"g(
root ::= expr "="
expr ::= term (("+" | "-") term)*
term ::= factor (("*" | "/") factor)*
factor ::= [0-9]+ | "(" expr ")" | "sqrt(" expr ")"
)g";

const char* kListGbnf = R"g(
root ::= "Items:\n" item{1,4}
item ::= "- " [^\n]{1,30} "\n"
)g";

const char* kUnicodeGbnf = R"g(
root ::= ("日本" | [ぁ-ゟ]+ | [^a-zA-Z0-9\x00-\x7F]{1,3} | "\u00e9t\u00e9") (" " root)?
)g";

void check_masks_along_walks(const std::string& vocab_name, const Expected<std::shared_ptr<const Grammar>>& grammar, int walks,
                             int steps, uint32_t seed) {
  auto vocab = vocab_for(vocab_name);
  ASSERT_TRUE(vocab);
  ASSERT_TRUE(grammar.ok()) << grammar.status().message();
  auto compiled = CompiledGrammar::create(*grammar, vocab);
  ASSERT_TRUE(compiled.ok());
  std::mt19937 rng(seed);
  int checked = 0;
  for (int w = 0; w < walks; ++w) {
    GrammarMatcher matcher(*compiled);
    std::vector<uint32_t> mask(matcher.bitmask_words());
    std::string text;
    for (int step = 0; step < steps && !matcher.is_terminated(); ++step) {
      matcher.fill_next_token_bitmask(mask);
      const std::vector<uint32_t> expected = reference_mask(matcher);
      ++checked;
      if (mask != expected) {
        int shown = 0;
        for (int32_t id = 0; id < vocab->size() && shown < 10; ++id) {
          const bool fast = (mask[static_cast<size_t>(id) >> 5] >> (id & 31)) & 1;
          const bool ref = (expected[static_cast<size_t>(id) >> 5] >> (id & 31)) & 1;
          if (fast != ref) {
            ADD_FAILURE() << "after '" << text << "': token " << id << " '" << vocab->token_bytes(id) << "' fast "
                          << fast << " reference " << ref;
            ++shown;
          }
        }
        return;
      }
      const int32_t id = testing::sample_allowed(mask, *vocab, rng, w % 2 ? 0.5 : 0.0);
      ASSERT_GE(id, 0) << "empty mask after '" << text << "'";
      ASSERT_TRUE(matcher.accept_token(id));
      if (!vocab->is_eog(id)) text += vocab->token_bytes(id);
    }
  }
  EXPECT_GE(checked, walks * 3) << "the walks ended too soon to test much";
}

TEST(GrammarMask, JsonGbnfMatchesReferenceOnQwen3) { check_masks_along_walks("qwen3", parse_gbnf(kJsonGbnf), 4, 12, 1); }
TEST(GrammarMask, ArithmeticMatchesReferenceOnLlama3) { check_masks_along_walks("llama3", parse_gbnf(kArithmeticGbnf), 2, 12, 2); }
TEST(GrammarMask, ListMatchesReferenceOnLlamaSpm) { check_masks_along_walks("llama-spm", parse_gbnf(kListGbnf), 2, 12, 3); }
TEST(GrammarMask, UnicodeMatchesReferenceOnQwen3) { check_masks_along_walks("qwen3", parse_gbnf(kUnicodeGbnf), 2, 10, 4); }
TEST(GrammarMask, JsonGbnfMatchesReferenceOnGemma3) { check_masks_along_walks("gemma3", parse_gbnf(kJsonGbnf), 1, 10, 5); }

TEST(GrammarMask, JsonSchemaMatchesReferenceOnQwen3) {
  const auto schema = nlohmann::json::parse(R"({"type":"object","properties":{
    "name":{"type":"string","maxLength":6},"n":{"type":"integer","minimum":-20,"maximum":300},
    "tags":{"type":"array","items":{"enum":["a","bc",null]},"maxItems":3},
    "v":{"anyOf":[{"type":"number","minimum":0,"maximum":2},{"type":"boolean"}]}},"required":["name","v"]})");
  check_masks_along_walks("qwen3", compile_json_schema(schema), 4, 14, 6);
}

TEST(GrammarMask, JsonObjectMatchesReferenceOnQwen3) { check_masks_along_walks("qwen3", json_object_grammar(), 3, 14, 8); }

TEST(GrammarMask, RegexMatchesReferenceOnPhi3) {
  check_masks_along_walks("phi-3", compile_regex("(?:[A-Z][a-z]{1,8} ){1,4}\\d{2,3}(\\.\\d)?!?"), 3, 10, 9);
}

TEST(GrammarMask, RandomWalksTerminateOnBoundedGrammar) {
  auto vocab = vocab_for("qwen3");
  ASSERT_TRUE(vocab);
  auto grammar = parse_gbnf(kListGbnf);
  ASSERT_TRUE(grammar.ok());
  auto compiled = *CompiledGrammar::create(*grammar, vocab);
  std::mt19937 rng(7);
  for (int i = 0; i < 50; ++i) {
    const auto walk = random_walk(compiled, rng, i % 2 ? 0.5 : 0.0, 400);
    ASSERT_TRUE(walk.error.empty()) << walk.error;
    ASSERT_TRUE(walk.terminated) << walk.text;
    EXPECT_EQ(walk.text.rfind("Items:\n", 0), 0u);
  }
}

TEST(GrammarMask, EogOnlyWhenComplete) {
  auto vocab = vocab_for("qwen3");
  ASSERT_TRUE(vocab);
  auto compiled = *CompiledGrammar::create(*parse_gbnf(R"g(root ::= "yes" | "no")g"), vocab);
  GrammarMatcher m(compiled);
  std::vector<uint32_t> mask(m.bitmask_words());
  const int32_t eog = vocab->eog_ids().at(0);
  auto allowed = [&](int32_t id) { return (mask[static_cast<size_t>(id) >> 5] >> (id & 31)) & 1; };
  m.fill_next_token_bitmask(mask);
  EXPECT_FALSE(allowed(eog));
  EXPECT_FALSE(m.accept_token(eog));
  ASSERT_TRUE(m.accept_bytes("yes"));
  m.fill_next_token_bitmask(mask);
  int count = 0;
  for (int32_t id = 0; id < vocab->size(); ++id) count += allowed(id) ? 1 : 0;
  EXPECT_EQ(count, static_cast<int>(vocab->eog_ids().size()));  // only the EOG ids
  EXPECT_TRUE(m.accept_token(eog));
  EXPECT_TRUE(m.is_terminated());
  m.fill_next_token_bitmask(mask);
  EXPECT_FALSE(allowed(eog));
  m.rollback(1);
  EXPECT_FALSE(m.is_terminated());
  EXPECT_TRUE(m.can_terminate());
  m.rollback(1);
  EXPECT_FALSE(m.can_terminate());
  EXPECT_TRUE(m.accept_bytes("no"));
  m.reset();
  EXPECT_FALSE(m.accept_bytes("maybe"));
}

TEST(GrammarMask, RollbackRestoresEarlierMasks) {
  // Speculative decoding: accept drafted tokens, roll some back, and the masks are the earlier ones.
  auto vocab = vocab_for("qwen3");
  ASSERT_TRUE(vocab);
  auto compiled = *CompiledGrammar::create(json_object_grammar(), vocab);
  GrammarMatcher m(compiled);
  std::vector<uint32_t> initial(m.bitmask_words());
  m.fill_next_token_bitmask(initial);
  ASSERT_TRUE(m.accept_bytes("{\"key\": [[[["));  // cannot end for a while
  std::mt19937 rng(11);
  std::vector<std::vector<uint32_t>> masks;
  for (int step = 0; step < 5; ++step) {
    masks.emplace_back(m.bitmask_words());
    m.fill_next_token_bitmask(masks.back());
    const int32_t id = testing::sample_allowed(masks.back(), *vocab, rng, 0.3);
    ASSERT_GE(id, 0);
    ASSERT_TRUE(m.accept_token(id));
    if (m.is_terminated()) break;
  }
  ASSERT_GE(masks.size(), 4u);
  std::vector<uint32_t> mask(m.bitmask_words());
  m.rollback(3);
  m.fill_next_token_bitmask(mask);
  EXPECT_EQ(mask, masks[masks.size() - 3]);
  m.rollback(2);
  m.fill_next_token_bitmask(mask);
  EXPECT_EQ(mask, masks[0]);
  m.rollback(100);  // more than was accepted: back to the start
  m.fill_next_token_bitmask(mask);
  EXPECT_EQ(mask, initial);
  EXPECT_EQ(m.rollback_available(), 0);
}

TEST(GrammarMask, SharedAcrossThreadsWhileFilling) {
  // Four threads walk one lazily filled CompiledGrammar; each walk must equal the same seed's
  // walk on a private, single-threaded one.
  auto vocab = vocab_for("qwen3");
  ASSERT_TRUE(vocab);
  auto grammar = parse_gbnf(kJsonGbnf);
  ASSERT_TRUE(grammar.ok());
  auto shared = *CompiledGrammar::create(*grammar, vocab);
  std::vector<std::string> texts(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      texts[static_cast<size_t>(t)] = random_walk(shared, rng, 0.3, 40).text;
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) {
    std::mt19937 rng(100 + t);
    EXPECT_EQ(random_walk(*CompiledGrammar::create(*grammar, vocab), rng, 0.3, 40).text, texts[static_cast<size_t>(t)]);
  }
}

}  // namespace
}  // namespace tessera::grammar
