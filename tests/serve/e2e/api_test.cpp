// `tessera serve` end to end, one real server per test process: every endpoint, OpenAI response
// shapes, greedy parity with `tessera generate`, stop strings, logprobs, n, echo, and every error.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include "server_process.h"

namespace tessera::serve_test {
namespace {

class ServeApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess({"--max-body-bytes", "65536", "--served-model-name", "tiny"}); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(server_->ready()) << server_->log(); }
  static JsonResponse post(const std::string& path, const Json& body) { return post_json(*server_, path, body.dump()); }
  static ServerProcess* server_;
};
ServerProcess* ServeApi::server_ = nullptr;

Json greedy_completion(const std::string& prompt, int max_tokens) {
  return {{"model", "tiny"}, {"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}};
}

std::string run_generate_json_text(const std::string& prompt, int num_tokens) {
  const std::string command = std::string(TESSERA_BINARY) + " generate -m " + model_path() + " -t 1 --temp 0 --json -n " +
                              std::to_string(num_tokens) + " -p '" + prompt + "'";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string out;
  char buffer[4096];
  while (pipe && fgets(buffer, sizeof(buffer), pipe.get()) != nullptr) out += buffer;
  const Json parsed = Json::parse(out, nullptr, false);
  return parsed.is_object() ? parsed.value("text", "<no text>") : "<bad json: " + out + ">";
}

// The text of a stream: concatenated choice texts (completions) or delta contents (chat).
std::string stream_text(const StreamResult& stream, std::string* finish_reason = nullptr) {
  std::string text;
  for (const std::string& event : stream.events) {
    if (event == "[DONE]") continue;
    const Json chunk = Json::parse(event);
    for (const Json& choice : chunk["choices"]) {
      if (choice.contains("text")) text += choice["text"].get<std::string>();
      if (choice.contains("delta") && choice["delta"].contains("content")) text += choice["delta"]["content"].get<std::string>();
      if (finish_reason != nullptr && !choice["finish_reason"].is_null()) *finish_reason = choice["finish_reason"];
    }
  }
  return text;
}

TEST_F(ServeApi, HealthModelsAndMetricsAnswer) {
  httplib::Client c = server_->client();
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  const Json list = Json::parse(models->body);
  EXPECT_EQ(list["object"], "list");
  EXPECT_EQ(list["data"][0]["id"], "tiny");
  EXPECT_EQ(list["data"][0]["object"], "model");
  ASSERT_EQ(post("/v1/completions", greedy_completion("Once upon a time", 4)).status, 200);
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->get_header_value("Content-Type").find("text/plain"), std::string::npos);
  for (const char* name : {"num_requests_running", "num_requests_waiting", "kv_cache_usage_perc", "prompt_tokens_total",
                           "generation_tokens_total", "num_preemptions_total", "prefix_cache_queries_total",
                           "prefix_cache_hits_total", "request_success_total", "time_to_first_token_seconds_bucket",
                           "inter_token_latency_seconds_bucket", "e2e_request_latency_seconds_bucket",
                           "request_queue_time_seconds_bucket"}) {
    EXPECT_NE(metrics->body.find(std::string("\ntessera:") + name + "{model_name=\"tiny\""), std::string::npos) << name;
  }
  EXPECT_GE(metric_value(metrics->body, "tessera:generation_tokens_total{"), 4.0);
  EXPECT_GE(metric_value(metrics->body, "tessera:request_success_total{model_name=\"tiny\",finished_reason=\"length\"}"), 1.0);
}

TEST_F(ServeApi, GreedyTextEqualsTesseraGenerate) {
  const std::string prompt = "Once upon a time";
  const JsonResponse r = post("/v1/completions", greedy_completion(prompt, 48));
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["choices"][0]["text"], run_generate_json_text(prompt, 48));
}

TEST_F(ServeApi, CompletionHasOpenAiShape) {
  const JsonResponse r = post("/v1/completions", greedy_completion("Once upon a time", 5));
  ASSERT_EQ(r.status, 200);
  const Json& b = r.body;
  EXPECT_EQ(b["object"], "text_completion");
  EXPECT_EQ(b["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  EXPECT_GT(b["created"].get<int64_t>(), 1600000000);
  EXPECT_EQ(b["model"], "tiny");
  ASSERT_EQ(b["choices"].size(), 1u);
  EXPECT_EQ(b["choices"][0]["index"], 0);
  EXPECT_EQ(b["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(b["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(b["usage"]["prompt_tokens"], 6);
  EXPECT_EQ(b["usage"]["completion_tokens"], 5);
  EXPECT_EQ(b["usage"]["total_tokens"], 11);
}

TEST_F(ServeApi, SeveralPromptsTimesNChoicesAreSeededAndIndexed) {
  Json body = {{"prompt", {"Once upon a time", "The little dog"}}, {"n", 2}, {"max_tokens", 8},
               {"seed", 7}, {"temperature", 0.9}, {"ignore_eos", true}};
  const JsonResponse a = post("/v1/completions", body);
  const JsonResponse b = post("/v1/completions", body);
  ASSERT_EQ(a.status, 200) << a.body.dump();
  ASSERT_EQ(a.body["choices"].size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(a.body["choices"][i]["index"], i);
    EXPECT_EQ(a.body["choices"][i]["text"], b.body["choices"][i]["text"]) << "seeded choice " << i;
  }
  EXPECT_EQ(a.body["usage"]["completion_tokens"], 32);
  // Token-id prompts are accepted as they are.
  const JsonResponse ids = post("/v1/completions", {{"prompt", {1, 80, 147, 201, 282, 57}}, {"max_tokens", 3}, {"temperature", 0}});
  ASSERT_EQ(ids.status, 200);
  EXPECT_EQ(ids.body["usage"]["prompt_tokens"], 6);
}

TEST_F(ServeApi, StopStringIsCutAndHiddenAlsoWhenStreaming) {
  const std::string full = post("/v1/completions", greedy_completion("Once upon a time", 40)).body["choices"][0]["text"];
  ASSERT_GT(full.size(), 30u);
  const std::string stop = full.substr(20, 5);  // most likely spans two tokens
  const std::string expected = full.substr(0, full.find(stop));
  Json body = greedy_completion("Once upon a time", 40);
  body["stop"] = {stop, "zzzz-never"};
  const JsonResponse r = post("/v1/completions", body);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["choices"][0]["text"], expected);
  EXPECT_EQ(r.body["choices"][0]["finish_reason"], "stop");
  body["stream"] = true;
  std::string finish;
  const StreamResult s = post_stream(*server_, "/v1/completions", body.dump());
  ASSERT_TRUE(s.complete());
  EXPECT_EQ(stream_text(s, &finish), expected);
  EXPECT_EQ(finish, "stop");
}

TEST_F(ServeApi, CompletionLogprobsComeFromTheModel) {
  Json body = greedy_completion("Once upon a time", 8);
  body["logprobs"] = 3;
  const JsonResponse r = post("/v1/completions", body);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  const Json& lp = r.body["choices"][0]["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), 8u);
  std::string joined;
  for (size_t i = 0; i < 8; ++i) {
    joined += lp["tokens"][i].get<std::string>();
    const float chosen = lp["token_logprobs"][i];
    EXPECT_LE(chosen, 0.0f);
    ASSERT_GE(lp["top_logprobs"][i].size(), 1u);
    float best = -1e30f;
    for (const auto& [token, value] : lp["top_logprobs"][i].items()) best = std::max(best, value.get<float>());
    EXPECT_FLOAT_EQ(chosen, best) << "greedy picks the most likely token";
    EXPECT_EQ(lp["text_offset"][i], joined.size() - lp["tokens"][i].get<std::string>().size());
  }
  EXPECT_EQ(joined, r.body["choices"][0]["text"]);
}

TEST_F(ServeApi, EchoPrependsThePrompt) {
  Json body = greedy_completion("Once upon a time", 4);
  body["echo"] = true;
  const JsonResponse r = post("/v1/completions", body);
  ASSERT_EQ(r.status, 200);
  const std::string text = r.body["choices"][0]["text"];
  EXPECT_EQ(text.rfind("Once upon a time", 0), 0u) << text;
  EXPECT_GT(text.size(), std::string("Once upon a time").size());
}

TEST_F(ServeApi, PenaltiesAndSamplingFieldsAreAccepted) {
  Json body = greedy_completion("Once upon a time", 24);
  body["presence_penalty"] = 1.5;
  body["frequency_penalty"] = 1.5;
  body["repetition_penalty"] = 1.2;
  body["top_k"] = 5;
  body["min_p"] = 0.05;
  const JsonResponse r = post("/v1/completions", body);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["usage"]["completion_tokens"].get<int>() > 0, true);
}

TEST_F(ServeApi, ChatCompletionAndChatLogprobs) {
  const Json body = {{"messages", {{{"role", "system"}, {"content", "Tell stories."}}, {{"role", "user"}, {"content", "Hi"}}}},
                     {"max_tokens", 6}, {"temperature", 0}, {"logprobs", true}, {"top_logprobs", 2}, {"ignore_eos", true}};
  const JsonResponse r = post("/v1/chat/completions", body);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["object"], "chat.completion");
  EXPECT_EQ(r.body["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  const Json& choice = r.body["choices"][0];
  EXPECT_EQ(choice["message"]["role"], "assistant");
  EXPECT_EQ(choice["finish_reason"], "length");
  ASSERT_EQ(choice["logprobs"]["content"].size(), 6u);
  EXPECT_EQ(choice["logprobs"]["content"][0]["top_logprobs"].size(), 2u);
  EXPECT_TRUE(choice["logprobs"]["content"][0]["bytes"].is_array());
  EXPECT_GT(r.body["usage"]["prompt_tokens"].get<int>(), 4);
  // The same as a stream: role first, then content, usage last, [DONE].
  Json streamed = body;
  streamed["stream"] = true;
  streamed["stream_options"] = {{"include_usage", true}};
  const StreamResult s = post_stream(*server_, "/v1/chat/completions", streamed.dump());
  ASSERT_TRUE(s.complete());
  const Json first = Json::parse(s.events.front());
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(stream_text(s), choice["message"]["content"]);
  const Json last = Json::parse(s.events[s.events.size() - 2]);
  EXPECT_TRUE(last["choices"].empty());
  EXPECT_EQ(last["usage"]["completion_tokens"], 6);
}

TEST_F(ServeApi, TokenizeAndDetokenize) {
  const JsonResponse t = post("/tokenize", {{"prompt", "Once upon a time"}});
  ASSERT_EQ(t.status, 200);
  EXPECT_EQ(t.body["tokens"], Json({1, 80, 147, 201, 282, 57}));
  EXPECT_EQ(t.body["count"], 6);
  EXPECT_GT(t.body["max_model_len"].get<int>(), 0);
  const JsonResponse d = post("/detokenize", {{"tokens", {80, 147, 201, 282, 57}}});
  ASSERT_EQ(d.status, 200);
  EXPECT_NE(d.body["prompt"].get<std::string>().find("Once upon a time"), std::string::npos);
  const JsonResponse chat = post("/tokenize", {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}});
  ASSERT_EQ(chat.status, 200);
  EXPECT_GT(chat.body["count"].get<int>(), 3);
}

void expect_error(const JsonResponse& r, int status, const std::string& param = "") {
  EXPECT_EQ(r.status, status) << r.body.dump();
  ASSERT_TRUE(r.body.is_object() && r.body.contains("error")) << r.body.dump();
  const Json& e = r.body["error"];
  EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty());
  EXPECT_TRUE(e["type"].is_string());
  EXPECT_TRUE(e.contains("param") && e.contains("code"));
  if (!param.empty()) {
    EXPECT_EQ(e["param"], param);
  }
}

TEST_F(ServeApi, EveryBadRequestGetsAnOpenAiErrorObject) {
  expect_error(post_json(*server_, "/v1/completions", "{not json"), 400);
  expect_error(post_json(*server_, "/v1/chat/completions", "[]"), 400);
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"temperature", -1}}), 400, "temperature");
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"n", 0}}), 400, "n");
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"max_tokens", 100000}}), 400, "max_tokens");
  expect_error(post("/v1/completions", {{"prompt", {1, 99999999}}}), 400);
  expect_error(post("/v1/chat/completions", {{"messages", {{{"role", "wizard"}, {"content", "x"}}}}}), 400, "messages");
  expect_error(post("/detokenize", {{"tokens", {1, 99999999}}}), 400, "tokens");
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"logit_bias", {{"abc", 1}}}}), 400, "logit_bias");
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"logit_bias", {{"5", 300}}}}), 400, "logit_bias");
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"logit_bias", {{"99999999", 1}}}}), 400);
  expect_error(post("/v1/completions", {{"model", "gpt-17"}, {"prompt", "x"}}), 404, "model");
  expect_error(post_json(*server_, "/v1/nothing-here", "{}"), 404);
  expect_error(post_json(*server_, "/v1/completions", "{\"prompt\": \"" + std::string(70000, 'a') + "\"}"), 413);
  std::string long_prompt;
  for (int i = 0; i < 600; ++i) long_prompt += " time";
  expect_error(post("/v1/completions", {{"prompt", long_prompt}}), 400, "prompt");
  // The server is still fine afterwards.
  EXPECT_EQ(post("/v1/completions", greedy_completion("Once", 2)).status, 200);
}

}  // namespace
}  // namespace tessera::serve_test
