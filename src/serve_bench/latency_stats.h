// Summary statistics of latency samples, with numpy's definitions (vLLM's benchmark_serving
// reports np.mean / np.median / np.std / np.percentile): knows nothing about HTTP or requests.
#pragma once

#include <span>
#include <vector>

namespace tessera::serve_bench {

// mean / median / std / p90 / p99 of one metric, in the samples' unit. All zero for no samples
// (vLLM's `np.mean(x or 0)`).
struct LatencySummary {
  double mean = 0.0;
  double median = 0.0;
  double std = 0.0;  // population standard deviation (numpy's default, ddof = 0)
  double p90 = 0.0;
  double p99 = 0.0;
};

// The p-th percentile (0..100) of `samples` with linear interpolation between the closest ranks
// (numpy's default): rank = p/100 * (n - 1). 0 for no samples.
double percentile(std::span<const double> samples, double p);

LatencySummary summarize(std::span<const double> samples);

}  // namespace tessera::serve_bench
