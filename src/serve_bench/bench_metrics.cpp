#include "serve_bench/bench_metrics.h"

namespace tessera::serve_bench {
namespace {

LatencySummary summarize_ms(std::vector<double> seconds) {
  for (double& x : seconds) x *= 1000.0;
  return summarize(seconds);
}

}  // namespace

BenchmarkMetrics compute_metrics(std::span<const RequestResult> results, double duration_s) {
  BenchmarkMetrics m;
  std::vector<double> ttfts_s, tpots_s, itls_s, e2els_s;
  for (const RequestResult& r : results) {
    if (!r.success) {
      ++m.failed;
      continue;
    }
    ++m.completed;
    m.total_input_tokens += r.prompt_tokens;
    m.total_output_tokens += r.output_tokens;
    ttfts_s.push_back(r.ttft_s);
    e2els_s.push_back(r.latency_s);
    if (r.output_tokens > 1) tpots_s.push_back((r.latency_s - r.ttft_s) / static_cast<double>(r.output_tokens - 1));
    itls_s.insert(itls_s.end(), r.itl_s.begin(), r.itl_s.end());
  }
  m.duration_s = duration_s;
  if (duration_s > 0.0) {
    m.request_throughput = static_cast<double>(m.completed) / duration_s;
    m.output_throughput = static_cast<double>(m.total_output_tokens) / duration_s;
    m.total_token_throughput = static_cast<double>(m.total_input_tokens + m.total_output_tokens) / duration_s;
  }
  m.ttft_ms = summarize_ms(std::move(ttfts_s));
  m.tpot_ms = summarize_ms(std::move(tpots_s));
  m.itl_ms = summarize_ms(std::move(itls_s));
  m.e2el_ms = summarize_ms(std::move(e2els_s));
  return m;
}

}  // namespace tessera::serve_bench
