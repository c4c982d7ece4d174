// ServeMetrics: the server's Prometheus metrics, with vLLM's names under the `tessera:` prefix.
// Counters and histograms are recorded by the request threads and the engine loop's output
// callback (thread-safe); engine gauges are read from EngineStats when /metrics is rendered.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "tessera/engine.h"

namespace tessera::serve {

// A histogram's state: per-bucket counts (not cumulative), counts[i] for values <= upper_bounds[i]
// and above upper_bounds[i - 1]; the last count is above every bound (+Inf).
struct HistogramSnapshot {
  std::vector<double> upper_bounds;
  std::vector<int64_t> counts;  // [upper_bounds.size() + 1]
  double sum = 0.0;
  int64_t count = 0;
};

// A Prometheus histogram: cumulative bucket counts are computed when rendered.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  HistogramSnapshot snapshot() const { return {upper_bounds_, counts_, sum_, count_}; }
  // Appends the _bucket/_sum/_count lines of `name` with `labels` (e.g. model_name="x").
  void render(const std::string& name, const std::string& labels, std::string& out) const;

 private:
  std::vector<double> upper_bounds_;  // ascending, +Inf implied
  std::vector<int64_t> counts_;       // [upper_bounds_.size() + 1] observations per bucket (not cumulative)
  double sum_ = 0.0;
  int64_t count_ = 0;
};

class ServeMetrics {
 public:
  explicit ServeMetrics(std::string model_name);

  void add_prompt_tokens(int64_t num_tokens);
  void add_generation_tokens(int64_t num_tokens);
  void record_finished(const char* finished_reason);  // stop | length | abort
  void observe_time_to_first_token(double seconds);
  void observe_inter_token_latency(double seconds);
  void observe_e2e_latency(double seconds);
  void observe_queue_time(double seconds);

  // The whole exposition: engine gauges/counters from `stats`, the rest recorded here.
  std::string render(const EngineStats& stats) const;

  // The latency histograms now (seconds), for GET /v1/engine/stats.
  struct Latencies {
    HistogramSnapshot time_to_first_token, inter_token_latency, e2e_latency, queue_time;
  };
  Latencies latencies() const;

 private:
  std::string labels_;  // model_name="..."
  mutable std::mutex mutex_;
  int64_t prompt_tokens_ = 0;
  int64_t generation_tokens_ = 0;
  std::map<std::string, int64_t> finished_;  // finished_reason -> completions
  Histogram time_to_first_token_;
  Histogram inter_token_latency_;
  Histogram e2e_latency_;
  Histogram queue_time_;
};

}  // namespace tessera::serve
