// Aggregate serving metrics over all requests of a run, as vLLM's benchmark_serving defines them:
//   TTFT  send -> first streamed chunk;  E2E  send -> last chunk;
//   TPOT  (E2E - TTFT) / (output_tokens - 1), per request with more than one output token;
//   ITL   every gap between successive chunks of every request;
//   throughputs over the wall time from the first send to the last completion.
// Failed requests count in `failed` and nowhere else.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "serve_bench/latency_stats.h"
#include "serve_bench/request_result.h"

namespace tessera::serve_bench {

struct BenchmarkMetrics {
  int64_t completed = 0;            // successful requests
  int64_t failed = 0;               // failed requests
  int64_t total_input_tokens = 0;   // prompt tokens of the successful requests
  int64_t total_output_tokens = 0;  // output tokens of the successful requests
  double duration_s = 0.0;          // first send -> last completion
  double request_throughput = 0.0;      // completed / duration_s, requests/s
  double output_throughput = 0.0;       // total_output_tokens / duration_s, tokens/s
  double total_token_throughput = 0.0;  // (input + output tokens) / duration_s, tokens/s
  LatencySummary ttft_ms;  // time to first token
  LatencySummary tpot_ms;  // time per output token, excluding the first
  LatencySummary itl_ms;   // inter-token latency
  LatencySummary e2el_ms;  // end-to-end request latency
};

BenchmarkMetrics compute_metrics(std::span<const RequestResult> results, double duration_s);

}  // namespace tessera::serve_bench
