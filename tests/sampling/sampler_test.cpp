// Sampler: each stage of the chain on hand-built logits whose probabilities are known exactly.
#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

namespace tessera {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Every filter off: plain softmax sampling at temperature 1.
SamplingParams plain_params(uint64_t seed = 1234) {
  SamplingParams params;
  params.temperature = 1.0f;
  params.top_k = 0;
  params.top_p = 1.0f;
  params.min_p = 0.0f;
  params.repetition_penalty = 1.0f;
  params.seed = seed;
  return params;
}

SamplingParams greedy_params() {
  SamplingParams params = plain_params();
  params.temperature = 0.0f;
  return params;
}

// Logits whose softmax is exactly `probs` (up to float rounding).
std::vector<float> logits_from_probs(const std::vector<double>& probs) {
  std::vector<float> logits;
  for (double p : probs) logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

std::vector<double> softmax(std::span<const float> logits, double temperature) {
  double max = logits[0];
  for (float l : logits) max = std::max(max, double(l));
  std::vector<double> probs;
  double sum = 0.0;
  for (float l : logits) sum += probs.emplace_back(std::exp((l - max) / temperature));
  for (double& p : probs) p /= sum;
  return probs;
}

std::vector<double> frequencies(Sampler& sampler, std::span<const float> logits, int num_draws,
                                std::span<const int32_t> history = {}) {
  std::vector<double> counts(logits.size(), 0.0);
  for (int i = 0; i < num_draws; ++i) counts[size_t(sampler.sample(logits, history))] += 1.0;
  for (double& c : counts) c /= num_draws;
  return counts;
}

TEST(Sampler, GreedyPicksArgmaxAndIgnoresTemperature) {
  const std::vector<float> logits = {0.1f, 2.5f, -1.0f, 2.4f, 0.0f};
  for (float temperature : {0.0f, -1.0f}) {
    SamplingParams params = greedy_params();
    params.temperature = temperature;
    params.top_k = 2;  // filters cannot change the argmax
    Sampler sampler(params);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(sampler.sample(logits, {}), 1);
  }
}

// OpenAI's logit_bias: added to the raw logits, so +100 all but forces a token and -100 bans one,
// greedy or sampled; ids outside the vocabulary are ignored (the engine rejects them first).
TEST(Sampler, LogitBiasForcesAndBansTokens) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 0.5f};
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  greedy.logit_bias = {{3, 100.0f}, {99, 5.0f}};
  EXPECT_EQ(Sampler(greedy).sample(logits, {}), 3);
  greedy.logit_bias = {{1, -100.0f}};
  EXPECT_EQ(Sampler(greedy).sample(logits, {}), 2);
  SamplingParams sampled;
  sampled.temperature = 1.0f;
  sampled.top_k = 0;
  sampled.top_p = 1.0f;
  sampled.min_p = 0.0f;
  sampled.seed = 7;
  sampled.logit_bias = {{1, -100.0f}};
  Sampler sampler(sampled);
  for (int i = 0; i < 200; ++i) EXPECT_NE(sampler.sample(logits, {}), 1);
}

TEST(Sampler, GreedyBreaksTiesTowardsLowestId) {
  Sampler sampler(greedy_params());
  EXPECT_EQ(sampler.sample(std::vector<float>{1.0f, 3.0f, 3.0f, 3.0f}, {}), 1);
}

// The chunked argmax against a plain scan over vocabularies of many sizes (chunk and lane tails),
// with ties planted in different chunks, NaNs sprinkled in and the maximum at either end.
TEST(Sampler, GreedyOverLargeVocabulariesMatchesAPlainScan) {
  auto plain_argmax = [](const std::vector<float>& logits) {
    int32_t best = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
      if (logits[i] > logits[size_t(best)] || std::isnan(logits[size_t(best)])) best = int32_t(i);
    }
    return std::isnan(logits[size_t(best)]) ? 0 : best;
  };
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  Sampler sampler(greedy_params());
  for (size_t size : {1, 7, 8, 9, 511, 512, 513, 1030, 4096, 49152, 50257}) {
    for (int variant = 0; variant < 6; ++variant) {
      std::vector<float> logits(size);
      for (float& l : logits) l = normal(rng);
      const size_t a = rng() % size, b = rng() % size;
      if (variant == 1) logits[a] = logits[b] = 100.0f;  // a tie, maybe across chunks
      if (variant == 2) logits.back() = 100.0f;
      if (variant == 3) logits.front() = 100.0f;
      if (variant == 4) {
        for (size_t i = 0; i < size; i += 3) logits[i] = kNaN;
      }
      if (variant == 5) std::fill(logits.begin(), logits.end(), -std::numeric_limits<float>::infinity());
      EXPECT_EQ(sampler.sample(logits, {}), plain_argmax(logits)) << "size " << size << " variant " << variant;
    }
  }
}

TEST(Sampler, LeavesLogitsUnmodified) {
  const std::vector<float> logits = {1.0f, 2.0f, 3.0f, 0.5f};
  std::vector<float> copy = logits;
  SamplingParams params = plain_params();
  params.top_k = 3;
  params.top_p = 0.9f;
  params.min_p = 0.1f;
  params.repetition_penalty = 1.3f;
  Sampler sampler(params);
  const std::vector<int32_t> history = {2, 0};
  sampler.sample(copy, history);
  EXPECT_EQ(copy, logits);
}

TEST(Sampler, SameSeedGivesSameSequenceDifferentSeedsDiffer) {
  const std::vector<float> logits = {0.0f, 0.3f, 0.1f, -0.2f, 0.5f, 0.4f, 0.2f, 0.0f};
  auto draws = [&](uint64_t seed) {
    SamplingParams params = plain_params(seed);
    params.top_k = 6;
    params.top_p = 0.95f;
    Sampler sampler(params);
    std::vector<int32_t> ids;
    for (int i = 0; i < 1000; ++i) ids.push_back(sampler.sample(logits, {}));
    return ids;
  };
  EXPECT_EQ(draws(42), draws(42));
  EXPECT_NE(draws(42), draws(43));
}

TEST(Sampler, RandomSeedStillSamplesValidIds) {
  Sampler sampler(plain_params(0xFFFFFFFFu));
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f};
  for (int i = 0; i < 100; ++i) {
    const int32_t id = sampler.sample(logits, {});
    EXPECT_GE(id, 0);
    EXPECT_LT(id, 3);
  }
}

TEST(Sampler, EmpiricalDistributionMatchesSoftmax) {
  const std::vector<float> logits = {1.0f, 0.0f, 2.0f, -1.0f, 0.5f, 1.5f, -3.0f, 0.2f};
  constexpr int kNumDraws = 100000;
  for (float temperature : {1.0f, 0.5f, 2.0f}) {
    SamplingParams params = plain_params(7);
    params.temperature = temperature;
    Sampler sampler(params);
    const std::vector<double> expected = softmax(logits, temperature);
    const std::vector<double> observed = frequencies(sampler, logits, kNumDraws);
    for (size_t id = 0; id < logits.size(); ++id) {
      // Five standard deviations of a binomial proportion, plus a floor for tiny probabilities.
      const double sigma = std::sqrt(expected[id] * (1.0 - expected[id]) / kNumDraws);
      EXPECT_NEAR(observed[id], expected[id], 5.0 * sigma + 1e-4) << "id " << id << " T " << temperature;
    }
  }
}

TEST(Sampler, TopKOneEqualsGreedy) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  SamplingParams params = plain_params(9);
  params.top_k = 1;
  Sampler top1(params);
  Sampler greedy(greedy_params());
  for (int row = 0; row < 200; ++row) {
    std::vector<float> logits(100);
    for (float& l : logits) l = normal(rng);
    EXPECT_EQ(top1.sample(logits, {}), greedy.sample(logits, {}));
  }
}

TEST(Sampler, TopKKeepsOnlyTheKMostLikelyInProportion) {
  const std::vector<float> logits = logits_from_probs({0.1, 0.4, 0.2, 0.3});
  SamplingParams params = plain_params(5);
  params.top_k = 2;
  Sampler sampler(params);
  const std::vector<double> observed = frequencies(sampler, logits, 50000);
  EXPECT_EQ(observed[0], 0.0);
  EXPECT_EQ(observed[2], 0.0);
  EXPECT_NEAR(observed[1], 4.0 / 7.0, 0.01);
  EXPECT_NEAR(observed[3], 3.0 / 7.0, 0.01);
}

TEST(Sampler, TopKLargerThanVocabularyIsTheWholeVocabulary) {
  const std::vector<float> logits = {0.5f, 0.0f, 1.0f};
  SamplingParams params = plain_params(11);
  params.top_k = 1000;
  Sampler sampler(params);
  const std::vector<double> expected = softmax(logits, 1.0);
  const std::vector<double> observed = frequencies(sampler, logits, 50000);
  for (size_t id = 0; id < logits.size(); ++id) EXPECT_NEAR(observed[id], expected[id], 0.01);
}

TEST(Sampler, TopPCutsTheTailExactly) {
  // Sorted probabilities 0.4, 0.3, 0.2, 0.1 (ids 2, 0, 3, 1); cumulative 0.4, 0.7, 0.9, 1.0.
  const std::vector<float> logits = logits_from_probs({0.3, 0.1, 0.4, 0.2});
  struct Case {
    float top_p;
    std::array<bool, 4> kept;  // by id
  };
  const Case cases[] = {
      {0.35f, {false, false, true, false}},  // 0.4 already reaches p
      {0.65f, {true, false, true, false}},   // needs 0.4 + 0.3
      {0.75f, {true, false, true, true}},    // needs 0.4 + 0.3 + 0.2
      {0.95f, {true, true, true, true}},
      {0.0f, {false, false, true, false}},  // at least one token
  };
  for (const Case& c : cases) {
    SamplingParams params = plain_params(13);
    params.top_p = c.top_p;
    Sampler sampler(params);
    const std::vector<double> observed = frequencies(sampler, logits, 40000);
    double kept_mass = 0.0;
    for (size_t id = 0; id < 4; ++id) kept_mass += c.kept[id] ? std::exp(double(logits[id])) : 0.0;
    for (size_t id = 0; id < 4; ++id) {
      if (!c.kept[id]) {
        EXPECT_EQ(observed[id], 0.0) << "p " << c.top_p << " id " << id;
      } else {  // the kept set is renormalised
        EXPECT_NEAR(observed[id], std::exp(double(logits[id])) / kept_mass, 0.01) << "p " << c.top_p << " id " << id;
      }
    }
  }
}

// The top-k then top-p survivors by definition: sort everything, cut at k, walk the prefix.
std::vector<bool> reference_kept(std::span<const float> logits, int32_t top_k, double top_p) {
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  auto logit = [&](int32_t id) { return std::isnan(logits[size_t(id)]) ? -INFINITY : logits[size_t(id)]; };
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logit(a) > logit(b) || (logit(a) == logit(b) && a < b); });
  if (top_k > 0 && size_t(top_k) < order.size()) order.resize(size_t(top_k));
  const double max = logit(order[0]);
  double sum = 0.0;
  for (int32_t id : order) sum += std::exp(logit(id) - max);
  std::vector<bool> kept(logits.size(), false);
  double cumulative = 0.0;
  for (int32_t id : order) {
    kept[size_t(id)] = true;
    cumulative += std::exp(logit(id) - max);
    if (cumulative >= top_p * sum) break;
  }
  return kept;
}

// Which ids a sampler ever draws. At a huge temperature (applied after the filters) the draw is
// near uniform over the survivors, so with ~25 draws per survivor each one shows up (a miss: ~e^-25).
std::vector<bool> observed_kept(SamplingParams params, std::span<const float> logits, int num_draws) {
  params.temperature = 1e4f;
  Sampler sampler(params);
  std::vector<bool> seen(logits.size(), false);
  for (int i = 0; i < num_draws; ++i) seen[size_t(sampler.sample(logits, {}))] = true;
  return seen;
}

TEST(Sampler, TopPOverALargeUnsortedVocabularyMatchesTheDefinition) {
  constexpr size_t kVocabSize = 600;
  std::mt19937 rng(31);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<std::vector<float>> rows;
  rows.emplace_back(kVocabSize, 0.0f);  // flat: one histogram bucket holds everything, ties by id
  std::vector<float>& spread = rows.emplace_back(kVocabSize);
  for (float& l : spread) l = normal(rng);
  std::vector<float>& coarse = rows.emplace_back(kVocabSize);  // few distinct values, many ties
  for (float& l : coarse) l = std::round(normal(rng) * 0.5f);
  coarse[5] = kNaN;
  coarse[6] = -INFINITY;
  std::vector<float>& clustered = rows.emplace_back(kVocabSize);  // wide and narrow gaps
  for (size_t id = 0; id < kVocabSize; ++id) clustered[id] = id % 3 == 0 ? 8.0f + 0.001f * float(id) : -40.0f + normal(rng);

  for (size_t row = 0; row < rows.size(); ++row) {
    for (int32_t top_k : {0, 450}) {  // unsorted (histogram) and sorted (after top-k) paths
      for (float top_p : {0.02f, 0.3f, 0.5f, 0.9f, 0.999f}) {
        SamplingParams params = plain_params(37);
        params.top_k = top_k;
        params.top_p = top_p;
        const std::vector<bool> expected = reference_kept(rows[row], top_k, top_p);
        const auto num_expected = std::count(expected.begin(), expected.end(), true);
        const std::vector<bool> observed = observed_kept(params, rows[row], int(25 * num_expected + 200));
        EXPECT_EQ(observed, expected) << "row " << row << " top_k " << top_k << " top_p " << top_p
                                      << " expected " << num_expected << " kept";
      }
    }
  }
}

TEST(Sampler, TopPOfZeroKeepsOnlyTheMostLikely) {
  std::vector<float> logits(300, 1.0f);
  logits[123] = 1.5f;
  SamplingParams params = plain_params(41);
  params.top_p = 0.0f;
  Sampler sampler(params);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(sampler.sample(logits, {}), 123);
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheMostLikely) {
  // max 0.5; min_p 0.25 -> threshold 0.125: keeps 0.5, 0.3, 0.15; drops 0.05.
  const std::vector<float> logits = logits_from_probs({0.15, 0.5, 0.05, 0.3});
  SamplingParams params = plain_params(19);
  params.min_p = 0.25f;
  Sampler sampler(params);
  const std::vector<double> observed = frequencies(sampler, logits, 50000);
  EXPECT_EQ(observed[2], 0.0);
  EXPECT_NEAR(observed[0], 0.15 / 0.95, 0.01);
  EXPECT_NEAR(observed[1], 0.50 / 0.95, 0.01);
  EXPECT_NEAR(observed[3], 0.30 / 0.95, 0.01);

  params.min_p = 0.7f;  // threshold 0.35: only the most likely survives
  Sampler strict(params);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(strict.sample(logits, {}), 1);
}

TEST(Sampler, MinPAfterTopKUsesTheSortedPath) {
  const std::vector<float> logits = logits_from_probs({0.15, 0.5, 0.05, 0.3});
  SamplingParams params = plain_params(23);
  params.top_k = 3;       // drops 0.05
  params.min_p = 0.5f;    // threshold 0.25: drops 0.15 too
  Sampler sampler(params);
  const std::vector<double> observed = frequencies(sampler, logits, 40000);
  EXPECT_EQ(observed[0], 0.0);
  EXPECT_EQ(observed[2], 0.0);
  EXPECT_NEAR(observed[1], 0.5 / 0.8, 0.01);
}

TEST(Sampler, RepetitionPenaltyFlipsTheChoice) {
  SamplingParams params = greedy_params();
  params.repetition_penalty = 1.5f;
  Sampler sampler(params);
  const std::vector<int32_t> history = {0};
  // Positive logit is divided: 2.0 / 1.5 = 1.33 < 1.5.
  EXPECT_EQ(sampler.sample(std::vector<float>{2.0f, 1.5f}, {}), 0);
  EXPECT_EQ(sampler.sample(std::vector<float>{2.0f, 1.5f}, history), 1);
  // Negative logit is multiplied: -1.0 * 1.5 = -1.5 < -1.2.
  EXPECT_EQ(sampler.sample(std::vector<float>{-1.0f, -1.2f}, {}), 0);
  EXPECT_EQ(sampler.sample(std::vector<float>{-1.0f, -1.2f}, history), 1);
}

TEST(Sampler, RepetitionPenaltyAppliesOncePerDistinctId) {
  SamplingParams params = greedy_params();
  params.repetition_penalty = 1.2f;
  Sampler sampler(params);
  // Once: 2.0 / 1.2 = 1.67 > 1.5 keeps id 0. Three times would give 1.16 and pick id 1.
  const std::vector<int32_t> history = {0, 0, 1, 0};
  EXPECT_EQ(sampler.sample(std::vector<float>{2.0f, 1.5f * 1.2f}, history), 0);
  // And the marks are cleared between calls: the same call again gives the same answer.
  EXPECT_EQ(sampler.sample(std::vector<float>{2.0f, 1.5f * 1.2f}, history), 0);
}

TEST(Sampler, RepetitionPenaltyLooksOnlyAtTheLastN) {
  SamplingParams params = greedy_params();
  params.repetition_penalty = 1.5f;
  params.repetition_last_n = 2;
  const std::vector<float> logits = {2.0f, 1.5f, 0.0f};
  const std::vector<int32_t> old_repeat = {0, 2, 2};
  EXPECT_EQ(Sampler(params).sample(logits, old_repeat), 0);  // id 0 is outside the window
  params.repetition_last_n = -1;
  EXPECT_EQ(Sampler(params).sample(logits, old_repeat), 1);  // -1: the whole history
  params.repetition_last_n = 0;
  EXPECT_EQ(Sampler(params).sample(logits, std::vector<int32_t>{0}), 0);  // 0: disabled
}

TEST(Sampler, RepetitionPenaltyIgnoresIdsOutsideTheVocabulary) {
  SamplingParams params = greedy_params();
  params.repetition_penalty = 1.5f;
  Sampler sampler(params);
  const std::vector<int32_t> history = {-3, 7, 0};
  EXPECT_EQ(sampler.sample(std::vector<float>{2.0f, 1.5f}, history), 1);
}

TEST(Sampler, NaNLogitsAreNeverChosen) {
  const std::vector<float> logits = {kNaN, 1.0f, kNaN, 0.5f};
  EXPECT_EQ(Sampler(greedy_params()).sample(logits, {}), 1);
  SamplingParams params = plain_params(29);
  params.top_k = 3;
  params.top_p = 0.99f;
  params.min_p = 0.01f;
  Sampler sampler(params);
  for (int i = 0; i < 1000; ++i) {
    const int32_t id = sampler.sample(logits, {});
    EXPECT_TRUE(id == 1 || id == 3) << id;
  }
}

TEST(Sampler, AllImpossibleLogitsStillReturnAnId) {
  const std::vector<float> logits = {kNaN, -std::numeric_limits<float>::infinity(), kNaN};
  EXPECT_EQ(Sampler(greedy_params()).sample(logits, {}), 0);
  const int32_t id = Sampler(plain_params()).sample(logits, {});
  EXPECT_GE(id, 0);
  EXPECT_LT(id, 3);
}

TEST(SamplerDeathTest, EmptyLogitsStopTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Sampler sampler(plain_params());
  EXPECT_DEATH(sampler.sample(std::span<const float>(), {}), "non-empty logits");
}

}  // namespace
}  // namespace tessera
