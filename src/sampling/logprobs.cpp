#include "sampling/logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "base/check.h"

namespace tessera {

SampledLogprobs compute_logprobs(std::span<const float> logits, int32_t sampled_id, int32_t top_k) {
  TS_CHECK(sampled_id >= 0 && size_t(sampled_id) < logits.size(), "sampled id %d outside the logits row", sampled_id);
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  auto clean = [](float x) { return std::isnan(x) ? -std::numeric_limits<float>::infinity() : x; };
  float max = kNegInf;
  for (float x : logits) max = std::max(max, clean(x));
  double sum = 0.0;
  if (max != kNegInf) {
    for (float x : logits) sum += std::exp(double(clean(x)) - double(max));
  }
  // log softmax(x)_i = x_i - max - log(sum exp(x - max)); all -inf leaves every entry -inf.
  const double log_norm = max == kNegInf ? 0.0 : double(max) + std::log(sum);
  auto logprob_of = [&](int32_t id) { return float(double(clean(logits[size_t(id)])) - log_norm); };

  SampledLogprobs out;
  out.sampled = {sampled_id, logprob_of(sampled_id)};
  const size_t k = std::min(size_t(std::max(top_k, 0)), logits.size());
  if (k == 0) return out;
  std::vector<int32_t> ids(logits.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t(i);
  std::partial_sort(ids.begin(), ids.begin() + std::ptrdiff_t(k), ids.end(), [&](int32_t a, int32_t b) {
    const float la = clean(logits[size_t(a)]), lb = clean(logits[size_t(b)]);
    return la > lb || (la == lb && a < b);
  });
  out.top.reserve(k);
  for (size_t i = 0; i < k; ++i) out.top.push_back({ids[i], logprob_of(ids[i])});
  return out;
}

}  // namespace tessera
