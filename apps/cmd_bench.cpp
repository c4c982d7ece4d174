// `tessera bench`: llama-bench-style prompt-processing (pp) and generation (tg) speed tests.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "runtime/bench_runner.h"

namespace tessera::app {
namespace {

struct BenchFlags {
  BenchParams params;
  std::string output = "md";
  KvCacheType kv_cache_type = KvCacheType::kF16;
  std::optional<KvCacheType> kv_cache_type_k, kv_cache_type_v;  // --kv-cache-dtype-k / -v
};

std::string human_size(uint64_t bytes) {
  char buf[32];
  if (bytes >= (uint64_t{1} << 30)) {
    std::snprintf(buf, sizeof(buf), "%.2f GiB", static_cast<double>(bytes) / (1u << 30));
  } else {
    std::snprintf(buf, sizeof(buf), "%.2f MiB", static_cast<double>(bytes) / (1u << 20));
  }
  return buf;
}

void print_markdown(const std::vector<BenchRecord>& records) {
  std::printf("| model | size | params | threads | test | t/s | weights/token | read GB/s | roofline |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (const BenchRecord& r : records) {
    char params[32];
    std::snprintf(params, sizeof(params), "%.2f M", static_cast<double>(r.model_n_params) / 1e6);
    std::printf("| %s | %s | %s | %d | %s | %.2f ± %.2f |", r.model_type.c_str(), human_size(r.model_size).c_str(),
                params, r.n_threads, r.test_name().c_str(), r.avg_ts, r.stddev_ts);
    if (r.n_gen > 0) {
      std::printf(" %.1f MB | %.1f | %.1f%% |\n", static_cast<double>(r.weights_bytes_per_token) / 1e6,
                  r.measured_read_gbs, r.roofline_pct);
    } else {
      std::printf(" | | |\n");
    }
  }
  for (const BenchRecord& r : records) {
    if (r.rank_weight_bytes.size() < 2) continue;
    const int64_t tokens = static_cast<int64_t>(r.samples_ns.size()) * std::max(r.n_prompt, r.n_gen);
    for (size_t i = 0; i < r.rank_weight_bytes.size(); ++i) {
      std::printf("%s rank %zu: resident weights %s, sent %.0f bytes/token\n", r.test_name().c_str(), i,
                  human_size(static_cast<uint64_t>(r.rank_weight_bytes[i])).c_str(),
                  i < r.rank_bytes_sent.size() && tokens > 0 ? double(r.rank_bytes_sent[i]) / double(tokens) : 0.0);
    }
  }
}

void print_json(const std::vector<BenchRecord>& records) {
  nlohmann::json out = nlohmann::json::array();
  for (const BenchRecord& r : records) {
    nlohmann::json j;
    j["model_filename"] = r.model_filename;
    j["model_type"] = r.model_type;
    j["model_size"] = r.model_size;
    j["model_n_params"] = r.model_n_params;
    j["n_prompt"] = r.n_prompt;
    j["n_gen"] = r.n_gen;
    j["n_depth"] = r.n_depth;
    j["n_threads"] = r.n_threads;
    j["type_k"] = std::string(dtype_name(r.kv_type.k));
    j["type_v"] = std::string(dtype_name(r.kv_type.v));
    j["test"] = r.test_name();
    j["avg_ns"] = r.samples_ns.empty() ? 0.0 : [&] {
      double s = 0;
      for (int64_t v : r.samples_ns) s += static_cast<double>(v);
      return s / static_cast<double>(r.samples_ns.size());
    }();
    j["samples_ns"] = r.samples_ns;
    j["avg_ts"] = r.avg_ts;
    j["stddev_ts"] = r.stddev_ts;
    j["samples_ts"] = r.samples_ts;
    if (r.rank_weight_bytes.size() > 1) {  // a parallel job: per rank
      j["rank_weight_bytes"] = r.rank_weight_bytes;
      j["rank_bytes_sent"] = r.rank_bytes_sent;
    }
    if (r.n_gen > 0) {
      j["weights_bytes_per_token"] = r.weights_bytes_per_token;
      j["kv_bytes_per_token"] = r.kv_bytes_per_token;
      j["measured_read_gbs"] = r.measured_read_gbs;
      j["roofline_pct"] = r.roofline_pct;
      j["read_gbs_samples"] = r.read_gbs_samples;
      j["roofline_pct_samples"] = r.roofline_pct_samples;
    }
    out.push_back(std::move(j));
  }
  std::puts(out.dump(2).c_str());
}

int run_bench_command(const BenchFlags& f) {
  if (f.output != "md" && f.output != "json") return fail("-o must be md or json");
  BenchParams p = f.params;
  p.kv_type = kv_cache_dtypes(f.kv_cache_type, f.kv_cache_type_k, f.kv_cache_type_v);
  if (p.model_path.empty()) p.model_path = default_model_path();
  auto records = run_bench(p);
  if (!records.ok()) return fail(records.status().message());
  if (f.output == "json") print_json(*records); else print_markdown(*records);
  return 0;
}

}  // namespace

Command add_bench_command(CLI::App& app) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prompt processing and generation speed (like llama-bench)");
  cmd->add_option("-m,--model", flags->params.model_path, "GGUF model file (default: TinyStories-656K-Q8_0)");
  cmd->add_option("-p,--n-prompt", flags->params.n_prompt, "Prompt tokens of the pp test (0: skip)")->capture_default_str();
  cmd->add_option("-n,--n-gen", flags->params.n_gen, "Generated tokens of the tg test (0: skip)")->capture_default_str();
  cmd->add_option("-d,--n-depth", flags->params.n_depth, "Tokens already in the KV cache when each test starts")
      ->capture_default_str();
  cmd->add_option("-t,--threads", flags->params.n_threads, "Threads (0: all cores)")->capture_default_str();
  cmd->add_option("-r,--repetitions", flags->params.repetitions, "Repetitions of each test")->capture_default_str();
  cmd->add_option("-o,--output", flags->output, "Output format: md or json")->capture_default_str();
  add_kv_cache_dtype_option(cmd, &flags->kv_cache_type, &flags->kv_cache_type_k, &flags->kv_cache_type_v);
  add_parallel_options(cmd, &flags->params.parallel.tensor_parallel_size, &flags->params.parallel.pipeline_parallel_size);
  return {cmd, [flags] { return run_bench_command(*flags); }};
}

}  // namespace tessera::app
