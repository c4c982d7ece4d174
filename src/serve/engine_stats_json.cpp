#include "serve/engine_stats_json.h"

#include <algorithm>

namespace tessera::serve {
namespace {

Json histogram_json(const HistogramSnapshot& h) {
  return {{"upper_bounds_s", h.upper_bounds}, {"counts", h.counts}, {"sum_s", h.sum}, {"count", h.count}};
}

}  // namespace

Json engine_stats_json(const EngineStats& s, const ServeMetrics::Latencies& latencies, const EngineStatsContext& c) {
  // The null block is never handed out: the usable pool is num_kv_blocks - 1.
  const int32_t usable = std::max(s.num_kv_blocks - 1, 0);
  const int32_t in_use = std::clamp(usable - s.num_free_kv_blocks, 0, usable);
  return {
      {"object", "engine.stats"},
      {"model", c.model},
      {"time_ms", c.time_ms},
      {"uptime_s", c.uptime_s},
      {"kv_blocks",
       {{"total", usable},
        {"in_use", in_use},
        {"free", s.num_free_kv_blocks},
        {"cached", s.num_cached_kv_blocks},
        {"peak_in_use", s.peak_kv_blocks_in_use},
        {"block_size", c.block_size},
        {"block_bytes", s.kv_block_bytes},
        {"cache_groups", s.num_kv_cache_groups},
        {"usage", usable > 0 ? static_cast<double>(in_use) / usable : 0.0},
        {"waste", s.kv_waste}}},
      {"requests",
       {{"running", s.num_running_requests},
        {"waiting", s.num_waiting_requests},
        {"in_flight", c.requests_in_flight},
        {"max_num_seqs", c.max_num_seqs},
        {"max_model_len", c.max_model_len}}},
      {"tokens",
       {{"prompt", s.num_prompt_tokens}, {"computed", s.num_computed_tokens}, {"output", s.num_output_tokens}}},
      {"steps", s.num_steps},
      {"preemptions", s.num_preemptions},
      {"prefix_cache", {{"queries", s.prefix_cache_queries}, {"hits", s.prefix_cache_hits}, {"hit_rate", s.prefix_cache_hit_rate}}},
      {"speculative",
       {{"drafts", s.spec_num_drafts},
        {"draft_tokens", s.spec_num_draft_tokens},
        {"accepted_tokens", s.spec_num_accepted_tokens}}},
      {"event_streams", {{"open", c.event_streams}, {"skipped", c.event_snapshots_skipped}}},
      {"latency",
       {{"time_to_first_token", histogram_json(latencies.time_to_first_token)},
        {"inter_token", histogram_json(latencies.inter_token_latency)},
        {"e2e", histogram_json(latencies.e2e_latency)},
        {"queue", histogram_json(latencies.queue_time)}}},
  };
}

}  // namespace tessera::serve
