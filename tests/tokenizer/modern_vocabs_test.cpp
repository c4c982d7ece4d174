// What the modern vocabularies (Llama 3, Qwen3, Gemma 3) must expose beyond token ids: the
// end-of-generation sets llama.cpp derives, special ids and the tokens always matched whole.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "tokenizer_test_util.h"

namespace tessera {
namespace {

using testing::load_tokenizer;

constexpr const char* kLlama3 = "models/vocab/ggml-vocab-llama3.gguf";
constexpr const char* kQwen3 = "models/vocab/ggml-vocab-qwen3.gguf";
constexpr const char* kGemma3 = "models/vocab/ggml-vocab-gemma3.gguf";

TEST(ModernVocabs, Llama3EndsAtEndOfTextAndEndOfTurn) {
  const Tokenizer* tokenizer = load_tokenizer(kLlama3);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->eog_ids(), (std::vector<TokenId>{128001, 128009}));
  EXPECT_EQ(tokenizer->bos_id(), 128000);
  EXPECT_EQ(tokenizer->eos_id(), 128001);
  EXPECT_TRUE(tokenizer->add_bos());
}

TEST(ModernVocabs, Qwen3EndsAtEndOfTextImEndFimTokensAndPlainEndTag) {
  const Tokenizer* tokenizer = load_tokenizer(kQwen3);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->eog_ids(), (std::vector<TokenId>{128247, 151643, 151645, 151662, 151663, 151664}));
  EXPECT_EQ(tokenizer->eos_id(), 151645);
  EXPECT_FALSE(tokenizer->add_bos());
}

TEST(ModernVocabs, Gemma3EndsAtEosEndOfTurnAndEndTag) {
  const Tokenizer* tokenizer = load_tokenizer(kGemma3);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->eog_ids(), (std::vector<TokenId>{1, 106, 212}));
  EXPECT_EQ(tokenizer->eos_id(), 106);
  EXPECT_EQ(tokenizer->bos_id(), 2);
}

TEST(ModernVocabs, Qwen3UserDefinedTagsMatchWholeWithoutParseSpecial) {
  const Tokenizer* tokenizer = load_tokenizer(kQwen3);
  ASSERT_NE(tokenizer, nullptr);
  const TokenId think = tokenizer->find_token("<think>");
  ASSERT_GE(think, 0);
  const std::vector<TokenId> ids = tokenizer->encode("a<think>b", /*add_special=*/false, /*parse_special=*/false);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[1], think);
  // Control tokens are plain text unless parse_special is set.
  const TokenId im_start = tokenizer->find_token("<|im_start|>");
  const std::vector<TokenId> plain = tokenizer->encode("<|im_start|>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), im_start), 0);
  EXPECT_EQ(tokenizer->encode("<|im_start|>", false, true), std::vector<TokenId>{im_start});
}

TEST(ModernVocabs, Gemma3EndTagIsNotMatchedWholeInText) {
  const Tokenizer* tokenizer = load_tokenizer(kGemma3);
  ASSERT_NE(tokenizer, nullptr);
  // </s> is stored USER_DEFINED but retyped CONTROL (it looks like an end token).
  EXPECT_NE(tokenizer->encode("</s>", false, false), std::vector<TokenId>{212});
  const TokenId table = tokenizer->find_token("<table>");
  ASSERT_GE(table, 0);
  EXPECT_EQ(tokenizer->encode("<table>", false, false), std::vector<TokenId>{table});
}

TEST(ModernVocabs, LongInputsEncodeInLinearTime) {
  // 200 KB of mixed text per vocabulary: a quadratic step would take far longer than the limit.
  std::string text;
  while (text.size() < 200000) text += "Hello, world! 12345 \xE4\xBD\xA0\xE5\xA5\xBD   \n\n\tdon't <think> ";
  for (const char* vocab : {kLlama3, kQwen3, kGemma3}) {
    const Tokenizer* tokenizer = load_tokenizer(vocab);
    ASSERT_NE(tokenizer, nullptr);
    EXPECT_GT(tokenizer->encode(text, false, false).size(), 10000u) << vocab;
  }
}

TEST(ModernVocabs, ArbitraryBytesNeverCrashAndRoundTripWhereValid) {
  std::mt19937 rng(42);
  for (const char* vocab : {kLlama3, kQwen3, kGemma3}) {
    const Tokenizer* tokenizer = load_tokenizer(vocab);
    ASSERT_NE(tokenizer, nullptr);
    for (int round = 0; round < 200; ++round) {
      std::string bytes(rng() % 64, '\0');
      for (char& c : bytes) c = static_cast<char>(rng());
      for (const bool parse_special : {false, true}) {
        for (const TokenId id : tokenizer->encode(bytes, /*add_special=*/true, parse_special)) {
          ASSERT_GE(id, 0) << vocab;
          ASSERT_LT(id, tokenizer->vocab_size()) << vocab;
        }
      }
    }
    // Valid UTF-8 text decodes back to itself (no normalisation, no added space).
    const std::string text = "caf\x65\xCC\x81 \xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4  x\t\n\n 1234567";
    EXPECT_EQ(tokenizer->decode(tokenizer->encode(text, false, false)), text) << vocab;
  }
}

}  // namespace
}  // namespace tessera
