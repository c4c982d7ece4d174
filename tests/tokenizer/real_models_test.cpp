// The tokenizers of the real TinyStories models against llama.cpp's golden outputs
// (../shared/golden/*.json: prompt_ids with BOS, and the text of the generated ids).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer_test_util.h"

namespace tessera {
namespace {

using testing::load_tokenizer;
using testing::shared_path;

constexpr const char* kStories260K = "models/stories260K-f32.gguf";
constexpr const char* kTinyStories656K = "models/TinyStories-656K-f32.gguf";

nlohmann::json read_golden(const std::string& name) {
  std::ifstream in(shared_path("golden/" + name));
  EXPECT_TRUE(in.good()) << name;
  return nlohmann::json::parse(in);
}

std::string to_hex(const std::string& bytes) {
  std::string hex;
  for (const char c : bytes) {
    char buf[3];
    std::snprintf(buf, sizeof(buf), "%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
    hex += buf;
  }
  return hex;
}

void expect_matches_golden(const char* model, const std::string& golden_name) {
  const Tokenizer* tokenizer = load_tokenizer(model);
  ASSERT_NE(tokenizer, nullptr);
  const nlohmann::json golden = read_golden(golden_name);
  ASSERT_EQ(golden["n_vocab"].get<int>(), tokenizer->vocab_size());
  ASSERT_EQ(golden["add_bos"].get<bool>(), tokenizer->add_bos());
  ASSERT_EQ(golden["cases"].size(), 3u);
  for (const nlohmann::json& c : golden["cases"]) {
    const std::string prompt = c["prompt"];
    EXPECT_EQ(tokenizer->encode(prompt, /*add_special=*/true, /*parse_special=*/true),
              c["prompt_ids"].get<std::vector<TokenId>>())
        << golden_name << ": '" << prompt << "'";
    const nlohmann::json& run = c["greedy_kv_f32"];
    const std::vector<TokenId> generated = run["generated_ids"].get<std::vector<TokenId>>();
    EXPECT_EQ(tokenizer->decode(generated), run["generated_text"].get<std::string>()) << golden_name << ": '" << prompt << "'";
    const std::vector<std::string> pieces_hex = run["generated_pieces_hex"].get<std::vector<std::string>>();
    ASSERT_EQ(pieces_hex.size(), generated.size());
    for (size_t i = 0; i < generated.size(); ++i) {
      EXPECT_EQ(to_hex(tokenizer->token_to_piece(generated[i])), pieces_hex[i]) << "token " << generated[i];
    }
  }
}

TEST(TokenizerRealModels, TinyStories656KEncodesOnceUponATime) {
  const Tokenizer* tokenizer = load_tokenizer(kTinyStories656K);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->encode("Once upon a time", true, false), (std::vector<TokenId>{1, 80, 147, 201, 282, 57}));
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_TRUE(tokenizer->add_bos());
}

TEST(TokenizerRealModels, Stories260KMatchesGoldenPromptsAndText) {
  expect_matches_golden(kStories260K, "stories260K-f32.json");
}

TEST(TokenizerRealModels, TinyStories656KMatchesGoldenPromptsAndText) {
  expect_matches_golden(kTinyStories656K, "TinyStories-656K-f32.json");
}

TEST(TokenizerRealModels, TinyStories656KMapsUnknownCharactersToUnk) {
  const Tokenizer* tokenizer = load_tokenizer(kTinyStories656K);
  ASSERT_NE(tokenizer, nullptr);
  ASSERT_EQ(tokenizer->unknown_id(), 0);
  const std::vector<TokenId> plain = tokenizer->encode("Once upon a time", false, false);
  // A run of unknown characters becomes a single <unk>, as SentencePiece and HF's fuse_unk do.
  std::vector<TokenId> ids = tokenizer->encode("Once upon a time\xE2\x82\xAC\xF0\x9F\xA6\x99", false, false);
  std::vector<TokenId> expected = plain;
  expected.push_back(0);
  EXPECT_EQ(ids, expected);
  // The literal newline token.
  EXPECT_EQ(tokenizer->token_text(3), "\n");
  EXPECT_EQ(tokenizer->token_to_piece(0), "");  // <unk> renders as nothing (llama.cpp, special=false)
  EXPECT_EQ(tokenizer->token_to_piece(0, /*special=*/true), "<unk>");
}

TEST(TokenizerRealModels, EndOfGenerationIncludesEos) {
  const Tokenizer* stories = load_tokenizer(kStories260K);
  ASSERT_NE(stories, nullptr);
  EXPECT_TRUE(stories->is_eog(2));
  EXPECT_FALSE(stories->is_eog(1));
  EXPECT_FALSE(stories->is_eog(-1));
  // 0xFFFFFFFF in seperator/padding_token_id: keeps the default, which is none.
  EXPECT_EQ(stories->padding_id(), -1);
  const Tokenizer* tiny = load_tokenizer(kTinyStories656K);
  ASSERT_NE(tiny, nullptr);
  EXPECT_TRUE(tiny->is_eog(2));
  EXPECT_EQ(tiny->token_to_piece(2), "");  // control
}

}  // namespace
}  // namespace tessera
