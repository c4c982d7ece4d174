// How a bench-serve run is shown: vLLM benchmark_serving's text block, a Markdown table, or JSON
// with every field (vLLM's names: mean_ttft_ms, p99_itl_ms, request_throughput, ...).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "serve_bench/bench_client.h"

namespace tessera::serve_bench {

nlohmann::json report_json(const ServeBenchConfig& config, const BenchmarkRun& run);
std::string report_text(const ServeBenchConfig& config, const BenchmarkRun& run);
std::string report_markdown(const ServeBenchConfig& config, const BenchmarkRun& run);

}  // namespace tessera::serve_bench
