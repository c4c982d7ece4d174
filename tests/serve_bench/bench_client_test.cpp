// bench-serve end to end against a mock OpenAI streaming server started in-process on a free
// loopback port: request shape, concurrency limit, token counting, failures, unreachable servers.
#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "serve_bench/bench_client.h"
#include "serve_bench/bench_report.h"

namespace tessera::serve_bench {
namespace {

// A tiny OpenAI-compatible streaming server: every completion streams `max_tokens` one-character
// chunks 2 ms apart, then (unless send_usage is off) a usage chunk, then [DONE].
class MockOpenAiServer {
 public:
  bool send_usage = true;
  int fail_every = 0;  // > 0: answers request k (0-based, counting the test request) with 503 when k % fail_every == fail_every - 1

  std::atomic<int> num_requests{0};
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  std::atomic<int> num_bad_bodies{0};  // requests whose body did not look like bench-serve's

  MockOpenAiServer() {
    server_.new_task_queue = [] { return new httplib::ThreadPool(32); };
    server_.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"object":"list","data":[{"id":"mock-model","object":"model"}]})", "application/json");
    });
    auto completions = [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); };
    server_.Post("/v1/completions", completions);
    server_.Post("/v1/chat/completions", completions);
    server_.set_tcp_nodelay(true);  // stream each chunk at once (no Nagle batching)
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~MockOpenAiServer() {
    server_.stop();
    thread_.join();
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  void handle(const httplib::Request& req, httplib::Response& res) {
    const int k = num_requests++;
    if (fail_every > 0 && k % fail_every == fail_every - 1) {
      res.status = 503;
      res.set_content(R"({"error":{"message":"overloaded","type":"server_error"}})", "application/json");
      return;
    }
    const auto body = nlohmann::json::parse(req.body, nullptr, false);
    const bool chat = req.path == "/v1/chat/completions";
    const bool good = !body.is_discarded() && body.value("model", "") == "mock-model" && body.value("stream", false) &&
                      body.value("ignore_eos", false) && body["stream_options"].value("include_usage", false) &&
                      body.value("temperature", -1.0) == 0.0 &&
                      (chat ? body["messages"].is_array() : body["prompt"].is_array() && body["prompt"].size() == 16);
    if (!good) ++num_bad_bodies;
    const int max_tokens = chat ? body.value("max_completion_tokens", 1) : body.value("max_tokens", 1);
    const int now = ++in_flight;
    for (int seen = max_in_flight.load(); now > seen && !max_in_flight.compare_exchange_weak(seen, now);) {
    }
    res.set_chunked_content_provider("text/event-stream", [this, max_tokens, chat](size_t, httplib::DataSink& sink) {
      for (int i = 0; i < max_tokens; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        const std::string chunk = chat ? R"({"choices":[{"index":0,"delta":{"content":"x"}}]})"
                                       : R"({"choices":[{"index":0,"text":"x"}]})";
        const std::string event = "data: " + chunk + "\n\n";
        sink.write(event.data(), event.size());
      }
      if (send_usage) {
        const std::string usage = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":16,\"completion_tokens\":" +
                                  std::to_string(max_tokens) + "}}\n\n";
        sink.write(usage.data(), usage.size());
      }
      sink.write("data: [DONE]\n\n", 14);
      --in_flight;
      sink.done();
      return true;
    });
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

// A loopback port that was free a moment ago and has no listener now.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

ServeBenchConfig config_for(const MockOpenAiServer& server) {
  ServeBenchConfig config;
  config.base_url = server.base_url();
  config.num_prompts = 8;
  config.input_len = 16;
  config.output_len = 5;
  config.timeout_s = 30;
  return config;
}

TEST(BenchClient, MeasuresEveryRequestAgainstAMockStreamingServer) {
  MockOpenAiServer server;
  ServeBenchConfig config = config_for(server);
  config.max_concurrency = 3;
  auto run = run_serve_bench(config);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->model, "mock-model");  // from GET /v1/models
  EXPECT_EQ(server.num_requests.load(), 9);  // the test request + 8
  EXPECT_EQ(server.num_bad_bodies.load(), 0);
  EXPECT_LE(server.max_in_flight.load(), 3);
  const BenchmarkMetrics& m = run->metrics;
  EXPECT_EQ(m.completed, 8);
  EXPECT_EQ(m.failed, 0);
  EXPECT_EQ(m.total_input_tokens, 8 * 16);
  EXPECT_EQ(m.total_output_tokens, 8 * 5);
  for (const RequestResult& r : run->results) {
    EXPECT_TRUE(r.success) << r.error;
    EXPECT_EQ(r.itl_s.size(), 4u);
    EXPECT_GE(r.latency_s, r.ttft_s);
    EXPECT_EQ(r.generated_text, "xxxxx");
  }
  EXPECT_GT(m.ttft_ms.mean, 1.0);      // the first chunk comes after a 2 ms sleep
  EXPECT_GT(m.itl_ms.median, 1.0);     // chunks are 2 ms apart
  EXPECT_GT(m.tpot_ms.mean, 1.0);
  EXPECT_GT(m.request_throughput, 0.0);
  const nlohmann::json json = report_json(config, *run);
  EXPECT_EQ(json["completed"], 8);
  EXPECT_EQ(json["request_rate"], "inf");
  EXPECT_TRUE(json.contains("p99_ttft_ms") && json.contains("median_tpot_ms") && json.contains("p90_itl_ms") &&
              json.contains("mean_e2el_ms"));
  EXPECT_NE(report_text(config, *run).find("Successful requests:                     8"), std::string::npos);
}

TEST(BenchClient, CountsOutputChunksWhenTheServerSendsNoUsage) {
  MockOpenAiServer server;
  server.send_usage = false;
  auto run = run_serve_bench(config_for(server));
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->metrics.total_output_tokens, 8 * 5);
  EXPECT_EQ(run->metrics.total_input_tokens, 8 * 16);  // the prompt length
}

TEST(BenchClient, CountsAndReportsFailedRequestsWithoutStopping) {
  MockOpenAiServer server;
  server.fail_every = 4;  // requests 3 and 7 of 0..8 (0 is the test request)
  auto run = run_serve_bench(config_for(server));
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->metrics.completed, 6);
  EXPECT_EQ(run->metrics.failed, 2);
  int num_503 = 0;
  for (const RequestResult& r : run->results) num_503 += r.error.find("HTTP 503") != std::string::npos;
  EXPECT_EQ(num_503, 2);
  EXPECT_NE(report_text(config_for(server), *run).find("2 x HTTP 503"), std::string::npos);
}

TEST(BenchClient, PoissonArrivalsSpreadTheRunOverTime) {
  MockOpenAiServer server;
  ServeBenchConfig config = config_for(server);
  config.request_rate = 100.0;  // 8 requests: the last arrives after ~70 ms on average
  config.model = "mock-model";
  auto run = run_serve_bench(config);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->metrics.completed, 8);
  EXPECT_EQ(server.num_bad_bodies.load(), 0);
}

TEST(BenchClient, SpeaksTheChatEndpointToo) {
  MockOpenAiServer server;
  ServeBenchConfig config = config_for(server);
  config.endpoint = "/v1/chat/completions";
  auto run = run_serve_bench(config);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->metrics.completed, 8);
  EXPECT_EQ(server.num_bad_bodies.load(), 0);
  EXPECT_EQ(run->results[0].generated_text, "xxxxx");
}

TEST(BenchClient, UnreachableServerIsAnErrorNotACrash) {
  ServeBenchConfig config;
  config.base_url = "http://127.0.0.1:" + std::to_string(closed_port());
  config.model = "m";
  config.num_prompts = 2;
  config.timeout_s = 5;
  auto run = run_serve_bench(config);
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.status().message().find("test request failed"), std::string::npos) << run.status().message();
  config.model.clear();
  EXPECT_FALSE(run_serve_bench(config).ok());  // GET /v1/models fails
}

TEST(BenchClient, ValidatesFlagsAndUrls) {
  ServeBenchConfig config;
  config.base_url = "127.0.0.1:8080";
  EXPECT_NE(validate(config).message().find("--base-url"), std::string::npos);
  config.base_url = "http://127.0.0.1:8080/prefix/";
  EXPECT_TRUE(validate(config).ok());
  auto url = parse_base_url(config.base_url);
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->scheme_host_port, "http://127.0.0.1:8080");
  EXPECT_EQ(url->path_prefix, "/prefix");
  config.request_rate = 0.0;
  EXPECT_NE(validate(config).message().find("--request-rate"), std::string::npos);
  config.request_rate = 1.0;
  config.num_prompts = 0;
  EXPECT_NE(validate(config).message().find("--num-prompts"), std::string::npos);
}

TEST(BenchClient, RandomPromptsAreSeededAndInRange) {
  ServeBenchConfig config;
  config.num_prompts = 4;
  config.input_len = 50;
  config.vocab_size = 10;
  const auto prompts = make_random_prompts(config);
  EXPECT_EQ(prompts, make_random_prompts(config));
  ASSERT_EQ(prompts.size(), 4u);
  for (const auto& prompt : prompts) {
    ASSERT_EQ(prompt.size(), 50u);
    for (int32_t id : prompt) {
      EXPECT_GE(id, 3);
      EXPECT_LT(id, 10);
    }
  }
  const auto body = nlohmann::json::parse(make_request_body(config, "m", prompts[0]));
  EXPECT_EQ(body["prompt"].size(), 50u);
  EXPECT_EQ(body["max_tokens"], 64);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
}

}  // namespace
}  // namespace tessera::serve_bench
