// Rejection sampling keeps the target's distribution exactly, whatever the draft's: 20,000 seeded
// draws per position on stories260K's real logits (the three golden prompts' next-token logits),
// with every sampling parameter on, against a draft of another temperature and a deterministic
// draft. Greedy verification is argmax comparison.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <numbers>
#include <random>

#include "model/golden.h"
#include "sampling/rejection_sampler.h"
#include "sampling/sampler.h"

namespace tessera {
namespace {

constexpr int kNumDraws = 20000;

std::vector<float> softmax(std::span<const float> logits, float temperature) {
  std::vector<float> probs(logits.size());
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) sum += probs[i] = std::exp((logits[i] - max) / temperature);
  for (float& p : probs) p = static_cast<float>(p / sum);
  return probs;
}

// The target distribution as a dense vector.
std::vector<double> dense(std::span<const std::pair<float, int32_t>> target, size_t vocab) {
  std::vector<double> p(vocab, 0.0);
  for (const auto& [prob, id] : target) p[static_cast<size_t>(id)] = prob;
  return p;
}

double total_variation(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0.0;
  for (size_t i = 0; i < a.size(); ++i) sum += std::abs(a[i] - b[i]);
  return sum / 2;
}

// NOTE: the threshold. With N draws the empirical frequency of a token of probability p has mean
// absolute error sqrt(2 p (1 - p) / (pi N)) (normal approximation), so an exact sampler's TV has
// mean E = 1/2 sum_i of that; TV is a sum of many nearly independent terms, so its spread is far
// below its mean. Twice E fails an exact sampler essentially never and, as checked below, passes
// a sampler that is off by even a few percent of mass nowhere near.
double tv_threshold(const std::vector<double>& p) {
  double expected = 0.0;
  for (double pi : p) expected += std::sqrt(2.0 * pi * (1.0 - pi) / (std::numbers::pi * kNumDraws));
  return 2.0 * expected / 2.0;
}

SamplingParams all_params_on(uint64_t seed) {
  SamplingParams params;
  params.temperature = 0.9f;
  params.top_k = 60;
  params.top_p = 0.97f;
  params.min_p = 0.01f;
  params.repetition_penalty = 1.2f;
  params.presence_penalty = 0.3f;
  params.frequency_penalty = 0.2f;
  params.seed = seed;
  return params;
}

class RejectionSamplerDistribution : public ::testing::TestWithParam<int> {};

TEST_P(RejectionSamplerDistribution, MatchesTheTargetForADraftOfAnotherDistribution) {
  const testing::GoldenFile golden = testing::load_golden("stories260K-f32");
  const testing::GoldenCase& c = golden.cases[static_cast<size_t>(GetParam())];
  const std::span<const float> logits = c.first_step_logits;
  const std::vector<int32_t> history = c.prompt_ids;  // the prompt, then two "generated" tokens
  std::vector<int32_t> full_history = history;
  full_history.push_back(c.generated_ids[0]);
  full_history.push_back(c.generated_ids[1]);
  const auto num_prompt = static_cast<int32_t>(history.size());

  Sampler reference(all_params_on(1), num_prompt);
  const std::vector<double> p = dense(reference.distribution(logits, full_history), logits.size());
  const std::vector<float> q = softmax(logits, 1.6f);  // a flatter draft: differs from p
  std::vector<double> q_dense(q.begin(), q.end());
  const double threshold = tv_threshold(p);
  ASSERT_GT(total_variation(q_dense, p), 4 * threshold) << "the draft must differ from the target";

  std::vector<double> sampled(logits.size(), 0.0), deterministic(logits.size(), 0.0);
  std::discrete_distribution<int32_t> draft(q.begin(), q.end());
  std::mt19937_64 draft_rng(7);
  // A deterministic draft that is usually wrong: the target's second most likely token.
  const auto sorted = reference.distribution(logits, full_history);
  std::vector<std::pair<float, int32_t>> by_prob(sorted.begin(), sorted.end());
  std::sort(by_prob.begin(), by_prob.end(), std::greater<>());
  const int32_t second = by_prob[1].second;
  Sampler sampler(all_params_on(42), num_prompt);
  int num_accepted = 0;
  for (int n = 0; n < kNumDraws; ++n) {
    const int32_t x = draft(draft_rng);
    const DraftVerdict verdict = verify_draft_token(sampler.distribution(logits, full_history), x, q, sampler.rng());
    sampled[static_cast<size_t>(verdict.token_id)] += 1.0 / kNumDraws;
    num_accepted += verdict.accepted;
    const DraftVerdict fixed = verify_draft_token(sampler.distribution(logits, full_history), second, {}, sampler.rng());
    deterministic[static_cast<size_t>(fixed.token_id)] += 1.0 / kNumDraws;
  }
  EXPECT_LT(total_variation(sampled, p), threshold) << "accepted " << num_accepted;
  EXPECT_LT(total_variation(deterministic, p), threshold);
  EXPECT_GT(num_accepted, 0);
  EXPECT_LT(num_accepted, kNumDraws);
}

INSTANTIATE_TEST_SUITE_P(GoldenPrompts, RejectionSamplerDistribution, ::testing::Values(0, 1, 2));

TEST(RejectionSampler, GreedyAcceptsExactlyTheArgmax) {
  const std::vector<float> logits = {0.1f, 2.0f, 1.9f, -1.0f};
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  Sampler sampler(greedy);
  for (int32_t draft = 0; draft < 4; ++draft) {
    const DraftVerdict verdict = verify_draft_token(sampler.distribution(logits, {}), draft, {}, sampler.rng());
    EXPECT_EQ(verdict.accepted, draft == 1);
    EXPECT_EQ(verdict.token_id, 1);
  }
}

}  // namespace
}  // namespace tessera
