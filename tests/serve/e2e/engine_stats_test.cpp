// GET /v1/engine/stats (the dashboard's feed) and the embedded pages, against a real server:
// the JSON schema, that the numbers move with a request, blocks are returned after it, and that the
// pages are served without a key while the endpoint stays behind --api-key.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "engine_stats_schema.h"
#include "server_process.h"

namespace tessera::serve_test {
namespace {

Json get_stats(const ServerProcess& server, const httplib::Headers& headers = {}) {
  httplib::Client client = server.client();
  auto response = client.Get("/v1/engine/stats", headers);
  if (!response || response->status != 200) return nullptr;
  return Json::parse(response->body, nullptr, false);
}

TEST(EngineStats, SchemaAndCountersFollowARequest) {
  ServerProcess server({"--served-model-name", "tiny"});
  ASSERT_TRUE(server.ready()) << server.log();
  const Json before = get_stats(server);
  expect_schema(before);
  EXPECT_EQ(before["model"], "tiny");
  EXPECT_EQ(before["kv_blocks"]["in_use"], 0);
  EXPECT_EQ(before["requests"]["running"], 0);
  EXPECT_EQ(before["tokens"]["output"], 0);

  const Json request = {{"messages", {{{"role", "user"}, {"content", "Tell me a story."}}}},
                        {"max_tokens", 24}, {"temperature", 0}, {"ignore_eos", true}};
  const JsonResponse reply = post_json(server, "/v1/chat/completions", request.dump());
  ASSERT_EQ(reply.status, 200) << reply.body;
  const Json after = get_stats(server);
  expect_schema(after);
  EXPECT_GE(after["tokens"]["output"].get<int64_t>(), 1);
  EXPECT_GT(after["tokens"]["prompt"].get<int64_t>(), 0);
  EXPECT_GT(after["steps"].get<int64_t>(), 0);
  EXPECT_GT(after["kv_blocks"]["peak_in_use"].get<int64_t>(), 0);
  EXPECT_EQ(after["kv_blocks"]["in_use"], 0);  // the finished request gave its blocks back
  EXPECT_EQ(after["requests"]["running"], 0);
  EXPECT_GE(after["time_ms"].get<int64_t>(), before["time_ms"].get<int64_t>());
  EXPECT_EQ(before["latency"]["time_to_first_token"]["count"], 0);
  EXPECT_EQ(after["latency"]["time_to_first_token"]["count"], 1);
  EXPECT_EQ(after["latency"]["e2e"]["count"], 1);
  EXPECT_GE(after["latency"]["inter_token"]["count"].get<int64_t>(), 1);
}

TEST(EngineStats, PagesAreOpenTheEndpointNeedsTheKey) {
  ServerProcess server({"--api-key", "sekret"});
  ASSERT_TRUE(server.ready()) << server.log();
  httplib::Client client = server.client();
  for (const char* path : {"/", "/dashboard", "/web/chat.js", "/web/dashboard.js", "/web/style.css"}) {
    auto page = client.Get(path);
    ASSERT_TRUE(page) << path;
    EXPECT_EQ(page->status, 200) << path;
    EXPECT_FALSE(page->body.empty()) << path;
  }
  auto chat = client.Get("/");
  EXPECT_NE(chat->get_header_value("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(chat->body.find("/web/chat.js"), std::string::npos);
  auto dashboard = client.Get("/dashboard");
  EXPECT_NE(dashboard->body.find("/web/dashboard.js"), std::string::npos);
  EXPECT_EQ(client.Get("/web/missing.js")->status, 404);

  auto refused = client.Get("/v1/engine/stats");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  expect_schema(get_stats(server, {{"Authorization", "Bearer sekret"}}));
}

}  // namespace
}  // namespace tessera::serve_test
