// `tessera serve` under load and at the edges: 256 concurrent streams all complete, clients that
// hang up mid-stream leave no KV block in use, API keys, 503 when the waiting queue is full, and
// SIGTERM ends in-flight streams and exits 0.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "server_process.h"

namespace tessera::serve_test {
namespace {

std::string metrics_text(const ServerProcess& server) {
  httplib::Client c = server.client();
  auto r = c.Get("/metrics");
  return r ? r->body : "";
}

// The metrics once `settled` holds for them, or the last read after 10 s. A client can see its
// stream's last event before the engine loop's next stats snapshot frees the request's blocks.
template <typename Predicate>
std::string settled_metrics(const ServerProcess& server, Predicate settled) {
  std::string m;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    m = metrics_text(server);
    if (settled(m)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return m;
}

Json stream_body(int i, int max_tokens) {
  return {{"prompt", "Once upon a time " + std::to_string(i % 7)}, {"max_tokens", max_tokens}, {"temperature", 0},
          {"ignore_eos", true}, {"stream", true}, {"stream_options", {{"include_usage", true}}}};
}

TEST(ServeLoad, TwoHundredFiftySixConcurrentStreamsAllComplete) {
  ServerProcess server;
  ASSERT_TRUE(server.ready()) << server.log();
  constexpr int kClients = 256, kTokens = 16;
  std::atomic<int> num_complete{0}, num_right_length{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      const StreamResult s = post_stream(server, "/v1/completions", stream_body(i, kTokens).dump());
      if (s.status != 200 || !s.complete() || s.events.size() < 2) return;
      ++num_complete;
      const Json usage = Json::parse(s.events[s.events.size() - 2])["usage"];
      if (usage.is_object() && usage["completion_tokens"] == kTokens) ++num_right_length;
    });
  }
  for (auto& t : clients) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("256 concurrent streams of %d tokens: %.2f s\n", kTokens, seconds);
  RecordProperty("seconds_for_256_streams", std::to_string(seconds));
  EXPECT_EQ(num_complete.load(), kClients);
  EXPECT_EQ(num_right_length.load(), kClients);
  const std::string m = settled_metrics(server, [](const std::string& text) {
    return metric_value(text, "tessera:kv_cache_blocks_in_use{") == 0.0 &&
           metric_value(text, "tessera:generation_tokens_total{") == double(kClients * kTokens);
  });
  EXPECT_EQ(metric_value(m, "tessera:kv_cache_blocks_in_use{"), 0.0) << m;
  EXPECT_EQ(metric_value(m, "tessera:generation_tokens_total{"), double(kClients * kTokens));
}

TEST(ServeLoad, ClientsHangingUpMidStreamLeaveNoKvBlocksInUse) {
  ServerProcess server;
  ASSERT_TRUE(server.ready()) << server.log();
  constexpr int kClients = 16, kTokens = 480;
  std::vector<std::thread> clients;
  std::atomic<int> num_hung_up{0};
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      const StreamResult s = post_stream(server, "/v1/completions", stream_body(i, kTokens).dump(), /*stop_after_events=*/3);
      if (s.events.size() == 3 && !s.complete()) ++num_hung_up;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(num_hung_up.load(), kClients);
  // Each stream notices at its next writes; every request is aborted long before its 480 tokens.
  const std::string m = settled_metrics(server, [](const std::string& text) {
    return metric_value(text, "tessera:kv_cache_blocks_in_use{") == 0.0 &&
           metric_value(text, "tessera:num_requests_running{") == 0.0 &&
           metric_value(text, "tessera:request_success_total{model_name=\"TinyStories-656K-Q8_0\",finished_reason=\"abort\"}") ==
               kClients;
  });
  EXPECT_EQ(metric_value(m, "tessera:kv_cache_blocks_in_use{"), 0.0) << m;
  EXPECT_EQ(metric_value(m, "tessera:kv_cache_usage_perc{"), 0.0);
  EXPECT_EQ(metric_value(m, "tessera:num_requests_running{"), 0.0);
  EXPECT_EQ(metric_value(m, "tessera:request_success_total{model_name=\"TinyStories-656K-Q8_0\",finished_reason=\"abort\"}"),
            double(kClients));
  EXPECT_LT(metric_value(m, "tessera:generation_tokens_total{"), double(kClients * kTokens) / 2);
}

TEST(ServeLoad, ApiKeyIsRequiredExceptForHealthAndMetrics) {
  ServerProcess server({"--api-key", "sekret"});
  ASSERT_TRUE(server.ready()) << server.log();
  const std::string body = R"({"prompt": "Once", "max_tokens": 2})";
  const JsonResponse none = post_json(server, "/v1/completions", body);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.body["error"]["code"], "invalid_api_key");
  EXPECT_EQ(post_json(server, "/v1/completions", body, {{"Authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(post_json(server, "/v1/completions", body, {{"Authorization", "Bearer sekret"}}).status, 200);
  httplib::Client c = server.client();
  EXPECT_EQ(c.Get("/v1/models")->status, 401);
  EXPECT_EQ(c.Get("/health")->status, 200);
  EXPECT_EQ(c.Get("/metrics")->status, 200);
}

TEST(ServeLoad, FullWaitingQueueAnswers503) {
  ServerProcess server({"--max-num-seqs", "1", "--max-queue-len", "1"});
  ASSERT_TRUE(server.ready()) << server.log();
  constexpr int kClients = 6;
  std::vector<JsonResponse> responses(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      responses[size_t(i)] = post_json(server, "/v1/completions",
                                       R"({"prompt": "Once upon a time", "max_tokens": 400, "ignore_eos": true})");
    });
  }
  for (auto& t : clients) t.join();
  int num_ok = 0, num_busy = 0;
  for (const JsonResponse& r : responses) {
    if (r.status == 200) ++num_ok;
    if (r.status == 503) {
      ++num_busy;
      EXPECT_EQ(r.body["error"]["type"], "server_error");
    }
  }
  EXPECT_EQ(num_ok + num_busy, kClients);
  EXPECT_GE(num_ok, 1);
  EXPECT_GE(num_busy, 1) << "one running + one waiting leaves no room for the others";
}

// --request-timeout: a completion still running at its deadline ends with finish_reason
// "timeout" and the tokens it has (400 tokens take far more than 1 ms); the server goes on.
TEST(ServeLoad, RequestTimeoutEndsWithTimeout) {
  ServerProcess server({"--request-timeout", "0.001"});
  ASSERT_TRUE(server.ready()) << server.log();
  for (int i = 0; i < 2; ++i) {
    const JsonResponse r = post_json(server, "/v1/completions",
                                     R"({"prompt": "Once upon a time", "max_tokens": 400, "ignore_eos": true})");
    ASSERT_EQ(r.status, 200) << r.body.dump();
    EXPECT_EQ(r.body["choices"][0]["finish_reason"], "timeout");
    EXPECT_LT(r.body["usage"]["completion_tokens"].get<int>(), 400);
  }
  httplib::Client c = server.client();
  EXPECT_EQ(c.Get("/health")->status, 200);
  const auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find(R"(finished_reason="timeout"} 2)"), std::string::npos) << metrics->body;
}

TEST(ServeLoad, SigtermEndsInFlightStreamsAndExitsZero) {
  ServerProcess server({"--max-num-seqs", "1"});
  ASSERT_TRUE(server.ready()) << server.log();
  constexpr int kClients = 3;
  std::atomic<int> num_started{0}, num_returned{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      httplib::Client c = server.client();
      httplib::Request req;
      req.method = "POST";
      req.path = "/v1/completions";
      req.body = stream_body(i, 500).dump();
      req.set_header("Content-Type", "application/json");
      req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
        ++num_started;
        return true;
      };
      (void)c.send(req);
      ++num_returned;
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (num_started.load() == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_GT(num_started.load(), 0);
  EXPECT_EQ(server.terminate_and_wait(20.0), 0) << server.log();
  for (auto& t : clients) t.join();
  EXPECT_EQ(num_returned.load(), kClients);
  EXPECT_NE(server.log().find("stopped"), std::string::npos) << server.log();
}

}  // namespace
}  // namespace tessera::serve_test
