// Sampler: llama.cpp's default chain, in its order:
//   repetition penalty -> (greedy | top-k -> top-p -> min-p -> temperature -> softmax -> draw).
// Every stage works in place on `candidates_`, shrinking a prefix [0, num_kept) of it, so a call
// allocates nothing once the scratch has grown to the vocabulary size.
#include "sampling/sampler.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "base/check.h"

namespace tessera {
namespace {

using Candidate = std::pair<float, int32_t>;  // (logit, later probability; token id)

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr uint64_t kRandomSeed = 0xFFFFFFFFu;
// Top-p over an unsorted vocabulary: logits within 32 of the maximum fall into buckets 1/32
// wide; everything lower (probability ratio < e^-32) shares the last bucket.
constexpr size_t kNumBuckets = 1024;
constexpr float kBucketsPerLogit = 32.0f;
// Below this many candidates a selection just sorts what is left.
constexpr size_t kSortBelow = 64;

// Highest logit first; ties go to the lower id so results never depend on sort stability.
bool higher_logit(const Candidate& a, const Candidate& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

uint64_t seed_or_random(uint64_t seed) {
  if (seed != kRandomSeed) return seed;
  std::random_device device;  // 32 bits a call
  return (static_cast<uint64_t>(device()) << 32) | device();
}


float max_logit(std::span<const Candidate> kept, bool sorted) {
  if (sorted) return kept.front().first;
  float max = kNegInf;
  for (const Candidate& c : kept) max = std::max(max, c.first);
  return max;
}

// llama.cpp's rule, once per distinct id among the last `last_n` ids of `history`.
// `candidates` is still indexed by id here. An id is marked as done by storing its complement
// (negative) in place of itself, then unmarked in a second pass: no set, no allocation.
void apply_repetition_penalty(std::vector<Candidate>& candidates, std::span<const int32_t> history,
                              float penalty, int32_t last_n) {
  if (penalty == 1.0f || last_n == 0 || history.empty()) return;
  const size_t window = last_n < 0 ? history.size() : std::min(history.size(), size_t(last_n));
  const std::span<const int32_t> recent = history.last(window);
  const auto vocab_size = static_cast<int32_t>(candidates.size());
  // Ids outside the logits row (e.g. a tokenizer with more tokens than the output layer) have
  // no logit to penalise; they are skipped rather than treated as a broken invariant.
  for (int32_t id : recent) {
    if (id < 0 || id >= vocab_size) continue;
    Candidate& c = candidates[size_t(id)];
    if (c.second < 0) continue;  // already penalised
    c.first = c.first > 0.0f ? c.first / penalty : c.first * penalty;
    c.second = ~c.second;
  }
  for (int32_t id : recent) {
    if (id < 0 || id >= vocab_size) continue;
    Candidate& c = candidates[size_t(id)];
    if (c.second < 0) c.second = ~c.second;
  }
}

// OpenAI's additive penalties over the generated part of the history. `counts` is all zeros on
// entry and on exit ([vocab] scratch); `candidates` is still indexed by id.
void apply_presence_frequency_penalties(std::vector<Candidate>& candidates, std::vector<int32_t>& counts,
                                        std::span<const int32_t> generated, float presence, float frequency) {
  const auto vocab_size = static_cast<int32_t>(candidates.size());
  counts.resize(candidates.size(), 0);
  for (int32_t id : generated) {
    if (id >= 0 && id < vocab_size) ++counts[size_t(id)];
  }
  for (int32_t id : generated) {
    if (id < 0 || id >= vocab_size || counts[size_t(id)] == 0) continue;
    const int32_t count = counts[size_t(id)];
    candidates[size_t(id)].first -= frequency * float(count) + presence;
    counts[size_t(id)] = 0;  // once per distinct id; also restores the all-zero invariant
  }
}

// Highest logit, lowest id on ties. All -inf (or all NaN) gives id 0.
int32_t argmax(std::span<const Candidate> candidates) {
  const Candidate* best = &candidates.front();
  for (const Candidate& c : candidates) {
    if (c.first > best->first) best = &c;
  }
  return best->second;
}

// The same on a raw logits row; NaN never compares greater, so it never wins.
// NOTE: greedy decoding runs this over the whole vocabulary for every token, so it scans chunks
// for their maximum with eight running maxima (`x > m ? x : m` compiles to maxps, whose NaN
// rule is that expression's) and looks for the first id only in a chunk that beats the best so
// far: ~4x faster than the one-branch-per-logit loop at 49k logits.
int32_t argmax(std::span<const float> logits) {
  constexpr size_t kChunk = 512, kWays = 8;
  size_t best_id = 0;
  float best = kNegInf;
  for (size_t base = 0; base < logits.size(); base += kChunk) {
    const size_t end = std::min(logits.size(), base + kChunk);
    float ways[kWays];
    std::fill(ways, ways + kWays, kNegInf);
    size_t id = base;
    for (; id + kWays <= end; id += kWays) {
      for (size_t w = 0; w < kWays; ++w) ways[w] = logits[id + w] > ways[w] ? logits[id + w] : ways[w];
    }
    for (; id < end; ++id) ways[0] = logits[id] > ways[0] ? logits[id] : ways[0];
    float chunk_max = ways[0];
    for (size_t w = 1; w < kWays; ++w) chunk_max = ways[w] > chunk_max ? ways[w] : chunk_max;
    if (!(chunk_max > best)) continue;
    best = chunk_max;
    best_id = static_cast<size_t>(std::find(logits.begin() + base, logits.begin() + end, chunk_max) - logits.begin());
  }
  return static_cast<int32_t>(best_id);
}

// Keeps the k highest logits, sorted. Returns the new number kept.
size_t apply_top_k(std::span<Candidate> kept, int32_t top_k, bool* sorted) {
  if (top_k <= 0 || size_t(top_k) >= kept.size()) return kept.size();
  std::partial_sort(kept.begin(), kept.begin() + top_k, kept.end(), higher_logit);
  *sorted = true;
  return size_t(top_k);
}

double mass(std::span<const Candidate> part, float max) {
  double sum = 0.0;
  for (const Candidate& c : part) sum += std::exp(c.first - max);
  return sum;
}

// Moves the smallest highest-first set whose probability mass reaches `target` to the front
// of `kept` (not in order) and returns its size: a quickselect that halves the range each step
// and keeps the mass of what it has settled on. O(n) expected.
size_t select_heaviest(std::span<Candidate> kept, float max, double target) {
  size_t lo = 0;            // [0, lo) is surely in, with mass `settled`
  size_t hi = kept.size();  // the set lies within [0, hi)
  double settled = 0.0;
  while (hi - lo > kSortBelow) {
    const size_t mid = lo + (hi - lo) / 2;
    std::nth_element(kept.begin() + lo, kept.begin() + mid, kept.begin() + hi, higher_logit);
    const double upper = mass(kept.subspan(lo, mid - lo), max);
    if (settled + upper >= target) {
      hi = mid;
    } else {
      settled += upper;
      lo = mid;
    }
  }
  std::sort(kept.begin() + lo, kept.begin() + hi, higher_logit);
  for (size_t i = lo; i < hi; ++i) {
    settled += std::exp(kept[i].first - max);
    if (settled >= target) return i + 1;
  }
  return hi;  // rounding left the total a hair short of target: keep the whole range
}

size_t logit_bucket(float logit, float max) {
  const float scaled = (max - logit) * kBucketsPerLogit;  // >= 0; +inf for a -inf logit
  return scaled < float(kNumBuckets - 1) ? size_t(scaled) : kNumBuckets - 1;
}

// Keeps the smallest highest-first set whose probability (softmax over `kept`) reaches p;
// at least one token. Leaves `kept` in order if it was.
// NOTE: unsorted input (no top-k) is the costly case: the nucleus of a flat distribution can
// hold thousands of tokens, and sorting or even quickselecting 128K candidates costs
// milliseconds. A histogram of probability mass over logit buckets finds the bucket where the
// cumulative mass crosses p in one pass; only that bucket's tokens are then selected exactly.
size_t apply_top_p(std::span<Candidate> kept, float top_p, bool sorted) {
  if (!(top_p < 1.0f)) return kept.size();  // also disables on NaN
  const float max = max_logit(kept, sorted);
  if (max == kNegInf) return kept.size();  // nothing is possible; draw() copes
  const double clamped_p = std::max(double(top_p), 0.0);

  if (sorted) {  // after top-k: walk the prefix
    const double target = clamped_p * mass(kept, max);
    double cumulative = 0.0;
    for (size_t i = 0; i < kept.size(); ++i) {
      cumulative += std::exp(kept[i].first - max);
      if (cumulative >= target) return i + 1;
    }
    return kept.size();
  }

  std::array<double, kNumBuckets> bucket_mass{};  // 8 KiB on the stack, not the heap
  for (const Candidate& c : kept) bucket_mass[logit_bucket(c.first, max)] += std::exp(c.first - max);
  double total = 0.0;
  for (double m : bucket_mass) total += m;
  const double target = clamped_p * total;
  size_t boundary = 0;  // the bucket in which the cumulative mass reaches target
  double settled = 0.0;
  while (boundary + 1 < kNumBuckets && settled + bucket_mass[boundary] < target) settled += bucket_mass[boundary++];

  auto above_end = std::partition(kept.begin(), kept.end(),
                                  [&](const Candidate& c) { return logit_bucket(c.first, max) < boundary; });
  auto boundary_end = std::partition(above_end, kept.end(),
                                     [&](const Candidate& c) { return logit_bucket(c.first, max) == boundary; });
  const auto num_above = size_t(above_end - kept.begin());
  const std::span<Candidate> in_boundary(above_end, boundary_end);
  return num_above + select_heaviest(in_boundary, max, target - settled);
}

// Drops tokens whose probability is below min_p times the most likely one's, i.e. whose logit
// is below max + log(min_p). The most likely token always stays.
size_t apply_min_p(std::span<Candidate> kept, float min_p, bool sorted) {
  if (!(min_p > 0.0f)) return kept.size();
  const float threshold = max_logit(kept, sorted) + std::log(std::min(min_p, 1.0f));
  if (sorted) {
    size_t num_kept = 1;
    while (num_kept < kept.size() && kept[num_kept].first >= threshold) ++num_kept;
    return num_kept;
  }
  size_t num_kept = 0;  // stable compaction: the draw sees the order earlier stages left
  for (const Candidate& c : kept) {
    if (c.first >= threshold) kept[num_kept++] = c;
  }
  return num_kept;
}

// Softmax of logit / temperature over `kept`, then one draw.
int32_t draw(std::span<Candidate> kept, float temperature, bool sorted, std::mt19937_64& rng) {
  const float max = max_logit(kept, sorted);
  if (max == kNegInf) return kept.front().second;  // nothing possible; stay deterministic
  const float inv_temperature = 1.0f / temperature;
  double sum = 0.0;
  for (Candidate& c : kept) {
    c.first = std::exp((c.first - max) * inv_temperature);
    sum += c.first;
  }
  const double target = uniform_01(rng) * sum;
  double cumulative = 0.0;
  int32_t last_possible = kept.front().second;
  for (const Candidate& c : kept) {
    if (c.first == 0.0f) continue;
    cumulative += c.first;
    last_possible = c.second;
    if (target < cumulative) return c.second;
  }
  return last_possible;  // target rounded up onto the total
}

}  // namespace

double uniform_01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

Sampler::Sampler(const SamplingParams& params, int32_t num_prompt_tokens)
    : params_(params), num_prompt_tokens_(num_prompt_tokens), rng_(seed_or_random(params.seed)) {
  // Requests are validated where they enter the server; a bad penalty here is our bug.
  TS_CHECK(params_.repetition_penalty > 0.0f && std::isfinite(params_.repetition_penalty),
           "repetition_penalty must be positive and finite, got %g", double(params_.repetition_penalty));
  TS_CHECK(std::isfinite(params_.presence_penalty) && std::isfinite(params_.frequency_penalty),
           "presence/frequency penalties must be finite");
}

bool Sampler::fill_penalised_candidates(std::span<const float> logits, std::span<const int32_t> history) {
  TS_CHECK(!logits.empty(), "sample() needs a non-empty logits row");
  TS_CHECK(logits.size() <= size_t(std::numeric_limits<int32_t>::max()), "vocabulary too large");
  const bool greedy = params_.temperature <= 0.0f;
  const size_t num_prompt = std::min(history.size(), size_t(std::max(num_prompt_tokens_, 0)));
  const std::span<const int32_t> generated = history.subspan(num_prompt);
  const bool additive = (params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) && !generated.empty();
  const bool penalised = (params_.repetition_penalty != 1.0f && params_.repetition_last_n != 0 && !history.empty()) ||
                         additive || !params_.logit_bias.empty();
  if (greedy && !penalised) return false;  // nothing to rewrite: skip the copy

  // Grows once to the vocabulary size, then is reused: no allocation in steady state.
  candidates_.resize(logits.size());
  for (size_t id = 0; id < logits.size(); ++id) {
    // NaN would break the sort's ordering and the softmax; it means "impossible".
    const float logit = std::isnan(logits[id]) ? kNegInf : logits[id];
    candidates_[id] = {logit, static_cast<int32_t>(id)};
  }
  for (const auto& [id, bias] : params_.logit_bias) {
    if (id >= 0 && static_cast<size_t>(id) < candidates_.size()) candidates_[static_cast<size_t>(id)].first += bias;
  }
  apply_repetition_penalty(candidates_, history, params_.repetition_penalty, params_.repetition_last_n);
  if (additive) {
    apply_presence_frequency_penalties(candidates_, counts_, generated, params_.presence_penalty,
                                       params_.frequency_penalty);
  }
  return true;
}

std::span<Candidate> Sampler::truncated_candidates(bool* sorted) {
  std::span<Candidate> kept(candidates_);
  *sorted = false;  // true once `kept` is in higher_logit order
  kept = kept.first(apply_top_k(kept, params_.top_k, sorted));
  kept = kept.first(apply_top_p(kept, params_.top_p, *sorted));
  return kept.first(apply_min_p(kept, params_.min_p, *sorted));
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
  if (!fill_penalised_candidates(logits, history)) return argmax(logits);
  if (params_.temperature <= 0.0f) return argmax(std::span<const Candidate>(candidates_));
  bool sorted = false;
  const std::span<Candidate> kept = truncated_candidates(&sorted);
  return draw(kept, params_.temperature, sorted, rng_);
}

std::span<const Candidate> Sampler::distribution(std::span<const float> logits, std::span<const int32_t> history) {
  if (params_.temperature <= 0.0f) {
    const int32_t token = sample(logits, history);
    candidates_.resize(std::max<size_t>(candidates_.size(), 1));
    candidates_[0] = {1.0f, token};
    return std::span<const Candidate>(candidates_).first(1);
  }
  (void)fill_penalised_candidates(logits, history);
  bool sorted = false;
  const std::span<Candidate> kept = truncated_candidates(&sorted);
  const float max = max_logit(kept, sorted);
  if (max == kNegInf) {  // nothing possible: as draw(), stay deterministic on the first
    kept.front().first = 1.0f;
    return kept.first(1);
  }
  const float inv_temperature = 1.0f / params_.temperature;
  double sum = 0.0;
  for (Candidate& c : kept) {
    c.first = std::exp((c.first - max) * inv_temperature);
    sum += c.first;
  }
  for (Candidate& c : kept) c.first = static_cast<float>(c.first / sum);
  return kept;
}

}  // namespace tessera
