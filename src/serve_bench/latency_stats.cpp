#include "serve_bench/latency_stats.h"

#include <algorithm>
#include <cmath>

namespace tessera::serve_bench {
namespace {

// Percentile of already sorted samples.
double sorted_percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(sorted.size() - 1);
  const size_t lower = static_cast<size_t>(std::floor(rank));
  const size_t upper = std::min(lower + 1, sorted.size() - 1);
  const double fraction = rank - static_cast<double>(lower);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction;
}

}  // namespace

double percentile(std::span<const double> samples, double p) {
  std::vector<double> sorted(samples.begin(), samples.end());
  std::sort(sorted.begin(), sorted.end());
  return sorted_percentile(sorted, p);
}

LatencySummary summarize(std::span<const double> samples) {
  LatencySummary summary;
  if (samples.empty()) return summary;
  std::vector<double> sorted(samples.begin(), samples.end());
  std::sort(sorted.begin(), sorted.end());
  double sum = 0.0;
  for (double x : sorted) sum += x;
  const double n = static_cast<double>(sorted.size());
  summary.mean = sum / n;
  double squares = 0.0;
  for (double x : sorted) squares += (x - summary.mean) * (x - summary.mean);
  summary.std = std::sqrt(squares / n);
  summary.median = sorted_percentile(sorted, 50.0);
  summary.p90 = sorted_percentile(sorted, 90.0);
  summary.p99 = sorted_percentile(sorted, 99.0);
  return summary;
}

}  // namespace tessera::serve_bench
