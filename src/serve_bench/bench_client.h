// `tessera bench-serve`'s engine: sends streaming requests to any OpenAI-compatible server on a
// Poisson schedule and measures each one, like vLLM's benchmark_serving with its random dataset.
// Knows HTTP (cpp-httplib) and the OpenAI wire format; knows nothing about Tessera's engine.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "serve_bench/bench_metrics.h"
#include "serve_bench/request_result.h"

namespace tessera::serve_bench {

struct ServeBenchConfig {
  std::string base_url;                      // "http://127.0.0.1:8080"; a path prefix is kept
  std::string endpoint = "/v1/completions";  // or /v1/chat/completions
  std::string model;                         // "" = the first model of GET /v1/models
  std::string api_key;                       // sent as "Authorization: Bearer <key>" if set
  int32_t num_prompts = 100;
  double request_rate = INFINITY;  // requests/s of the Poisson arrivals; INFINITY: all at once
  int32_t max_concurrency = 0;     // requests in flight at most; 0: no limit but kMaxWorkers
  int32_t input_len = 128;         // prompt tokens per request
  int32_t output_len = 64;         // max_tokens per request (ignore_eos, so exactly this many)
  int32_t vocab_size = 1000;       // random prompt ids are drawn from [3, vocab_size)
  uint64_t seed = 0;               // seeds the prompts and the arrival times
  double timeout_s = 600.0;        // per request: connect + wait for each read
};

// Requests in flight at most when --max-concurrency is not given (one thread each).
inline constexpr int32_t kMaxWorkers = 1024;

struct BenchmarkRun {
  std::string model;                   // the model that was asked for
  std::vector<RequestResult> results;  // one per prompt, in prompt order
  BenchmarkMetrics metrics;
};

// Checks ranges and the URL; kInvalidArgument with the flag's name.
Status validate(const ServeBenchConfig& config);

// The scheme://host:port part of a base URL and its path prefix without a trailing '/'.
struct BaseUrl {
  std::string scheme_host_port;  // "http://127.0.0.1:8080"
  std::string path_prefix;       // "" or e.g. "/proxy"
};
Expected<BaseUrl> parse_base_url(std::string_view base_url);

// The request body of one benchmark request: the prompt as token ids (completions) or as a user
// message (chat), max_tokens, temperature 0, ignore_eos, stream with usage.
std::string make_request_body(const ServeBenchConfig& config, const std::string& model,
                              const std::vector<int32_t>& prompt_ids);

// `num_prompts` prompts of `input_len` random ids in [3, vocab_size), seeded.
std::vector<std::vector<int32_t>> make_random_prompts(const ServeBenchConfig& config);

// The id of the first model of GET <prefix>/v1/models.
Expected<std::string> fetch_first_model(const ServeBenchConfig& config);

// Runs the whole benchmark: one unmeasured test request first (its failure is the returned
// error, as in vLLM), then every prompt on the schedule. Failed requests are counted, not fatal.
// `log` (may be null) receives progress lines.
Expected<BenchmarkRun> run_serve_bench(const ServeBenchConfig& config,
                                       const std::function<void(std::string_view)>& log = nullptr);

}  // namespace tessera::serve_bench
