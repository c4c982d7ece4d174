// Tokenizer behaviour beyond the test vectors: special-token parsing, pieces, streaming
// detokenization, degenerate and very long inputs, and load errors.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tokenizer/unicode_utf8.h"
#include "tokenizer_test_util.h"

namespace tessera {
namespace {

using testing::load_tokenizer;

constexpr const char* kStories260K = "models/stories260K-f32.gguf";
constexpr const char* kLlamaSpm = "models/vocab/ggml-vocab-llama-spm.gguf";
constexpr const char* kGpt2 = "models/vocab/ggml-vocab-gpt-2.gguf";
constexpr const char* kPhi3 = "models/vocab/ggml-vocab-phi-3.gguf";

std::vector<TokenId> concat(std::vector<TokenId> a, const std::vector<TokenId>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

bool contains(const std::vector<TokenId>& ids, TokenId id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

// True when `text` is well-formed UTF-8 (no stray, truncated or invalid sequences).
bool is_valid_utf8(const std::string& text) {
  for (size_t offset = 0; offset < text.size();) {
    const size_t start = offset;
    const uint32_t cpt = unicode::decode_utf8(text, offset);
    if (cpt == unicode::kReplacementChar && text.compare(start, 3, "\xEF\xBF\xBD") != 0) return false;
  }
  return true;
}

TEST(Tokenizer, EmptyTextGivesOnlyTheRequestedSpecials) {
  const Tokenizer* spm = load_tokenizer(kLlamaSpm);
  const Tokenizer* gpt2 = load_tokenizer(kGpt2);
  ASSERT_TRUE(spm && gpt2);
  EXPECT_EQ(spm->encode("", false, false), std::vector<TokenId>{});
  EXPECT_EQ(spm->encode("", true, true), std::vector<TokenId>{1});
  EXPECT_EQ(gpt2->encode("", true, true), std::vector<TokenId>{});  // gpt2 adds no BOS by default
  EXPECT_EQ(spm->decode({}), "");
}

TEST(Tokenizer, SpmParsesSpecialTokensOnlyWhenAsked) {
  const Tokenizer* spm = load_tokenizer(kLlamaSpm);
  ASSERT_NE(spm, nullptr);
  const std::vector<TokenId> hello = spm->encode("Hello", false, false);
  // Text after a special token gets the leading-space prefix, as at the start of the text.
  EXPECT_EQ(spm->encode("<s>Hello", false, true), concat({1}, hello));
  EXPECT_EQ(spm->encode("Hello</s>", true, true), concat(concat({1}, hello), {2}));
  EXPECT_FALSE(contains(spm->encode("<s>Hello", false, false), 1));
}

TEST(Tokenizer, Gpt2ParsesEndOfTextOnlyWhenAsked) {
  const Tokenizer* gpt2 = load_tokenizer(kGpt2);
  ASSERT_NE(gpt2, nullptr);
  EXPECT_EQ(gpt2->encode("<|endoftext|>", false, true), std::vector<TokenId>{50256});
  const std::vector<TokenId> literal = gpt2->encode("<|endoftext|>", false, false);
  EXPECT_GT(literal.size(), 1u);
  EXPECT_FALSE(contains(literal, 50256));
  EXPECT_EQ(gpt2->decode(literal), "<|endoftext|>");
}

TEST(Tokenizer, Phi3SpecialTokensStripFollowingSpaces) {
  const Tokenizer* phi3 = load_tokenizer(kPhi3);
  ASSERT_NE(phi3, nullptr);
  const std::vector<TokenId> ids = phi3->encode("<|user|>\nHi<|end|>\n<|assistant|>", false, true);
  EXPECT_TRUE(contains(ids, 32010));
  EXPECT_TRUE(contains(ids, 32007));
  EXPECT_TRUE(contains(ids, 32001));
  // general.name "Phi3": llama.cpp gives its special tokens RSTRIP.
  EXPECT_EQ(phi3->encode("<|end|>   Hi", false, true), phi3->encode("<|end|>Hi", false, true));
  EXPECT_TRUE(phi3->is_eog(32000));  // <|endoftext|>, the EOS
  EXPECT_TRUE(phi3->is_eog(32007));  // <|end|>, found by its text
}

TEST(Tokenizer, SpmPiecesUnescapeSpacesAndBytes) {
  const Tokenizer* spm = load_tokenizer(kLlamaSpm);
  ASSERT_NE(spm, nullptr);
  EXPECT_EQ(spm->token_to_piece(spm->find_token("\xE2\x96\x81the")), " the");
  EXPECT_EQ(spm->token_to_piece(spm->find_token("<0x0A>")), "\n");
  EXPECT_EQ(spm->token_to_piece(1), "");                  // control
  EXPECT_EQ(spm->token_to_piece(1, /*special=*/true), "<s>");
  EXPECT_EQ(spm->token_to_piece(-1), "");
  EXPECT_EQ(spm->token_to_piece(spm->vocab_size()), "");
  EXPECT_EQ(spm->find_token("no such token"), -1);
}

TEST(Tokenizer, Gpt2PiecesMapByteLevelCharactersBack) {
  const Tokenizer* gpt2 = load_tokenizer(kGpt2);
  ASSERT_NE(gpt2, nullptr);
  EXPECT_EQ(gpt2->token_to_piece(gpt2->find_token("\xC4\xA0the")), " the");  // "Ġthe"
  EXPECT_EQ(gpt2->token_to_piece(gpt2->find_token("\xC4\x8A")), "\n");       // "Ċ"
  EXPECT_EQ(gpt2->token_to_piece(50256), "");
  EXPECT_EQ(gpt2->token_to_piece(50256, true), "<|endoftext|>");
  const std::string text = "Hello world! \xC3\xA9t\xC3\xA9 \xF0\x9F\xA6\x99\n\tend";
  EXPECT_EQ(gpt2->decode(gpt2->encode(text, false, false)), text);
}

TEST(StreamingDetokenizer, NeverEmitsHalfACharacter) {
  const Tokenizer* stories = load_tokenizer(kStories260K);
  ASSERT_NE(stories, nullptr);
  // The 512-token vocabulary has no accented letters or emoji: they become <0xXX> byte tokens.
  const std::string text = "h\xC3\xA9llo \xF0\x9F\xA6\x99 w\xC3\xB6rld \xE2\x82\xAC";
  const std::vector<TokenId> ids = stories->encode(text, false, false);
  bool some_piece_is_partial = false;
  for (const TokenId id : ids) some_piece_is_partial |= !is_valid_utf8(stories->token_to_piece(id));
  ASSERT_TRUE(some_piece_is_partial) << "the test needs byte tokens that split characters";

  StreamingDetokenizer detokenizer(*stories);
  std::string streamed;
  for (const TokenId id : ids) {
    const std::string chunk = detokenizer.push(id);
    EXPECT_TRUE(is_valid_utf8(chunk)) << "token " << id;
    streamed += chunk;
  }
  EXPECT_EQ(detokenizer.flush(), "");
  EXPECT_EQ(streamed, stories->decode(ids));
  EXPECT_EQ(streamed, " " + text);  // SentencePiece's leading space stays (no stripping)
}

TEST(StreamingDetokenizer, FlushEmitsAnIncompleteTail) {
  const Tokenizer* stories = load_tokenizer(kStories260K);
  ASSERT_NE(stories, nullptr);
  StreamingDetokenizer detokenizer(*stories);
  EXPECT_EQ(detokenizer.push(stories->find_token("<0xE2>")), "");
  EXPECT_EQ(detokenizer.push(stories->find_token("<0x82>")), "");
  EXPECT_EQ(detokenizer.flush(), "\xE2\x82");
  // A sequence broken by an ASCII byte is invalid: it is emitted, not held forever.
  EXPECT_EQ(detokenizer.push(stories->find_token("<0xE2>")), "");
  EXPECT_EQ(detokenizer.push(stories->find_token("<0x41>")), "\xE2" "A");
  EXPECT_EQ(detokenizer.flush(), "");
}

// 100k characters in well under a second: the merge loops are O(n log n), not quadratic.
TEST(Tokenizer, VeryLongInputIsFast) {
  const Tokenizer* spm = load_tokenizer(kLlamaSpm);
  const Tokenizer* gpt2 = load_tokenizer(kGpt2);
  ASSERT_TRUE(spm && gpt2);
  std::string prose;
  while (prose.size() < 100000) prose += "Once upon a time, there was a little girl named Lily. ";
  const std::vector<std::string> inputs = {prose, std::string(100000, 'a'), std::string(100000, ' ')};
  for (const Tokenizer* tokenizer : {spm, gpt2}) {
    for (const std::string& input : inputs) {
      const auto start = std::chrono::steady_clock::now();
      const std::vector<TokenId> ids = tokenizer->encode(input, true, true);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      EXPECT_FALSE(ids.empty());
      EXPECT_LT(seconds, 5.0) << "input of " << input.size() << " bytes starting '" << input.substr(0, 10) << "'";
      EXPECT_EQ(tokenizer->decode(ids), tokenizer == spm ? " " + input : input);
    }
  }
}

}  // namespace
}  // namespace tessera
