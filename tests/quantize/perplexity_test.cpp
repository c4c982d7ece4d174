// Perplexity arithmetic against figures computed by hand, with a fake model whose next-token
// probabilities are known exactly: p(token t) = (t + 1) / 10 over a 4-token vocabulary.
#include "quantize/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace tessera::quantize {
namespace {

// Logits log(1), log(2), log(3), log(4) at every position; records each chunk's tokens.
class FixedDistributionModel final : public Model {
 public:
  explicit FixedDistributionModel(int32_t context) {
    config_.vocab_size = 4;
    config_.num_layers = 1;
    config_.num_kv_heads = 1;
    config_.head_dim = 1;
    max_context_ = context;
  }
  void forward(const ForwardBatch& batch, KvStorage&, float* logits, kernels::ExecutionContext&) override {
    seen_batches.push_back(batch.token_ids);
    logit_rows.push_back(batch.logit_rows);
    for (size_t row = 0; row < batch.logit_rows.size(); ++row) {
      for (int t = 0; t < 4; ++t) logits[row * 4 + t] = std::log(static_cast<float>(t + 1));
    }
  }
  std::vector<std::vector<int32_t>> seen_batches;
  std::vector<std::vector<int32_t>> logit_rows;
};

TEST(Perplexity, NegativeLogProbIsMinusLogSoftmax) {
  const std::vector<float> logits = {0.0f, std::log(2.0f), std::log(3.0f), std::log(4.0f)};
  EXPECT_NEAR(negative_log_prob(logits, 3), -std::log(0.4), 1e-6);
  EXPECT_NEAR(negative_log_prob(logits, 0), -std::log(0.1), 1e-6);
  // Shifting every logit changes nothing.
  const std::vector<float> shifted = {100.0f, 100.0f + std::log(2.0f), 100.0f + std::log(3.0f), 100.0f + std::log(4.0f)};
  EXPECT_NEAR(negative_log_prob(shifted, 1), -std::log(0.2), 1e-5);
}

// Two chunks of 6 tokens: each scores positions 4 and 5 (first = 6/2 = 3; the logits at 3 and 4
// predict them). Scored tokens 3, 1 | 0, 3 have p = 0.4, 0.2 | 0.1, 0.4, so by hand:
//   chunk 1: PPL = (0.4 * 0.2)^(-1/2)             = 3.535534
//   final:   PPL = (0.4 * 0.2 * 0.1 * 0.4)^(-1/4) = 312.5^(1/4) = 4.204482
//   nll = 0.916291, 1.609438, 2.302585, 0.916291: mean 1.436151, mean of squares 2.392841,
//   +/- = PPL * sqrt((2.392841 - 1.436151^2) / 3) = 1.395127.
TEST(Perplexity, MatchesHandComputedFiguresAndLlamaCppChunking) {
  FixedDistributionModel model(6);
  ThreadPool pool(1);
  //                                   chunk 0             chunk 1             partial chunk (ignored)
  const std::vector<int32_t> tokens = {2, 1, 1, 1, 3, 1, 0, 1, 1, 1, 0, 3, 2, 2};
  std::vector<double> reported;
  auto result = compute_perplexity(model, tokens, PerplexityOptions{6, -1, 2}, pool,
                                   [&](int32_t, double ppl) { reported.push_back(ppl); });
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->num_chunks, 2);
  EXPECT_EQ(result->num_scored_tokens, 4);
  EXPECT_NEAR(result->running_perplexity[0], 3.535534, 1e-5);
  EXPECT_NEAR(result->perplexity, 4.204482, 1e-5);
  EXPECT_NEAR(result->error, 1.395127, 1e-5);
  EXPECT_EQ(reported, result->running_perplexity);
  // Each chunk starts with BOS (2) in place of its first token; logits asked for rows 3 and 4.
  ASSERT_EQ(model.seen_batches.size(), 2u);
  EXPECT_EQ(model.seen_batches[1], (std::vector<int32_t>{2, 1, 1, 1, 0, 3}));
  EXPECT_EQ(model.logit_rows[0], (std::vector<int32_t>{3, 4}));
}

TEST(Perplexity, MaxChunksLimitsTheRun) {
  FixedDistributionModel model(6);
  ThreadPool pool(1);
  const std::vector<int32_t> tokens = {2, 1, 1, 1, 3, 1, 0, 1, 1, 1, 0, 3, 2, 2, 2, 2, 2, 2};
  auto result = compute_perplexity(model, tokens, PerplexityOptions{6, 2, 2}, pool, nullptr);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->num_chunks, 2);
  EXPECT_NEAR(result->perplexity, 4.204482, 1e-5);
}

TEST(Perplexity, NeedsTwoWholeChunks) {
  FixedDistributionModel model(6);
  ThreadPool pool(1);
  const std::vector<int32_t> tokens(11, 1);
  auto result = compute_perplexity(model, tokens, PerplexityOptions{6, -1, 2}, pool, nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("the text has 11 tokens; at least 12"), std::string::npos)
      << result.status().message();
}

TEST(PerplexityAccumulator, ErrorNeedsTwoTokensAndSomeSpread) {
  PerplexityAccumulator a;
  EXPECT_EQ(a.perplexity(), 1.0);
  a.add(std::log(2.0));
  EXPECT_NEAR(a.perplexity(), 2.0, 1e-12);
  EXPECT_EQ(a.error(), 0.0);
  a.add(std::log(2.0));
  EXPECT_EQ(a.error(), 0.0);  // no spread
}

}  // namespace
}  // namespace tessera::quantize
