// OpenAI presence/frequency penalties (generated tokens only) and log-softmax logprobs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "sampling/logprobs.h"
#include "sampling/sampler.h"

namespace tessera {
namespace {

SamplingParams greedy_with(float presence, float frequency) {
  SamplingParams params;
  params.temperature = 0.0f;
  params.repetition_penalty = 1.0f;
  params.presence_penalty = presence;
  params.frequency_penalty = frequency;
  return params;
}

TEST(SamplerPenalties, PresencePenaltySubtractsOncePerGeneratedId) {
  Sampler sampler(greedy_with(0.6f, 0.0f));
  const std::vector<float> logits = {2.0f, 1.5f};
  const std::vector<int32_t> once = {0};
  const std::vector<int32_t> thrice = {0, 0, 0};
  EXPECT_EQ(sampler.sample(logits, {}), 0);
  EXPECT_EQ(sampler.sample(logits, once), 1);    // 2.0 - 0.6 = 1.4 < 1.5
  EXPECT_EQ(sampler.sample(logits, thrice), 1);  // still 1.4: presence does not scale with count
  Sampler small(greedy_with(0.4f, 0.0f));
  EXPECT_EQ(small.sample(logits, thrice), 0);    // 2.0 - 0.4 = 1.6 > 1.5
}

TEST(SamplerPenalties, FrequencyPenaltyScalesWithTheCount) {
  Sampler sampler(greedy_with(0.0f, 0.2f));
  const std::vector<float> logits = {2.0f, 1.5f};
  const std::vector<int32_t> twice = {0, 0};
  const std::vector<int32_t> thrice = {0, 0, 0};
  EXPECT_EQ(sampler.sample(logits, twice), 0);   // 2.0 - 0.4 = 1.6
  EXPECT_EQ(sampler.sample(logits, thrice), 1);  // 2.0 - 0.6 = 1.4
  EXPECT_EQ(sampler.sample(logits, twice), 0);   // scratch counts were reset between calls
}

TEST(SamplerPenalties, PromptTokensAreNotPenalised) {
  Sampler sampler(greedy_with(1.0f, 1.0f), /*num_prompt_tokens=*/3);
  const std::vector<float> logits = {2.0f, 1.5f};
  const std::vector<int32_t> prompt_only = {0, 0, 0};
  const std::vector<int32_t> one_generated = {0, 0, 0, 0};
  EXPECT_EQ(sampler.sample(logits, prompt_only), 0);
  EXPECT_EQ(sampler.sample(logits, one_generated), 1);  // 2.0 - 1 - 1 = 0 < 1.5
}

TEST(SamplerPenalties, NegativePenaltiesEncourageRepeats) {
  Sampler sampler(greedy_with(-1.0f, 0.0f));
  const std::vector<int32_t> history = {1};
  EXPECT_EQ(sampler.sample(std::vector<float>{2.0f, 1.5f}, history), 1);
}

TEST(Logprobs, AreTheLogSoftmaxOfTheRawLogits) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 0.0f};
  double sum = 0.0;
  for (float l : logits) sum += std::exp(double(l));
  const SampledLogprobs lp = compute_logprobs(logits, 2, 2);
  EXPECT_EQ(lp.sampled.token_id, 2);
  EXPECT_NEAR(lp.sampled.logprob, 2.0 - std::log(sum), 1e-6);
  ASSERT_EQ(lp.top.size(), 2u);
  EXPECT_EQ(lp.top[0].token_id, 1);
  EXPECT_EQ(lp.top[1].token_id, 2);
  EXPECT_NEAR(lp.top[0].logprob, 3.0 - std::log(sum), 1e-6);
  double total = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) total += std::exp(compute_logprobs(logits, int32_t(i), 0).sampled.logprob);
  EXPECT_NEAR(total, 1.0, 1e-6);
}

TEST(Logprobs, TopKClampsToTheVocabularyAndNaNIsImpossible) {
  const std::vector<float> logits = {0.0f, std::numeric_limits<float>::quiet_NaN(), 0.0f};
  const SampledLogprobs lp = compute_logprobs(logits, 1, 10);
  ASSERT_EQ(lp.top.size(), 3u);
  EXPECT_EQ(lp.top[0].token_id, 0);  // tie goes to the lower id
  EXPECT_EQ(lp.top[1].token_id, 2);
  EXPECT_NEAR(lp.top[0].logprob, std::log(0.5), 1e-6);
  EXPECT_TRUE(std::isinf(lp.sampled.logprob) && lp.sampled.logprob < 0);
  EXPECT_TRUE(compute_logprobs(logits, 0, 0).top.empty());
}

}  // namespace
}  // namespace tessera
