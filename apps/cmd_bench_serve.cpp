// `tessera bench-serve`: online serving benchmark against any OpenAI-compatible server, like vLLM's
// benchmark_serving with its random dataset: Poisson arrivals, streaming requests, TTFT / TPOT /
// ITL / E2E latency and throughput.
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "commands.h"
#include "serve_bench/bench_client.h"
#include "serve_bench/bench_report.h"

namespace tessera::app {
namespace {

struct BenchServeFlags {
  serve_bench::ServeBenchConfig config;
  std::string request_rate = "inf";   // requests/s, or "inf"
  std::string output_format = "text";  // text | md | json
};

Expected<double> parse_rate(const std::string& text) {
  if (text == "inf" || text == "infinity") return INFINITY;
  char* end = nullptr;
  const double rate = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !(rate > 0.0) || std::isinf(rate)) {
    return invalid_argument("--request-rate must be a positive number or inf, got '" + text + "'");
  }
  return rate;
}

int run_bench_serve(BenchServeFlags flags) {
  auto rate = parse_rate(flags.request_rate);
  if (!rate.ok()) return fail(rate.status().message());
  flags.config.request_rate = *rate;
  if (flags.output_format != "text" && flags.output_format != "md" && flags.output_format != "json") {
    return fail("-o must be text, md or json");
  }
  if (flags.config.api_key.empty()) {
    if (const char* key = std::getenv("OPENAI_API_KEY")) flags.config.api_key = key;
  }
  auto run = serve_bench::run_serve_bench(flags.config, [](std::string_view line) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  });
  if (!run.ok()) return fail(run.status().message());
  if (flags.output_format == "json") {
    std::puts(serve_bench::report_json(flags.config, *run).dump().c_str());
  } else if (flags.output_format == "md") {
    std::fputs(serve_bench::report_markdown(flags.config, *run).c_str(), stdout);
  } else {
    std::fputs(serve_bench::report_text(flags.config, *run).c_str(), stdout);
  }
  return 0;
}

}  // namespace

Command add_bench_serve_command(CLI::App& app) {
  auto flags = std::make_shared<BenchServeFlags>();
  serve_bench::ServeBenchConfig& c = flags->config;
  CLI::App* cmd = app.add_subcommand("bench-serve", "Online serving benchmark against an OpenAI-compatible server "
                                                    "(like vLLM's benchmark_serving)");
  cmd->add_option("--base-url", c.base_url, "Server URL, e.g. http://127.0.0.1:8080")->required();
  cmd->add_option("--endpoint", c.endpoint, "/v1/completions or /v1/chat/completions")->capture_default_str();
  cmd->add_option("--model", c.model, "Model name (default: the first of GET /v1/models)");
  cmd->add_option("--api-key", c.api_key, "Bearer token (default: $OPENAI_API_KEY)");
  cmd->add_option("--num-prompts", c.num_prompts, "Requests to send")->capture_default_str();
  cmd->add_option("--request-rate", flags->request_rate, "Poisson arrival rate, requests/s, or inf (all at once)")
      ->capture_default_str();
  cmd->add_option("--max-concurrency", c.max_concurrency, "Requests in flight at most (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--input-len", c.input_len, "Prompt tokens per request (random ids)")->capture_default_str();
  cmd->add_option("--output-len", c.output_len, "Output tokens per request (max_tokens, ignore_eos)")
      ->capture_default_str();
  cmd->add_option("--vocab-size", c.vocab_size, "Random prompt ids are drawn from [3, vocab-size)")
      ->capture_default_str();
  cmd->add_option("--seed", c.seed, "Seed of the prompts and arrival times")->capture_default_str();
  cmd->add_option("--timeout", c.timeout_s, "Seconds to wait for a connection or each read")->capture_default_str();
  cmd->add_option("-o,--output", flags->output_format, "Output format: text, md or json")->capture_default_str();
  return {cmd, [flags] { return run_bench_serve(*flags); }};
}

}  // namespace tessera::app
