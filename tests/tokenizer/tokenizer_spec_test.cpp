// Tokenizer::from_spec on tiny hand-made vocabularies: merge order and load errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace tessera {
namespace {

// <unk>, <s>, </s>, then the given normal tokens (ids from 3).
VocabSpec spm_spec(const std::vector<std::string>& normal, const std::vector<float>& scores) {
  VocabSpec spec;
  spec.model = "llama";
  spec.tokens = {"<unk>", "<s>", "</s>"};
  spec.token_types = {2, 3, 3};
  spec.scores = {0, 0, 0};
  for (size_t i = 0; i < normal.size(); ++i) {
    spec.tokens.push_back(normal[i]);
    spec.token_types.push_back(1);
    spec.scores.push_back(scores[i]);
  }
  spec.add_space_prefix = false;
  return spec;
}

std::unique_ptr<Tokenizer> make(const VocabSpec& spec) {
  auto tokenizer = Tokenizer::from_spec(spec);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status().message();
  return tokenizer.ok() ? std::move(tokenizer).value() : nullptr;
}

TEST(TokenizerSpec, SpmMergesHighestScoreFirstThenLeftmost) {
  // ids: a=3 b=4 ab=5 ba=6 aa=7
  auto tokenizer = make(spm_spec({"a", "b", "ab", "ba", "aa"}, {0, 0, -1, -2, -3}));
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->encode("aba", false, false), (std::vector<TokenId>{5, 3}));  // "ab" outscores "ba"
  EXPECT_EQ(tokenizer->encode("aaa", false, false), (std::vector<TokenId>{7, 3}));  // tie: leftmost pair
  EXPECT_EQ(tokenizer->encode("aaa", true, false), (std::vector<TokenId>{1, 7, 3}));
  // No byte tokens: an unknown character becomes <unk>; a run of them a single <unk>.
  EXPECT_EQ(tokenizer->encode("a??b", false, false), (std::vector<TokenId>{3, 0, 4}));
}

TEST(TokenizerSpec, SpmAddsSpacePrefixByDefault) {
  VocabSpec spec = spm_spec({"\xE2\x96\x81", "a", "\xE2\x96\x81" "a"}, {0, 0, -1});
  spec.add_space_prefix.reset();
  auto tokenizer = make(spec);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->encode("a a", false, false), (std::vector<TokenId>{5, 5}));
  EXPECT_EQ(tokenizer->decode({5, 5}), " a a");
}

TEST(TokenizerSpec, RejectsUnsupportedModels) {
  VocabSpec spec = spm_spec({"a"}, {0});
  spec.model = "bert";
  auto tokenizer = Tokenizer::from_spec(spec);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(tokenizer.status().message().find("'bert'"), std::string::npos);

  spec.model = "gpt2";
  spec.merges = {"a b"};
  spec.pre = "chameleon";  // a pre-tokenizer llama.cpp knows but Tessera does not implement
  tokenizer = Tokenizer::from_spec(spec);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(tokenizer.status().message().find("'chameleon'"), std::string::npos);
}

TEST(TokenizerSpec, RejectsMalformedVocabularies) {
  VocabSpec duplicate = spm_spec({"a", "a"}, {0, 0});
  auto tokenizer = Tokenizer::from_spec(duplicate);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), StatusCode::kCorruptData);
  EXPECT_NE(tokenizer.status().message().find("duplicate"), std::string::npos);

  VocabSpec empty;
  empty.model = "llama";
  EXPECT_EQ(Tokenizer::from_spec(empty).status().code(), StatusCode::kCorruptData);

  VocabSpec short_scores = spm_spec({"a"}, {0});
  short_scores.scores.pop_back();
  EXPECT_EQ(Tokenizer::from_spec(short_scores).status().code(), StatusCode::kCorruptData);

  // add_bos defaults to true for "llama", but a one-token vocabulary has no BOS (default id 1).
  VocabSpec no_bos;
  no_bos.model = "llama";
  no_bos.tokens = {"a"};
  EXPECT_EQ(Tokenizer::from_spec(no_bos).status().code(), StatusCode::kCorruptData);

  VocabSpec no_merges;
  no_merges.model = "gpt2";
  no_merges.tokens = {"a", "b"};
  EXPECT_EQ(Tokenizer::from_spec(no_merges).status().code(), StatusCode::kCorruptData);
}

TEST(TokenizerSpec, SpecialIdsFollowLlamaCppDefaults) {
  VocabSpec spec = spm_spec({"a"}, {0});
  spec.padding_id = 0xFFFFFFFFll;  // out of range: keeps the default (none)
  spec.eos_id = -1;                // negative: none
  spec.add_bos = false;
  auto tokenizer = make(spec);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->padding_id(), -1);
  EXPECT_EQ(tokenizer->eos_id(), -1);
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->unknown_id(), 0);
  EXPECT_FALSE(tokenizer->add_bos());
  EXPECT_EQ(tokenizer->encode("a", true, false), std::vector<TokenId>{3});
}

TEST(TokenizerSpec, EndMarkersByTextBecomeControlAndEndGeneration) {
  VocabSpec spec = spm_spec({"a", "<|im_end|>"}, {0, 0});
  auto tokenizer = make(spec);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_TRUE(tokenizer->is_eog(4));
  EXPECT_TRUE(tokenizer->is_eog(2));  // default EOS
  EXPECT_EQ(tokenizer->eot_id(), 4);
  EXPECT_EQ(tokenizer->token_to_piece(4), "");  // now a control token
  EXPECT_EQ(tokenizer->encode("a<|im_end|>", false, true), (std::vector<TokenId>{3, 4}));
}

TEST(TokenizerSpec, HarmonyEndAndGemma4EndTagDoNotEndGeneration) {
  auto harmony = make(spm_spec({"<|end|>", "<|return|>", "<|call|>"}, {0, 0, 0}));
  ASSERT_NE(harmony, nullptr);
  EXPECT_FALSE(harmony->is_eog(3));  // <|end|> ends a message, not the turn
  EXPECT_TRUE(harmony->is_eog(4));
  EXPECT_TRUE(harmony->is_eog(5));
  // spm_spec's </s> (id 2, also the default EOS) is an HTML tag next to <|tool_response>.
  auto gemma4 = make(spm_spec({"<|tool_response>"}, {0}));
  ASSERT_NE(gemma4, nullptr);
  EXPECT_FALSE(gemma4->is_eog(2));
  EXPECT_TRUE(gemma4->is_eog(3));
  auto plain = make(spm_spec({"a"}, {0}));
  ASSERT_NE(plain, nullptr);
  EXPECT_TRUE(plain->is_eog(2));
}

}  // namespace
}  // namespace tessera
