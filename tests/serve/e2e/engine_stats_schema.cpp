#include "engine_stats_schema.h"

#include <gtest/gtest.h>

namespace tessera::serve_test {

// Every documented field (docs/serving.md, "Engine stats") with its JSON type.
void expect_schema(const Json& stats) {
  ASSERT_TRUE(stats.is_object()) << stats;
  EXPECT_EQ(stats["object"], "engine.stats");
  EXPECT_TRUE(stats["model"].is_string());
  EXPECT_TRUE(stats["time_ms"].is_number_integer());
  EXPECT_TRUE(stats["uptime_s"].is_number());
  for (const char* key : {"total", "in_use", "free", "cached", "peak_in_use", "block_size", "block_bytes", "cache_groups"}) {
    EXPECT_TRUE(stats["kv_blocks"][key].is_number_integer()) << key << ": " << stats;
    EXPECT_GE(stats["kv_blocks"][key].get<int64_t>(), 0) << key;
  }
  EXPECT_TRUE(stats["kv_blocks"]["usage"].is_number());
  EXPECT_TRUE(stats["kv_blocks"]["waste"].is_number());
  for (const char* key : {"running", "waiting", "in_flight", "max_num_seqs", "max_model_len"}) {
    EXPECT_TRUE(stats["requests"][key].is_number_integer()) << key;
  }
  for (const char* key : {"prompt", "computed", "output"}) EXPECT_TRUE(stats["tokens"][key].is_number_integer()) << key;
  EXPECT_TRUE(stats["steps"].is_number_integer());
  EXPECT_TRUE(stats["preemptions"].is_number_integer());
  EXPECT_TRUE(stats["prefix_cache"]["queries"].is_number_integer());
  EXPECT_TRUE(stats["prefix_cache"]["hits"].is_number_integer());
  EXPECT_TRUE(stats["prefix_cache"]["hit_rate"].is_number());
  for (const char* key : {"drafts", "draft_tokens", "accepted_tokens"}) EXPECT_TRUE(stats["speculative"][key].is_number_integer());
  for (const char* key : {"time_to_first_token", "inter_token", "e2e", "queue"}) {
    const Json& h = stats["latency"][key];
    ASSERT_TRUE(h["upper_bounds_s"].is_array()) << key;
    ASSERT_TRUE(h["counts"].is_array()) << key;
    EXPECT_EQ(h["counts"].size(), h["upper_bounds_s"].size() + 1) << key << ": one more count (+Inf)";
    EXPECT_TRUE(h["sum_s"].is_number()) << key;
    EXPECT_TRUE(h["count"].is_number_integer()) << key;
  }
  EXPECT_TRUE(stats["event_streams"]["open"].is_number_integer());
  EXPECT_TRUE(stats["event_streams"]["skipped"].is_number_integer());
  const Json& kv = stats["kv_blocks"];
  EXPECT_EQ(kv["in_use"].get<int64_t>() + kv["free"].get<int64_t>(), kv["total"].get<int64_t>());
}

}  // namespace tessera::serve_test
