// Statistics with numpy's definitions, and vLLM's TTFT / TPOT / ITL / E2E definitions on
// hand-computed request timelines.
#include <gtest/gtest.h>

#include <vector>

#include "serve_bench/bench_metrics.h"
#include "serve_bench/latency_stats.h"
#include "serve_bench/request_result.h"

namespace tessera::serve_bench {
namespace {

StreamChunk text_chunk(std::string text) {
  StreamChunk chunk;
  chunk.has_choice = true;
  chunk.text = std::move(text);
  return chunk;
}

StreamChunk usage_chunk(int64_t prompt_tokens, int64_t completion_tokens) {
  StreamChunk chunk;
  chunk.prompt_tokens = prompt_tokens;
  chunk.completion_tokens = completion_tokens;
  return chunk;
}

TEST(LatencyStats, PercentileInterpolatesLinearlyLikeNumpy) {
  const std::vector<double> x = {4.0, 1.0, 3.0, 2.0};  // sorted: 1 2 3 4
  EXPECT_DOUBLE_EQ(percentile(x, 0), 1.0);
  EXPECT_DOUBLE_EQ(percentile(x, 100), 4.0);
  EXPECT_DOUBLE_EQ(percentile(x, 50), 2.5);    // rank 1.5
  EXPECT_DOUBLE_EQ(percentile(x, 90), 3.7);    // rank 2.7  (np.percentile([1,2,3,4], 90) == 3.7)
  EXPECT_DOUBLE_EQ(percentile(x, 99), 3.97);   // rank 2.97
  EXPECT_DOUBLE_EQ(percentile(std::vector<double>{7.0}, 99), 7.0);
  EXPECT_DOUBLE_EQ(percentile(std::vector<double>{}, 50), 0.0);
}

TEST(LatencyStats, SummaryHasMeanMedianPopulationStdAndTails) {
  std::vector<double> x;
  for (int i = 1; i <= 100; ++i) x.push_back(i);
  const LatencySummary s = summarize(x);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
  EXPECT_DOUBLE_EQ(s.median, 50.5);
  EXPECT_NEAR(s.std, 28.866070047722118, 1e-12);  // np.std(range(1, 101))
  EXPECT_NEAR(s.p90, 90.1, 1e-12);
  EXPECT_NEAR(s.p99, 99.01, 1e-12);
  const LatencySummary empty = summarize({});
  EXPECT_EQ(empty.mean, 0.0);
  EXPECT_EQ(empty.p99, 0.0);
}

TEST(StreamRecorder, MeasuresTtftItlAndLatencyFromChunkTimes) {
  // Sent at t=10.0; chunks at 10.5, 10.6, 10.8, 11.1; then a usage-only chunk at 11.2.
  StreamRecorder recorder(10.0);
  recorder.on_chunk(text_chunk("a"), 10.5);
  recorder.on_chunk(text_chunk("b"), 10.6);
  recorder.on_chunk(text_chunk(""), 10.8);  // a step with empty text still times ITL (vLLM)
  recorder.on_chunk(text_chunk("d"), 11.1);
  recorder.on_chunk(usage_chunk(128, 4), 11.2);  // no choice: neither ITL nor latency
  const RequestResult r = std::move(recorder).finish(/*prompt_len=*/100);
  ASSERT_TRUE(r.success) << r.error;
  EXPECT_DOUBLE_EQ(r.ttft_s, 0.5);
  ASSERT_EQ(r.itl_s.size(), 3u);
  EXPECT_NEAR(r.itl_s[0], 0.1, 1e-9);
  EXPECT_NEAR(r.itl_s[1], 0.2, 1e-9);
  EXPECT_NEAR(r.itl_s[2], 0.3, 1e-9);
  EXPECT_NEAR(r.latency_s, 1.1, 1e-9);
  EXPECT_EQ(r.output_tokens, 4);    // from usage
  EXPECT_EQ(r.prompt_tokens, 128);  // from usage
  EXPECT_EQ(r.generated_text, "abd");
}

TEST(StreamRecorder, CountsNonEmptyTextChunksWithoutUsage) {
  StreamRecorder recorder(0.0);
  recorder.on_chunk(text_chunk("x"), 1.0);
  recorder.on_chunk(text_chunk(""), 2.0);
  recorder.on_chunk(text_chunk("y"), 3.0);
  const RequestResult r = std::move(recorder).finish(64);
  EXPECT_EQ(r.output_tokens, 2);
  EXPECT_EQ(r.prompt_tokens, 64);
}

TEST(StreamRecorder, FailsWithoutChunksOrOnTransportAndStreamErrors) {
  EXPECT_FALSE(StreamRecorder(0.0).finish(1).success);
  StreamRecorder broken(0.0);
  broken.on_chunk(text_chunk("x"), 1.0);
  broken.on_failure("HTTP request failed: Read");
  const RequestResult r = std::move(broken).finish(1);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.error, "HTTP request failed: Read");
  StreamRecorder in_stream(0.0);
  StreamChunk error;
  error.error = "out of KV blocks";
  in_stream.on_chunk(error, 1.0);
  EXPECT_NE(std::move(in_stream).finish(1).error.find("out of KV blocks"), std::string::npos);
}

TEST(BenchMetrics, FollowsVllmDefinitionsOnAHandComputedRun) {
  RequestResult a;  // 4 tokens: ttft 0.5, latency 1.1 -> tpot (1.1 - 0.5) / 3 = 0.2
  a.success = true;
  a.prompt_tokens = 10;
  a.output_tokens = 4;
  a.ttft_s = 0.5;
  a.itl_s = {0.1, 0.2, 0.3};
  a.latency_s = 1.1;
  RequestResult b;  // 1 token: no TPOT sample, no ITL
  b.success = true;
  b.prompt_tokens = 20;
  b.output_tokens = 1;
  b.ttft_s = 0.3;
  b.latency_s = 0.3;
  RequestResult failed;
  failed.error = "HTTP 503: overloaded";
  failed.prompt_tokens = 99;
  failed.output_tokens = 99;
  const std::vector<RequestResult> results = {a, b, failed};
  const BenchmarkMetrics m = compute_metrics(results, /*duration_s=*/2.0);
  EXPECT_EQ(m.completed, 2);
  EXPECT_EQ(m.failed, 1);
  EXPECT_EQ(m.total_input_tokens, 30);
  EXPECT_EQ(m.total_output_tokens, 5);
  EXPECT_DOUBLE_EQ(m.request_throughput, 1.0);
  EXPECT_DOUBLE_EQ(m.output_throughput, 2.5);
  EXPECT_DOUBLE_EQ(m.total_token_throughput, 17.5);
  EXPECT_NEAR(m.ttft_ms.mean, 400.0, 1e-9);
  EXPECT_NEAR(m.ttft_ms.median, 400.0, 1e-9);
  EXPECT_NEAR(m.tpot_ms.mean, 200.0, 1e-9);  // only request a
  EXPECT_NEAR(m.itl_ms.mean, 200.0, 1e-9);   // 100, 200, 300
  EXPECT_NEAR(m.itl_ms.p99, 298.0, 1e-9);    // rank 1.98 of {100, 200, 300}
  EXPECT_NEAR(m.e2el_ms.mean, 700.0, 1e-9);
}

}  // namespace
}  // namespace tessera::serve_bench
