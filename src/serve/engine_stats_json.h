// The body of GET /v1/engine/stats: the engine's state now, for the dashboard and other tools.
// The schema is documented in docs/serving.md ("Engine stats") and pinned by
// tests/serve/e2e/engine_stats_test.cpp; fields are only ever added.
#pragma once

#include <cstdint>
#include <string>

#include "serve/openai_response.h"
#include "serve/serve_metrics.h"
#include "tessera/engine.h"

namespace tessera::serve {

struct EngineStatsContext {
  std::string model;
  int64_t time_ms = 0;          // Unix time of the snapshot, milliseconds
  double uptime_s = 0.0;        // since the server started
  int32_t block_size = 0;       // tokens per KV block
  int32_t max_num_seqs = 0;
  int32_t max_model_len = 0;
  int64_t requests_in_flight = 0;  // HTTP generation requests being answered (each may hold n completions)
  int32_t event_streams = 0;       // open GET /v1/engine/events streams
  int64_t event_snapshots_skipped = 0;  // snapshots not sent to a stream whose client was behind
};

Json engine_stats_json(const EngineStats& stats, const ServeMetrics::Latencies& latencies, const EngineStatsContext& context);

}  // namespace tessera::serve
