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

TEST(BpePreTokenizer, UnknownNameIsUnsupported) {
  auto pre_tokenizer = BpePreTokenizer::for_name("llama-bpe");
  ASSERT_FALSE(pre_tokenizer.ok());
  EXPECT_EQ(pre_tokenizer.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(pre_tokenizer.status().message().find("llama-bpe"), std::string::npos);
}

}  // namespace
}  // namespace tessera
