#include "serve_bench/bench_report.h"

#include <cmath>
#include <cstdio>
#include <map>

namespace tessera::serve_bench {
namespace {

struct NamedSummary {
  const char* key;    // vLLM's metric key: ttft, tpot, itl, e2el
  const char* title;  // heading in the text report
  const LatencySummary* summary;
};

std::vector<NamedSummary> named_summaries(const BenchmarkMetrics& m) {
  return {{"ttft", "Time to First Token", &m.ttft_ms},
          {"tpot", "Time per Output Token (excl. 1st token)", &m.tpot_ms},
          {"itl", "Inter-token Latency", &m.itl_ms},
          {"e2el", "End-to-end Latency", &m.e2el_ms}};
}

std::string rate_text(double rate) {
  if (std::isinf(rate)) return "inf";
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", rate);
  return buffer;
}

std::string line(const char* label, const std::string& value) {
  char buffer[160];
  std::snprintf(buffer, sizeof(buffer), "%-40s %s\n", label, value.c_str());
  return buffer;
}

std::string line(const char* label, double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  return line(label, std::string(buffer));
}

std::string heading(const std::string& title, char fill) {
  const size_t width = 50;
  const size_t pad = title.size() + 2 >= width ? 0 : (width - title.size()) / 2;
  std::string text(pad, fill);
  text += title;
  text.append(width > text.size() ? width - text.size() : 0, fill);
  return text + "\n";
}

// The most frequent failure messages, "N x message" per line.
std::string error_lines(const BenchmarkRun& run) {
  std::map<std::string, int> counts;
  for (const RequestResult& r : run.results) {
    if (!r.success) ++counts[r.error.substr(0, 200)];
  }
  std::string text;
  for (const auto& [message, count] : counts) text += "  " + std::to_string(count) + " x " + message + "\n";
  return text;
}

}  // namespace

nlohmann::json report_json(const ServeBenchConfig& config, const BenchmarkRun& run) {
  const BenchmarkMetrics& m = run.metrics;
  nlohmann::json out;
  out["backend"] = "openai";
  out["base_url"] = config.base_url;
  out["endpoint"] = config.endpoint;
  out["model_id"] = run.model;
  out["num_prompts"] = config.num_prompts;
  out["request_rate"] = std::isinf(config.request_rate) ? nlohmann::json("inf") : nlohmann::json(config.request_rate);
  out["max_concurrency"] = config.max_concurrency > 0 ? nlohmann::json(config.max_concurrency) : nlohmann::json();
  out["input_len"] = config.input_len;
  out["output_len"] = config.output_len;
  out["seed"] = config.seed;
  out["duration"] = m.duration_s;
  out["completed"] = m.completed;
  out["failed"] = m.failed;
  out["total_input_tokens"] = m.total_input_tokens;
  out["total_output_tokens"] = m.total_output_tokens;
  out["request_throughput"] = m.request_throughput;
  out["output_throughput"] = m.output_throughput;
  out["total_token_throughput"] = m.total_token_throughput;
  for (const NamedSummary& s : named_summaries(m)) {
    const std::string key = s.key;
    out["mean_" + key + "_ms"] = s.summary->mean;
    out["median_" + key + "_ms"] = s.summary->median;
    out["std_" + key + "_ms"] = s.summary->std;
    out["p90_" + key + "_ms"] = s.summary->p90;
    out["p99_" + key + "_ms"] = s.summary->p99;
  }
  nlohmann::json input_lens = nlohmann::json::array(), output_lens = nlohmann::json::array();
  nlohmann::json ttfts = nlohmann::json::array(), itls = nlohmann::json::array(), errors = nlohmann::json::array();
  for (const RequestResult& r : run.results) {
    input_lens.push_back(r.prompt_tokens);
    output_lens.push_back(r.success ? r.output_tokens : 0);
    ttfts.push_back(r.ttft_s);
    itls.push_back(r.itl_s);
    errors.push_back(r.error);
  }
  out["input_lens"] = std::move(input_lens);
  out["output_lens"] = std::move(output_lens);
  out["ttfts"] = std::move(ttfts);
  out["itls"] = std::move(itls);
  out["errors"] = std::move(errors);
  return out;
}

std::string report_text(const ServeBenchConfig& config, const BenchmarkRun& run) {
  const BenchmarkMetrics& m = run.metrics;
  std::string text = heading(" Serving Benchmark Result ", '=');
  text += line("Successful requests:", static_cast<double>(m.completed), 0);
  text += line("Failed requests:", static_cast<double>(m.failed), 0);
  text += line("Request rate (req/s):", rate_text(config.request_rate));
  if (config.max_concurrency > 0) text += line("Maximum request concurrency:", config.max_concurrency, 0);
  text += line("Benchmark duration (s):", m.duration_s, 2);
  text += line("Total input tokens:", static_cast<double>(m.total_input_tokens), 0);
  text += line("Total generated tokens:", static_cast<double>(m.total_output_tokens), 0);
  text += line("Request throughput (req/s):", m.request_throughput, 2);
  text += line("Output token throughput (tok/s):", m.output_throughput, 2);
  text += line("Total Token throughput (tok/s):", m.total_token_throughput, 2);
  for (const NamedSummary& s : named_summaries(m)) {
    text += heading(s.title, '-');
    const std::string upper = s.key == std::string("e2el") ? "E2EL" : [&] {
      std::string u = s.key;
      for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return u;
    }();
    text += line(("Mean " + upper + " (ms):").c_str(), s.summary->mean, 2);
    text += line(("Median " + upper + " (ms):").c_str(), s.summary->median, 2);
    text += line(("P90 " + upper + " (ms):").c_str(), s.summary->p90, 2);
    text += line(("P99 " + upper + " (ms):").c_str(), s.summary->p99, 2);
  }
  text += std::string(50, '=') + "\n";
  if (m.failed > 0) text += "Failures:\n" + error_lines(run);
  return text;
}

std::string report_markdown(const ServeBenchConfig& config, const BenchmarkRun& run) {
  const BenchmarkMetrics& m = run.metrics;
  char buffer[512];
  std::snprintf(buffer, sizeof(buffer),
                "| rate (req/s) | completed | failed | duration (s) | req/s | output tok/s | total tok/s |\n"
                "|---|---|---|---|---|---|---|\n"
                "| %s | %lld | %lld | %.2f | %.2f | %.1f | %.1f |\n\n",
                rate_text(config.request_rate).c_str(), static_cast<long long>(m.completed),
                static_cast<long long>(m.failed), m.duration_s, m.request_throughput, m.output_throughput,
                m.total_token_throughput);
  std::string text = buffer;
  text += "| metric (ms) | mean | median | p90 | p99 |\n|---|---|---|---|---|\n";
  for (const NamedSummary& s : named_summaries(m)) {
    std::snprintf(buffer, sizeof(buffer), "| %s | %.2f | %.2f | %.2f | %.2f |\n", s.key, s.summary->mean,
                  s.summary->median, s.summary->p90, s.summary->p99);
    text += buffer;
  }
  if (m.failed > 0) text += "\nFailures:\n" + error_lines(run);
  return text;
}

}  // namespace tessera::serve_bench
