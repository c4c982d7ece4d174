// Structured output and tool calls through a real `tessera serve` on a random-weight model (its
// text is noise, the hard case): every json_schema reply parses and validates, every GBNF reply is
// in the grammar's language, under 64 concurrent requests with different schemas; forced tool
// calls come back as tool_calls whose arguments follow the tool's schema, whole and streamed;
// bad schemas, grammars and tools are 400s and the server keeps serving.
#include <gtest/gtest.h>

#include <atomic>
#include <regex>
#include <thread>

#include "../../grammar/json_schema_validator.h"
#include "server_process.h"

namespace tessera::serve_test {
namespace {

std::string synth_model() { return std::string(TESSERA_SHARED_DIR) + "/models/synthetic/synth-qwen3-d128-Q8_0.gguf"; }

class StructuredOutput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess({"-m", synth_model(), "--max-num-seqs", "64", "--max-body-bytes", "1000000"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(server_->ready()) << server_->log(); }
  static JsonResponse post(const Json& body) { return post_json(*server_, "/v1/chat/completions", body.dump()); }
  static ServerProcess* server_;
};
ServerProcess* StructuredOutput::server_ = nullptr;

// Bounded schemas (strings, arrays and numbers of bounded size) of the shapes applications send.
std::vector<Json> schemas() {
  return {
      Json::parse(R"({"type": "object", "properties": {"name": {"type": "string", "maxLength": 12},
          "age": {"type": "integer", "minimum": 0, "maximum": 150}}, "required": ["name", "age"]})"),
      Json::parse(R"({"type": "object", "properties": {"color": {"enum": ["red", "green", "blue"]},
          "ok": {"type": "boolean"}, "note": {"type": "null"}}, "required": ["color"]})"),
      Json::parse(R"({"type": "array", "items": {"type": "integer", "minimum": -5, "maximum": 5}, "minItems": 1, "maxItems": 6})"),
      Json::parse(R"({"type": "object", "properties": {"point": {"type": "object", "properties": {
          "x": {"type": "number", "minimum": 0, "maximum": 10}, "y": {"type": "number"}}, "required": ["x", "y"]},
          "label": {"type": "string", "maxLength": 8}}, "required": ["point"]})"),
      Json::parse(R"({"anyOf": [{"type": "object", "properties": {"kind": {"const": "circle"}, "r": {"type": "integer",
          "minimum": 1, "maximum": 99}}, "required": ["kind", "r"]}, {"type": "object", "properties": {"kind":
          {"const": "square"}, "side": {"type": "integer", "minimum": 1, "maximum": 99}}, "required": ["kind", "side"]}]})"),
      Json::parse(R"({"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string",
          "maxLength": 6}, "maxItems": 4}, "count": {"type": "integer", "minimum": 0, "maximum": 1000}},
          "required": ["tags", "count"], "additionalProperties": false})"),
      Json::parse(R"({"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "object",
          "properties": {"c": {"enum": [1, 2, 3]}}, "required": ["c"]}}, "required": ["b"]}}, "required": ["a"]})"),
      Json::parse(R"({"type": "object", "properties": {"id": {"type": "string", "format": "uuid"},
          "when": {"type": "string", "format": "date"}}, "required": ["id", "when"]})"),
      Json::parse(R"({"type": "object", "properties": {"value": {"type": ["integer", "null"], "minimum": 0,
          "maximum": 9}, "items": {"type": "array", "prefixItems": [{"type": "boolean"}, {"enum": ["x", "y"]}],
          "minItems": 2, "maxItems": 2}}, "required": ["value", "items"]})"),
      Json::parse(R"({"$defs": {"leaf": {"type": "object", "properties": {"v": {"type": "integer", "minimum": 0,
          "maximum": 9}}, "required": ["v"]}}, "type": "object", "properties": {"left": {"$ref": "#/$defs/leaf"},
          "right": {"$ref": "#/$defs/leaf"}}, "required": ["left", "right"]})"),
  };
}

Json schema_request(const Json& schema, int seed) {
  return {{"messages", Json::array({{{"role", "user"}, {"content", "Answer in JSON."}}})},
          {"max_tokens", 600},
          {"temperature", 1.0},
          {"seed", seed},
          {"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "s"}, {"schema", schema}, {"strict", true}}}}}};
}

// Runs `count` requests from 64 client threads; `check(i, response)` returns "" or a failure.
template <typename MakeBody, typename Check>
std::vector<std::string> run_concurrently(int count, const MakeBody& make_body, const Check& check,
                                          const ServerProcess& server) {
  std::vector<std::string> failures(static_cast<size_t>(count));
  std::atomic<int> next{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 64; ++t) {
    clients.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        const JsonResponse r = post_json(server, "/v1/chat/completions", make_body(i).dump());
        failures[size_t(i)] = r.status != 200 ? "HTTP " + std::to_string(r.status) + " " + r.body.dump() : check(i, r.body);
      }
    });
  }
  for (std::thread& c : clients) c.join();
  std::vector<std::string> out;
  for (std::string& f : failures) {
    if (!f.empty()) out.push_back(std::move(f));
  }
  return out;
}

TEST_F(StructuredOutput, EveryJsonSchemaReplyParsesAndValidatesUnder64ConcurrentRequests) {
  const std::vector<Json> all = schemas();
  constexpr int kPerSchema = 20;
  const int count = static_cast<int>(all.size()) * kPerSchema;  // 200
  const auto failures = run_concurrently(
      count, [&](int i) { return schema_request(all[size_t(i) % all.size()], 1000 + i); },
      [&](int i, const Json& body) -> std::string {
        const Json& choice = body["choices"][0];
        const std::string text = choice["message"]["content"].get<std::string>();
        if (choice["finish_reason"] != "stop") return "finish_reason " + choice["finish_reason"].dump() + ": " + text;
        const Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (value.is_discarded()) return "not JSON: " + text;
        const Json& schema = all[size_t(i) % all.size()];
        const std::string why = tessera::testing::validate_json(value, schema, schema);
        return why.empty() ? "" : why + ": " + text;
      },
      *server_);
  std::printf("json_schema: %d requests over %zu schemas, 64 concurrent: %zu failures\n", count, all.size(), failures.size());
  for (size_t i = 0; i < failures.size() && i < 5; ++i) ADD_FAILURE() << failures[i];
}

// The schema's property order survives the request parser (the body is sent as text: a Json
// object here would sort its keys before it left).
TEST_F(StructuredOutput, PropertiesComeOutInTheSchemasOrder) {
  const std::string body = R"({"messages": [{"role": "user", "content": "Answer in JSON."}], "max_tokens": 200,
      "temperature": 1.0, "seed": 7, "response_format": {"type": "json_schema", "json_schema": {"name": "s",
      "schema": {"type": "object", "properties": {"zeta": {"type": "integer"}, "alpha": {"type": "boolean"},
      "mid": {"enum": ["x", "y"]}}, "required": ["zeta", "alpha", "mid"]}}}})";
  for (int i = 0; i < 3; ++i) {
    const JsonResponse r = post_json(*server_, "/v1/chat/completions", body);
    ASSERT_EQ(r.status, 200) << r.body.dump();
    const std::string text = r.body["choices"][0]["message"]["content"].get<std::string>();
    const auto value = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(value.is_object()) << text;
    std::vector<std::string> keys;
    for (const auto& [key, v] : value.items()) keys.push_back(key);
    EXPECT_EQ(keys, (std::vector<std::string>{"zeta", "alpha", "mid"})) << text;
  }
}

TEST_F(StructuredOutput, EveryGbnfReplyIsInTheGrammarsLanguage) {
  struct Case {
    const char* gbnf;
    const char* regex;  // the same language, checked independently of the grammar engine
  };
  const Case cases[] = {
      {R"g(root ::= "(" [a-z]{1,5} ")" ("," [0-9]{1,3}){0,4})g", R"g(\([a-z]{1,5}\)(,[0-9]{1,3}){0,4})g"},
      {"root ::= answer \".\"\nanswer ::= \"yes\" | \"no\" | \"maybe\"", R"g((yes|no|maybe)\.)g"},
      {"root ::= item (\" \" item){0,3}\nitem ::= [A-Z] [a-z]? [0-9]", R"g([A-Z][a-z]?[0-9]( [A-Z][a-z]?[0-9]){0,3})g"},
  };
  constexpr int kPerGrammar = 67;  // 201 requests
  const int count = static_cast<int>(std::size(cases)) * kPerGrammar;
  const auto failures = run_concurrently(
      count,
      [&](int i) {
        return Json{{"messages", Json::array({{{"role", "user"}, {"content", "go"}}})},
                    {"max_tokens", 200}, {"temperature", 1.0}, {"seed", i}, {"grammar", cases[size_t(i) % std::size(cases)].gbnf}};
      },
      [&](int i, const Json& body) -> std::string {
        const std::string text = body["choices"][0]["message"]["content"].get<std::string>();
        if (!std::regex_match(text, std::regex(cases[size_t(i) % std::size(cases)].regex))) return "not in the language: " + text;
        return "";
      },
      *server_);
  std::printf("grammar: %d requests over %zu grammars: %zu failures\n", count, std::size(cases), failures.size());
  for (size_t i = 0; i < failures.size() && i < 5; ++i) ADD_FAILURE() << failures[i];
}

TEST_F(StructuredOutput, GuidedChoiceRegexAndJsonObject) {
  for (int seed = 0; seed < 10; ++seed) {
    Json body = {{"messages", Json::array({{{"role", "user"}, {"content", "pick"}}})}, {"max_tokens", 50},
                 {"temperature", 1.0}, {"seed", seed}, {"guided_choice", {"alpha", "beta", "gamma delta"}}};
    JsonResponse r = post(body);
    ASSERT_EQ(r.status, 200) << r.body.dump();
    const std::string choice = r.body["choices"][0]["message"]["content"];
    EXPECT_TRUE(choice == "alpha" || choice == "beta" || choice == "gamma delta") << choice;
    body.erase("guided_choice");
    body["guided_regex"] = "[0-9]{3}-[a-c]+";
    r = post(body);
    ASSERT_EQ(r.status, 200) << r.body.dump();
    const std::string text = r.body["choices"][0]["message"]["content"];
    EXPECT_TRUE(std::regex_match(text, std::regex("[0-9]{3}-[a-c]+"))) << text;
    body.erase("guided_regex");
    body["max_tokens"] = 400;
    body["response_format"] = {{"type", "json_object"}};
    r = post(body);
    ASSERT_EQ(r.status, 200) << r.body.dump();
    // Any JSON object is unbounded; what must hold is that what came out is a valid prefix, and
    // a complete object whenever the grammar ended it.
    const std::string object = r.body["choices"][0]["message"]["content"];
    if (r.body["choices"][0]["finish_reason"] == "stop") {
      EXPECT_TRUE(Json::parse(object, nullptr, false).is_object()) << object;
    }
  }
}

TEST_F(StructuredOutput, ForcedToolCallsFollowTheToolSchemaWholeAndStreamed) {
  const Json parameters = Json::parse(R"({"type": "object", "properties": {"city": {"type": "string", "maxLength": 12},
      "unit": {"enum": ["c", "f"]}}, "required": ["city", "unit"]})");
  const Json tools = Json::array({{{"type", "function"}, {"function", {{"name", "get_weather"}, {"parameters", parameters}}}},
                                  {{"type", "function"}, {"function", {{"name", "noop"}}}}});
  for (int seed = 0; seed < 8; ++seed) {
    Json body = {{"messages", Json::array({{{"role", "user"}, {"content", "weather in Paris?"}}})},
                 {"max_tokens", 400}, {"temperature", 1.0}, {"seed", seed}, {"tools", tools},
                 {"tool_choice", {{"type", "function"}, {"function", {{"name", "get_weather"}}}}}};
    const JsonResponse r = post(body);
    ASSERT_EQ(r.status, 200) << r.body.dump();
    const Json& choice = r.body["choices"][0];
    EXPECT_EQ(choice["finish_reason"], "tool_calls") << choice.dump();
    ASSERT_EQ(choice["message"]["tool_calls"].size(), 1u) << choice.dump();
    const Json& call = choice["message"]["tool_calls"][0];
    EXPECT_EQ(call["type"], "function");
    EXPECT_EQ(call["function"]["name"], "get_weather");
    EXPECT_EQ(call["id"].get<std::string>().rfind("call_", 0), 0u);
    const Json arguments = Json::parse(call["function"]["arguments"].get<std::string>(), nullptr, false);
    ASSERT_FALSE(arguments.is_discarded()) << call.dump();
    EXPECT_EQ(tessera::testing::validate_json(arguments, parameters, parameters), "") << arguments.dump();

    body["stream"] = true;
    const StreamResult stream = post_stream(*server_, "/v1/chat/completions", body.dump());
    ASSERT_TRUE(stream.complete());
    std::string name, streamed_arguments, finish;
    for (const std::string& event : stream.events) {
      if (event == "[DONE]") continue;
      const Json chunk = Json::parse(event);
      for (const Json& c : chunk["choices"]) {
        if (!c["finish_reason"].is_null()) finish = c["finish_reason"];
        if (!c["delta"].contains("tool_calls")) continue;
        for (const Json& fragment : c["delta"]["tool_calls"]) {
          EXPECT_EQ(fragment["index"], 0);
          if (fragment["function"].contains("name")) name += fragment["function"]["name"].get<std::string>();
          if (fragment["function"].contains("arguments")) streamed_arguments += fragment["function"]["arguments"].get<std::string>();
        }
      }
    }
    EXPECT_EQ(finish, "tool_calls");
    EXPECT_EQ(name, "get_weather");
    // The same seed draws the same call: the fragments add up to the whole reply's arguments.
    EXPECT_EQ(streamed_arguments, call["function"]["arguments"].get<std::string>());
  }
}

TEST_F(StructuredOutput, RequiredToolChoiceCallsOneOfTheTools) {
  const Json tools = Json::array({{{"type", "function"}, {"function", {{"name", "add"}, {"parameters", Json::parse(
      R"({"type": "object", "properties": {"a": {"type": "integer", "minimum": 0, "maximum": 99}, "b": {"type": "integer",
      "minimum": 0, "maximum": 99}}, "required": ["a", "b"]})")}}}}, {{"type", "function"}, {"function", {{"name", "now"}}}}});
  for (int seed = 0; seed < 8; ++seed) {
    const JsonResponse r = post({{"messages", Json::array({{{"role", "user"}, {"content", "2+2?"}}})}, {"max_tokens", 400},
                                 {"temperature", 1.0}, {"seed", seed}, {"tools", tools}, {"tool_choice", "required"},
                                 {"parallel_tool_calls", false}});
    ASSERT_EQ(r.status, 200) << r.body.dump();
    const Json& message = r.body["choices"][0]["message"];
    ASSERT_EQ(message["tool_calls"].size(), 1u) << message.dump();
    const std::string name = message["tool_calls"][0]["function"]["name"];
    EXPECT_TRUE(name == "add" || name == "now") << name;
    EXPECT_TRUE(Json::parse(message["tool_calls"][0]["function"]["arguments"].get<std::string>(), nullptr, false).is_object());
  }
}

TEST_F(StructuredOutput, ToolResultsRenderBackThroughTheTemplate) {
  const Json tools = Json::array({{{"type", "function"}, {"function", {{"name", "get_weather"}}}}});
  const JsonResponse r = post({{"messages", Json::parse(R"([
      {"role": "user", "content": "weather?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
          "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}])")},
                               {"max_tokens", 4}, {"tools", tools}});
  EXPECT_EQ(r.status, 200) << r.body.dump();
}

TEST_F(StructuredOutput, BadSchemasGrammarsAndToolsAre400AndTheServerKeepsServing) {
  const Json user = Json::array({{{"role", "user"}, {"content", "x"}}});
  struct Case {
    Json extra;
    const char* param;
  };
  const Case cases[] = {
      {{{"grammar", "root ::= undefined_rule"}}, "grammar"},
      {{{"grammar", "root ::= \"unterminated"}}, "grammar"},
      {{{"guided_regex", "(ab"}}, "guided_regex"},
      {{{"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"schema", {{"type", "no-such-type"}}}}}}}},
       "response_format"},
      {{{"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"schema", {{"$ref", "#/$defs/missing"}}}}}}}},
       "response_format"},
      {{{"tools", Json::parse(R"([{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}])")}}, "tools"},
      {{{"tools", Json::parse(R"([{"type": "function", "function": {"name": "f"}}])")}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "g"}}}}}},
       "tool_choice"},
  };
  for (const Case& c : cases) {
    Json body = {{"messages", user}, {"max_tokens", 8}};
    body.update(c.extra);
    const JsonResponse r = post(body);
    EXPECT_EQ(r.status, 400) << body.dump() << " -> " << r.body.dump();
    EXPECT_EQ(r.body["error"]["param"], c.param) << r.body.dump();
    EXPECT_EQ(r.body["error"]["type"], "invalid_request_error") << r.body.dump();
  }
  const JsonResponse ok = post({{"messages", user}, {"max_tokens", 4}});
  EXPECT_EQ(ok.status, 200) << ok.body.dump();
}

TEST(StructuredOutputVocabulary, AGrammarTheVocabularyCannotBeginIs400) {
  ServerProcess server;  // TinyStories: its vocabulary has no "{" token
  ASSERT_TRUE(server.ready()) << server.log();
  const JsonResponse r = post_json(server, "/v1/chat/completions",
                                   R"({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}})");
  EXPECT_EQ(r.status, 400) << r.body.dump();
  EXPECT_EQ(r.body["error"]["param"], "response_format");
  EXPECT_NE(r.body["error"]["message"].get<std::string>().find("vocabulary"), std::string::npos);
  const JsonResponse ok = post_json(server, "/v1/completions", R"({"prompt": "Once", "max_tokens": 8, "guided_regex": "[a-z ]{1,20}"})");
  EXPECT_EQ(ok.status, 200) << ok.body.dump();
}

// --reasoning-parser: a reply's leading <think>...</think> becomes reasoning_content, whole and
// streamed (the regex makes the noise model write one); without the flag the text is unchanged.
TEST(ReasoningParser, ThinkBlocksBecomeReasoningContent) {
  const std::string qwen3_template = std::string(TESSERA_SHARED_DIR) + "/chat-templates/Qwen-Qwen3-0.6B.jinja";
  const Json body = {{"messages", Json::array({{{"role", "user"}, {"content", "Think, then answer."}}})},
                     {"max_tokens", 60},
                     {"seed", 3},
                     {"guided_regex", "<think>[a-z]{4,12}</think>[a-z]{4,12}"}};
  ServerProcess server({"-m", synth_model(), "--chat-template", qwen3_template, "--reasoning-parser", "auto"});
  ASSERT_TRUE(server.ready()) << server.log();
  const JsonResponse whole = post_json(server, "/v1/chat/completions", body.dump());
  ASSERT_EQ(whole.status, 200) << whole.body.dump();
  const Json& message = whole.body["choices"][0]["message"];
  ASSERT_TRUE(message.contains("reasoning_content")) << message.dump();
  const std::string reasoning = message["reasoning_content"].get<std::string>();
  const std::string content = message["content"].get<std::string>();
  EXPECT_TRUE(std::regex_match(reasoning, std::regex("[a-z]{4,12}"))) << message.dump();
  EXPECT_TRUE(std::regex_match(content, std::regex("[a-z]{4,12}"))) << message.dump();

  Json streamed_body = body;
  streamed_body["stream"] = true;
  const StreamResult stream = post_stream(server, "/v1/chat/completions", streamed_body.dump());
  ASSERT_TRUE(stream.complete());
  std::string streamed_reasoning, streamed_content;
  for (size_t i = 0; i + 1 < stream.events.size(); ++i) {
    const Json delta = Json::parse(stream.events[i])["choices"][0]["delta"];
    if (delta.contains("reasoning_content")) streamed_reasoning += delta["reasoning_content"].get<std::string>();
    if (delta.contains("content") && delta["content"].is_string()) streamed_content += delta["content"].get<std::string>();
  }
  EXPECT_EQ(streamed_reasoning, reasoning);  // same seed, same text
  EXPECT_EQ(streamed_content, content);

  ServerProcess plain({"-m", synth_model(), "--chat-template", qwen3_template});
  ASSERT_TRUE(plain.ready()) << plain.log();
  const JsonResponse unparsed = post_json(plain, "/v1/chat/completions", body.dump());
  ASSERT_EQ(unparsed.status, 200);
  EXPECT_FALSE(unparsed.body["choices"][0]["message"].contains("reasoning_content"));
  EXPECT_EQ(unparsed.body["choices"][0]["message"]["content"], "<think>" + reasoning + "</think>" + content);
}

TEST(ReasoningParser, UnknownParserIsAStartupError) {
  ServerProcess server({"-m", synth_model(), "--reasoning-parser", "nope"});
  EXPECT_FALSE(server.ready());
}

}  // namespace
}  // namespace tessera::serve_test
