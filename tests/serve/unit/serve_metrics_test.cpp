// ServeMetrics: Prometheus text with vLLM's names under tessera:, cumulative histogram buckets.
#include "serve/serve_metrics.h"

#include <gtest/gtest.h>

namespace tessera::serve {
namespace {

TEST(ServeMetrics, RendersEngineGaugesCountersAndHistograms) {
  ServeMetrics metrics("tiny");
  metrics.add_prompt_tokens(5);
  metrics.add_generation_tokens(7);
  metrics.record_finished("stop");
  metrics.record_finished("length");
  metrics.record_finished("length");
  metrics.observe_time_to_first_token(0.003);
  metrics.observe_time_to_first_token(3000.0);
  EngineStats stats;
  stats.num_kv_blocks = 11;
  stats.num_free_kv_blocks = 5;  // 5 of the 10 usable blocks in use
  stats.num_running_requests = 2;
  stats.num_waiting_requests = 3;
  stats.num_preemptions = 4;
  stats.prefix_cache_queries = 100;
  stats.prefix_cache_hits = 25;
  const std::string text = metrics.render(stats);
  for (const char* line : {
           "tessera:num_requests_running{model_name=\"tiny\"} 2\n",
           "tessera:num_requests_waiting{model_name=\"tiny\"} 3\n",
           "tessera:kv_cache_usage_perc{model_name=\"tiny\"} 0.5\n",
           "tessera:kv_cache_blocks_in_use{model_name=\"tiny\"} 5\n",
           "tessera:num_preemptions_total{model_name=\"tiny\"} 4\n",
           "tessera:prefix_cache_queries_total{model_name=\"tiny\"} 100\n",
           "tessera:prefix_cache_hits_total{model_name=\"tiny\"} 25\n",
           "tessera:prompt_tokens_total{model_name=\"tiny\"} 5\n",
           "tessera:generation_tokens_total{model_name=\"tiny\"} 7\n",
           "tessera:request_success_total{model_name=\"tiny\",finished_reason=\"length\"} 2\n",
           "tessera:request_success_total{model_name=\"tiny\",finished_reason=\"stop\"} 1\n",
           "tessera:request_success_total{model_name=\"tiny\",finished_reason=\"abort\"} 0\n",
           "# TYPE tessera:time_to_first_token_seconds histogram\n",
           "tessera:time_to_first_token_seconds_bucket{model_name=\"tiny\",le=\"0.001\"} 0\n",
           "tessera:time_to_first_token_seconds_bucket{model_name=\"tiny\",le=\"0.005\"} 1\n",
           "tessera:time_to_first_token_seconds_bucket{model_name=\"tiny\",le=\"2560\"} 1\n",
           "tessera:time_to_first_token_seconds_bucket{model_name=\"tiny\",le=\"+Inf\"} 2\n",
           "tessera:time_to_first_token_seconds_count{model_name=\"tiny\"} 2\n",
           "tessera:inter_token_latency_seconds_count{model_name=\"tiny\"} 0\n",
           "tessera:e2e_request_latency_seconds_count{model_name=\"tiny\"} 0\n",
           "tessera:request_queue_time_seconds_count{model_name=\"tiny\"} 0\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "\nin:\n" << text;
  }
}

TEST(Histogram, BucketsAreCumulativeAndInclusive) {
  Histogram h({1.0, 2.0});
  h.observe(1.0);  // le="1" includes 1
  h.observe(1.5);
  h.observe(9.0);
  std::string out;
  h.render("x", "a=\"b\"", out);
  EXPECT_EQ(out,
            "x_bucket{a=\"b\",le=\"1\"} 1\nx_bucket{a=\"b\",le=\"2\"} 2\nx_bucket{a=\"b\",le=\"+Inf\"} 3\n"
            "x_sum{a=\"b\"} 11.5\nx_count{a=\"b\"} 3\n");
}

}  // namespace
}  // namespace tessera::serve
