#include "serve/serve_metrics.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace tessera::serve {
namespace {

// vLLM's bucket boundaries (vllm/v1/metrics/loggers.py), in seconds.
const std::vector<double> kTtftBuckets = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
                                          1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
const std::vector<double> kItlBuckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5,
                                         0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
const std::vector<double> kRequestBuckets = {0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0,
                                             30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

// Shortest of %.15g..%.17g that reads back exactly: 0.005, not 0.0050000000000000001.
std::string number(double value) {
  char buffer[64];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

// Label values escape backslash, quote and newline (Prometheus text format).
std::string escape_label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void header(std::string& out, const std::string& name, const char* type, const char* help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void sample(std::string& out, const std::string& name, const std::string& labels, double value) {
  out += name + "{" + labels + "} " + number(value) + "\n";
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), counts_(upper_bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const auto bucket = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin();
  ++counts_[size_t(bucket)];
  sum_ += value;
  ++count_;
}

void Histogram::render(const std::string& name, const std::string& labels, std::string& out) const {
  int64_t cumulative = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < upper_bounds_.size() ? number(upper_bounds_[i]) : "+Inf";
    out += name + "_bucket{" + labels + ",le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_sum{" + labels + "} " + number(sum_) + "\n";
  out += name + "_count{" + labels + "} " + std::to_string(count_) + "\n";
}

ServeMetrics::ServeMetrics(std::string model_name)
    : labels_("model_name=\"" + escape_label(model_name) + "\""),
      time_to_first_token_(kTtftBuckets),
      inter_token_latency_(kItlBuckets),
      e2e_latency_(kRequestBuckets),
      queue_time_(kRequestBuckets) {
  for (const char* reason : {"stop", "length", "abort", "timeout"}) finished_[reason] = 0;
}

void ServeMetrics::add_prompt_tokens(int64_t n) { std::lock_guard<std::mutex> lock(mutex_); prompt_tokens_ += n; }
void ServeMetrics::add_generation_tokens(int64_t n) { std::lock_guard<std::mutex> lock(mutex_); generation_tokens_ += n; }
void ServeMetrics::record_finished(const char* reason) { std::lock_guard<std::mutex> lock(mutex_); ++finished_[reason]; }
void ServeMetrics::observe_time_to_first_token(double s) { std::lock_guard<std::mutex> lock(mutex_); time_to_first_token_.observe(s); }
void ServeMetrics::observe_inter_token_latency(double s) { std::lock_guard<std::mutex> lock(mutex_); inter_token_latency_.observe(s); }
void ServeMetrics::observe_e2e_latency(double s) { std::lock_guard<std::mutex> lock(mutex_); e2e_latency_.observe(s); }
void ServeMetrics::observe_queue_time(double s) { std::lock_guard<std::mutex> lock(mutex_); queue_time_.observe(s); }

ServeMetrics::Latencies ServeMetrics::latencies() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {time_to_first_token_.snapshot(), inter_token_latency_.snapshot(), e2e_latency_.snapshot(), queue_time_.snapshot()};
}

std::string ServeMetrics::render(const EngineStats& stats) const {
  std::string out;
  const std::string& l = labels_;
  auto gauge = [&](const char* name, const char* help, double value) {
    header(out, std::string("tessera:") + name, "gauge", help);
    sample(out, std::string("tessera:") + name, l, value);
  };
  auto counter = [&](const char* name, const char* help, double value) {
    header(out, std::string("tessera:") + name, "counter", help);
    sample(out, std::string("tessera:") + name, l, value);
  };
  const int32_t usable_blocks = std::max(stats.num_kv_blocks - 1, 1);  // the null block is never handed out
  const int32_t blocks_in_use = std::max(stats.num_kv_blocks - 1 - stats.num_free_kv_blocks, 0);
  gauge("num_requests_running", "Requests (completions) in the running batch.", stats.num_running_requests);
  gauge("num_requests_waiting", "Requests (completions) waiting to be scheduled.", stats.num_waiting_requests);
  gauge("kv_cache_usage_perc", "KV-cache usage: 1 means 100 percent of the blocks are referenced.",
        double(blocks_in_use) / double(usable_blocks));
  gauge("kv_cache_blocks_in_use", "KV-cache blocks referenced by requests.", blocks_in_use);
  counter("num_preemptions_total", "Preemptions since start.", double(stats.num_preemptions));
  counter("prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.", double(stats.prefix_cache_queries));
  counter("prefix_cache_hits_total", "Prompt tokens found in the prefix cache.", double(stats.prefix_cache_hits));
  // Speculative decoding, vLLM's names (absent until a draft was verified, as vLLM omits them
  // when speculation is off).
  if (stats.spec_num_drafts > 0) {
    counter("spec_decode_num_drafts_total", "Verification runs of draft tokens.", double(stats.spec_num_drafts));
    counter("spec_decode_num_draft_tokens_total", "Draft tokens verified.", double(stats.spec_num_draft_tokens));
    counter("spec_decode_num_accepted_tokens_total", "Draft tokens accepted.", double(stats.spec_num_accepted_tokens));
    const std::string per_pos = "tessera:spec_decode_num_accepted_tokens_per_pos";
    header(out, per_pos, "counter", "Draft tokens accepted, by position in the draft (0 = first).");
    for (size_t pos = 0; pos < stats.spec_num_accepted_tokens_per_pos.size(); ++pos) {
      sample(out, per_pos, l + ",position=\"" + std::to_string(pos) + "\"",
             double(stats.spec_num_accepted_tokens_per_pos[pos]));
    }
  }

  std::lock_guard<std::mutex> lock(mutex_);
  counter("prompt_tokens_total", "Prefill tokens processed.", double(prompt_tokens_));
  counter("generation_tokens_total", "Generation tokens processed.", double(generation_tokens_));
  header(out, "tessera:request_success_total", "counter", "Finished completions, by finish reason.");
  for (const auto& [reason, count] : finished_) {
    sample(out, "tessera:request_success_total", l + ",finished_reason=\"" + escape_label(reason) + "\"", double(count));
  }
  const struct {
    const char* name;
    const char* help;
    const Histogram& histogram;
  } histograms[] = {
      {"tessera:time_to_first_token_seconds", "Time to first token in seconds.", time_to_first_token_},
      {"tessera:inter_token_latency_seconds", "Time between consecutive tokens in seconds.", inter_token_latency_},
      {"tessera:e2e_request_latency_seconds", "End-to-end request latency in seconds.", e2e_latency_},
      {"tessera:request_queue_time_seconds", "Time from arrival to the first engine output, minus that step.", queue_time_},
  };
  for (const auto& h : histograms) {
    header(out, h.name, "histogram", h.help);
    h.histogram.render(h.name, l, out);
  }
  return out;
}

}  // namespace tessera::serve
