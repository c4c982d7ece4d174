// The OpenAI server under faults, on a loopback port with the tiny real model: a flood beyond the
// waiting queue gets 503 while admitted requests still complete with the same text as alone, and
// requests that can never run (prompt + max_tokens beyond the context or the whole KV pool) get 400,
// not a retryable 503. After each the server is healthy and every KV block is back in the pool.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "model/kv_storage.h"
#include "model/model.h"
#include "serve/openai_server.h"

namespace tessera::serve {
namespace {

using Json = nlohmann::json;

const std::string kModelPath = std::string(TESSERA_SHARED_DIR) + "/models/stories260K-f32.gguf";

// A server on a free loopback port, run on its own thread, stopped at scope exit.
class TestServer {
 public:
  explicit TestServer(ServeConfig config) {
    config.host = "127.0.0.1";
    config.port = 0;
    auto server = OpenAiServer::create(config);
    EXPECT_TRUE(server.ok()) << server.status().message();
    if (!server.ok()) return;
    server_ = std::move(server).value();
    auto port = server_->bind();
    EXPECT_TRUE(port.ok()) << port.status().message();
    port_ = port.ok() ? *port : 0;
    thread_ = std::thread([this] { server_->run(); });
  }
  ~TestServer() {
    if (server_ == nullptr) return;
    server_->stop(2000);
    thread_.join();
  }
  bool ok() const { return server_ != nullptr && port_ > 0; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }
  // A gauge of /metrics (e.g. "tessera:kv_cache_blocks_in_use"); -1 when missing.
  double metric(const std::string& name) const {
    auto res = client().Get("/metrics");
    if (!res || res->status != 200) return -1;
    const std::string& text = res->body;
    for (size_t at = text.find(name + "{"); at != std::string::npos; at = text.find(name + "{", at + 1)) {
      if (at > 0 && text[at - 1] != '\n') continue;
      const size_t value = text.find("} ", at);
      return std::stod(text.substr(value + 2, text.find('\n', value) - value - 2));
    }
    return -1;
  }

 private:
  std::unique_ptr<OpenAiServer> server_;
  int32_t port_ = 0;
  std::thread thread_;
};

ServeConfig small_config() {
  ServeConfig config;
  config.engine.model_path = kModelPath;
  config.engine.kv_cache_memory_bytes = 16 << 20;
  config.engine.max_model_len = 128;
  return config;
}

std::string completion_body(int32_t max_tokens) {
  return Json{{"prompt", "Once upon a time"}, {"max_tokens", max_tokens}, {"temperature", 0}}.dump();
}

// Waits (up to ~5 s) until the engine has no running or waiting request, then checks the pool.
void expect_idle_with_every_block_free(const TestServer& server) {
  for (int i = 0; i < 500; ++i) {
    if (server.metric("tessera:num_requests_running") == 0 && server.metric("tessera:num_requests_waiting") == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server.metric("tessera:num_requests_running"), 0);
  EXPECT_EQ(server.metric("tessera:num_requests_waiting"), 0);
  EXPECT_EQ(server.metric("tessera:kv_cache_blocks_in_use"), 0) << "KV blocks leaked";
  auto health = server.client().Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(ServeFault, FloodBeyondTheQueueGets503WhileAdmittedRequestsComplete) {
  ServeConfig config = small_config();
  config.engine.max_num_seqs = 1;
  config.engine.max_waiting_requests = 2;
  TestServer server(config);
  ASSERT_TRUE(server.ok());
  constexpr int32_t kMaxTokens = 80;
  auto alone = server.client().Post("/v1/completions", completion_body(kMaxTokens), "application/json");
  ASSERT_TRUE(alone);
  ASSERT_EQ(alone->status, 200) << alone->body;
  const std::string expected_text = Json::parse(alone->body)["choices"][0]["text"];
  ASSERT_FALSE(expected_text.empty());

  constexpr int32_t kClients = 16;
  std::mutex mutex;
  std::vector<int> statuses;
  std::vector<std::string> bodies;
  std::vector<std::thread> clients;
  for (int32_t i = 0; i < kClients; ++i) {
    clients.emplace_back([&] {
      auto res = server.client().Post("/v1/completions", completion_body(kMaxTokens), "application/json");
      std::lock_guard<std::mutex> lock(mutex);
      statuses.push_back(res ? res->status : -1);
      bodies.push_back(res ? res->body : "");
    });
  }
  for (auto& t : clients) t.join();
  int32_t num_ok = 0, num_overloaded = 0;
  for (size_t i = 0; i < statuses.size(); ++i) {
    if (statuses[i] == 200) {
      ++num_ok;
      EXPECT_EQ(Json::parse(bodies[i])["choices"][0]["text"], expected_text) << "an admitted request changed";
    } else {
      ASSERT_EQ(statuses[i], 503) << bodies[i];
      ++num_overloaded;
      const Json error = Json::parse(bodies[i])["error"];
      EXPECT_EQ(error["type"], "server_error");
      EXPECT_NE(error["message"].get<std::string>().find("max_waiting_requests"), std::string::npos) << error.dump();
    }
  }
  EXPECT_GT(num_overloaded, 0) << "16 clients against 1 running + 2 waiting slots";
  EXPECT_GT(num_ok, 0);
  expect_idle_with_every_block_free(server);
}

TEST(ServeFault, RequestsThatCanNeverRunGet400NotARetryable503) {
  ServeConfig config = small_config();
  {
    auto model = Model::load(kModelPath);
    ASSERT_TRUE(model.ok());
    const ModelConfig& c = (*model)->config();
    // Four blocks (of the default f16 cache): three usable (48 KV slots), so 5 prompt tokens + 60
    // output never fit.
    config.engine.kv_cache_memory_bytes = static_cast<int64_t>(
        KvStorage::bytes_per_block(c.num_layers, 16, c.num_kv_heads, c.head_dim, DType::kF16) * 4);
  }
  TestServer server(config);
  ASSERT_TRUE(server.ok());
  for (int32_t max_tokens : {60, 200}) {  // beyond the KV pool; beyond the 128-token context
    auto res = server.client().Post("/v1/completions", completion_body(max_tokens), "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << "max_tokens " << max_tokens << ": " << res->body;
    EXPECT_EQ(Json::parse(res->body)["error"]["type"], "invalid_request_error") << res->body;
  }
  auto fits = server.client().Post("/v1/completions", completion_body(20), "application/json");
  ASSERT_TRUE(fits);
  EXPECT_EQ(fits->status, 200) << fits->body;
  expect_idle_with_every_block_free(server);
}

}  // namespace
}  // namespace tessera::serve
