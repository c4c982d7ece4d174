// BpePreTokenizer: the hand-written versions of llama.cpp's pre-tokenizer regexes.
#include "tokenizer/bpe_pretokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tessera {
namespace {

using Words = std::vector<std::string>;

Words split(std::string_view pre, std::string_view text) {
  auto pre_tokenizer = BpePreTokenizer::for_name(pre);
  EXPECT_TRUE(pre_tokenizer.ok()) << pre_tokenizer.status().message();
  return pre_tokenizer.ok() ? pre_tokenizer->split(text) : Words{};
}

TEST(BpePreTokenizer, Gpt2SplitsContractionsRunsAndSpaces) {
  EXPECT_EQ(split("gpt-2", "Hello world's  foo\n\n 123!!"),
            (Words{"Hello", " world", "'s", " ", " foo", "\n\n", " 123", "!!"}));
  // Contractions are case-sensitive; a trailing run of spaces stays whole.
  EXPECT_EQ(split("gpt-2", "WE'VE  "), (Words{"WE", "'", "VE", "  "}));
  // Non-ASCII letters and numbers use their Unicode categories.
  EXPECT_EQ(split("gpt-2", "\xD0\xBD\xD0\xB5\xD1\x89\xD0\xBE \xD9\xA3\xD9\xA4"),
            (Words{"\xD0\xBD\xD0\xB5\xD1\x89\xD0\xBE", " \xD9\xA3\xD9\xA4"}));
}

TEST(BpePreTokenizer, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(split("gpt-2", "a\xFF" "b"), (Words{"a", "\xEF\xBF\xBD", "b"}));
}

TEST(BpePreTokenizer, EmptyTextHasNoWords) { EXPECT_EQ(split("gpt-2", ""), Words{}); }

TEST(BpePreTokenizer, DefaultSplitsPunctuationAndDigitTriples) {
  EXPECT_EQ(split("default", "Hello, world! 12345"), (Words{"Hello", ",", " world", "!", " ", "123", "45"}));
  EXPECT_EQ(split("", "a+b"), (Words{"a", "+", "b"}));  // missing pre = default
}

TEST(BpePreTokenizer, StarcoderFamilySplitsEveryDigit) {
  EXPECT_EQ(split("smollm", "abc 123"), (Words{"abc", " ", "1", "2", "3"}));
}

TEST(BpePreTokenizer, Llama3FoldsContractionsAndGroupsDigitsByThree) {
  EXPECT_EQ(split("llama-bpe", "WE'VE 1234567 ok"), (Words{"WE", "'VE", " ", "123", "456", "7", " ok"}));
  // One non-letter may lead a word; punctuation keeps its newlines; newline runs keep their spaces.
  EXPECT_EQ(split("llama-bpe", "(hi) !!\n\n  \n x"), (Words{"(hi", ")", " !!\n\n", "  \n", " x"}));
}

TEST(BpePreTokenizer, Llama3FamilyFlagsIgnoreMergesOnlyWhereLlamaCppDoes) {
  EXPECT_TRUE(BpePreTokenizer::for_name("llama-bpe")->ignore_merges());
  EXPECT_TRUE(BpePreTokenizer::for_name("llama-bpe")->adds_bos_by_default());
  EXPECT_FALSE(BpePreTokenizer::for_name("dbrx")->ignore_merges());
  EXPECT_FALSE(BpePreTokenizer::for_name("qwen2")->ignore_merges());
  EXPECT_FALSE(BpePreTokenizer::for_name("gpt-2")->ignore_merges());
}

TEST(BpePreTokenizer, Qwen2SplitsEveryDigit) {
  EXPECT_EQ(split("qwen2", "x 2024!\n"), (Words{"x", " ", "2", "0", "2", "4", "!\n"}));
  // seed-coder: the same, but punctuation does not take the newlines after it.
  EXPECT_EQ(split("seed-coder", "x 2024!\n"), (Words{"x", " ", "2", "0", "2", "4", "!", "\n"}));
}

TEST(BpePreTokenizer, TekkenAndGpt4oSplitWordsAtCaseChanges) {
  // Capitals then lower case stay one word; Tekken has no contractions.
  EXPECT_EQ(split("tekken", "HelloWorld HTTPServer don't"), (Words{"Hello", "World", " HTTPServer", " don", "'t"}));
  EXPECT_EQ(split("tekken", "ABC def"), (Words{"ABC", " def"}));
  EXPECT_EQ(split("gpt-4o", "HelloWorld don't 12345 a/b//\n"),
            (Words{"Hello", "World", " don't", " ", "123", "45", " a", "/b", "//\n"}));
}

TEST(BpePreTokenizer, PoroSplitsAtSpacesAndSentencePunctuation) {
  EXPECT_EQ(split("poro-chat", "Hei, maailma! (x)"), (Words{"Hei", ",", " maailma", "! (", "x", ")"}));
  EXPECT_EQ(split("viking", "ab12 c"), (Words{"ab", "1", "2", " c"}));
}

TEST(BpePreTokenizer, UnknownNameIsUnsupported) {
  auto pre_tokenizer = BpePreTokenizer::for_name("no-such-pre");
  ASSERT_FALSE(pre_tokenizer.ok());
  EXPECT_EQ(pre_tokenizer.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(pre_tokenizer.status().message().find("no-such-pre"), std::string::npos);
}

}  // namespace
}  // namespace tessera
