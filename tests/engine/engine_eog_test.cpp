// The engine stops on the tokenizer's whole end-of-generation set, not only on EOS: a chat model
// ends its turn with <|eot_id|> / <|im_end|>, which differ from EOS.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "engine_test_util.h"
#include "model/tiny_model.h"

namespace tessera {
namespace {

// A tiny random-weight model written to a temporary file; `end_of_turn_id` >= 0 renames that
// token to <|eot_id|> (control), leaving the weights, and so the greedy path, unchanged.
std::string write_tiny_model(const std::string& name, int32_t end_of_turn_id) {
  testing::TinyModelSpec spec;
  gguf::GgufWriter writer = testing::make_tiny_model(spec);
  if (end_of_turn_id >= 0) {
    std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
    std::vector<int32_t> types = {2, 3, 3};
    for (int32_t i = 3; i < spec.vocab_size; ++i) {
      tokens.push_back(i == end_of_turn_id ? "<|eot_id|>" : "tok" + std::to_string(i));
      types.push_back(i == end_of_turn_id ? 3 : 1);
    }
    writer.set("tokenizer.ggml.tokens", gguf::MetadataValue::string_array(tokens));
    writer.set("tokenizer.ggml.token_type", gguf::MetadataValue::i32_array(types));
  }
  const std::string path = ::testing::TempDir() + name;
  EXPECT_TRUE(writer.write(path).ok()) << path;
  return path;
}

EngineConfig tiny_engine_config(const std::string& path) {
  EngineConfig config;
  config.model_path = path;
  config.kv_cache_memory_bytes = 4 << 20;
  config.num_threads = 1;
  return config;
}

// Greedy run of one request; returns its tokens and how it finished.
std::pair<std::vector<int32_t>, FinishReason> run_greedy(Engine& engine, GenerationParams params) {
  const std::vector<int32_t> prompt = {1, 5, 9, 13};
  auto id = engine.add_request(prompt, params);
  EXPECT_TRUE(id.ok()) << id.status().message();
  std::vector<int32_t> tokens;
  FinishReason reason = FinishReason::kNone;
  for (int guard = 0; engine.has_unfinished_requests() && guard < 1000; ++guard) {
    for (const RequestOutput& out : engine.step()) {
      tokens.insert(tokens.end(), out.new_token_ids.begin(), out.new_token_ids.end());
      if (out.finished()) reason = out.finish_reason;
    }
  }
  return {tokens, reason};
}

TEST(EngineEndOfGeneration, StopsAtEndOfTurnThatIsNotEos) {
  // Learn the first greedy token of the plain model...
  auto plain = testing::make_engine(tiny_engine_config(write_tiny_model("tessera_eog_plain.gguf", -1)));
  ASSERT_NE(plain, nullptr);
  const auto [free_run, free_reason] = run_greedy(*plain, testing::greedy(4));
  ASSERT_EQ(free_run.size(), 4u);
  const int32_t first = free_run[0];
  ASSERT_GE(first, 3) << "the tiny model's first greedy token should be an ordinary one";
  EXPECT_EQ(free_reason, FinishReason::kLength);

  // ... then make that token the end of turn: the same weights now stop right after it.
  auto chat = testing::make_engine(tiny_engine_config(write_tiny_model("tessera_eog_chat.gguf", first)));
  ASSERT_NE(chat, nullptr);
  EXPECT_EQ(chat->eos_token_id(), 2);
  EXPECT_EQ(chat->eog_token_ids(), (std::vector<int32_t>{2, first}));
  GenerationParams params = testing::greedy(4);
  params.ignore_eos = false;
  const auto [chat_run, chat_reason] = run_greedy(*chat, params);
  EXPECT_EQ(chat_run, std::vector<int32_t>{first});
  EXPECT_EQ(chat_reason, FinishReason::kStop);

  // ignore_eos covers the end of turn too (benchmarks run to max_tokens).
  const auto [ignored_run, ignored_reason] = run_greedy(*chat, testing::greedy(4));
  EXPECT_EQ(ignored_run, free_run);
  EXPECT_EQ(ignored_reason, FinishReason::kLength);
}

}  // namespace
}  // namespace tessera
