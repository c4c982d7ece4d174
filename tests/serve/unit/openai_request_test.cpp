// OpenAI request parsing: defaults, every accepted shape of prompt/stop/messages, and a clear
// kInvalidArgument naming the field for every malformed body or out-of-range value.
#include "serve/openai_request.h"

#include <gtest/gtest.h>

namespace tessera::serve {
namespace {

TEST(ParseCompletionRequest, AppliesOpenAiDefaults) {
  auto r = parse_completion_request(R"({"prompt": "Once upon a time"})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->prompts.size(), 1u);
  EXPECT_EQ(r->prompts[0].text, "Once upon a time");
  EXPECT_EQ(r->sampling.params.max_tokens, 16);
  EXPECT_FALSE(r->sampling.max_tokens_given);
  EXPECT_EQ(r->sampling.params.temperature, 1.0f);
  EXPECT_EQ(r->sampling.params.top_p, 1.0f);
  EXPECT_EQ(r->sampling.params.top_k, 0);
  EXPECT_EQ(r->sampling.params.min_p, 0.0f);
  EXPECT_EQ(r->sampling.params.n, 1);
  EXPECT_EQ(r->sampling.params.logprobs, -1);
  EXPECT_EQ(r->sampling.params.seed, 0xFFFFFFFFu);
  EXPECT_FALSE(r->sampling.stream);
}

TEST(ParseCompletionRequest, ReadsEveryField) {
  auto r = parse_completion_request(R"({"model": "m", "prompt": ["a", "b"], "max_tokens": 7, "temperature": 0,
      "top_p": 0.5, "top_k": 3, "min_p": 0.1, "n": 2, "stop": ["x", "yz"], "seed": 42, "stream": true,
      "stream_options": {"include_usage": true}, "logprobs": 3, "presence_penalty": 0.5,
      "frequency_penalty": -0.5, "repetition_penalty": 1.1, "ignore_eos": true, "echo": true, "user": "ignored"})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const SamplingRequest& s = r->sampling;
  EXPECT_EQ(s.model, "m");
  EXPECT_EQ(r->prompts.size(), 2u);
  EXPECT_EQ(s.params.max_tokens, 7);
  EXPECT_TRUE(s.max_tokens_given);
  EXPECT_EQ(s.params.temperature, 0.0f);
  EXPECT_EQ(s.params.top_k, 3);
  EXPECT_EQ(s.params.n, 2);
  EXPECT_EQ(*s.stop, (std::vector<std::string>{"x", "yz"}));
  EXPECT_EQ(s.params.seed, 42u);
  EXPECT_TRUE(s.stream && s.include_usage && s.want_logprobs && r->echo && s.params.ignore_eos);
  EXPECT_EQ(s.params.logprobs, 3);
  EXPECT_FLOAT_EQ(s.params.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(s.params.frequency_penalty, -0.5f);
  EXPECT_FLOAT_EQ(s.params.repetition_penalty, 1.1f);
}

TEST(ParseCompletionRequest, AcceptsTokenIdPrompts) {
  auto one = parse_completion_request(R"({"prompt": [1, 2, 3]})");
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->prompts.size(), 1u);
  EXPECT_TRUE(one->prompts[0].is_tokens);
  EXPECT_EQ(one->prompts[0].token_ids, (std::vector<int32_t>{1, 2, 3}));
  auto many = parse_completion_request(R"({"prompt": [[1, 2], [3]], "max_completion_tokens": 4})");
  ASSERT_TRUE(many.ok());
  EXPECT_EQ(many->prompts.size(), 2u);
  EXPECT_EQ(many->sampling.params.max_tokens, 4);
}

TEST(ParseCompletionRequest, NullFieldsCountAsAbsent) {
  auto r = parse_completion_request(R"({"prompt": "x", "stop": null, "max_tokens": null, "seed": null})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->sampling.stop->empty());
  EXPECT_EQ(r->sampling.params.max_tokens, 16);
}

void expect_rejected(const char* body, const char* param) {
  auto r = parse_completion_request(body);
  ASSERT_FALSE(r.ok()) << body;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(error_param(r.status()), param) << r.status().message();
}

TEST(ParseCompletionRequest, RejectsMalformedBodiesNamingTheField) {
  expect_rejected("", "");
  expect_rejected("{\"prompt\": ", "");
  expect_rejected("[1, 2]", "");
  expect_rejected("{}", "prompt");
  expect_rejected(R"({"prompt": ""})", "prompt");
  expect_rejected(R"({"prompt": []})", "prompt");
  expect_rejected(R"({"prompt": [1, -2]})", "prompt");
  expect_rejected(R"({"prompt": [1, 2.5]})", "prompt");
  expect_rejected(R"({"prompt": {"a": 1}})", "prompt");
  expect_rejected(R"({"prompt": "x", "temperature": "hot"})", "temperature");
  expect_rejected(R"({"prompt": "x", "temperature": 3})", "temperature");
  expect_rejected(R"({"prompt": "x", "top_p": 0})", "top_p");
  expect_rejected(R"({"prompt": "x", "top_p": 1.5})", "top_p");
  expect_rejected(R"({"prompt": "x", "min_p": -0.1})", "min_p");
  expect_rejected(R"({"prompt": "x", "top_k": -2})", "top_k");
  expect_rejected(R"({"prompt": "x", "n": 0})", "n");
  expect_rejected(R"({"prompt": "x", "n": 100000})", "n");
  expect_rejected(R"({"prompt": "x", "max_tokens": 0})", "max_tokens");
  expect_rejected(R"({"prompt": "x", "max_tokens": 1.5})", "max_tokens");
  expect_rejected(R"({"prompt": "x", "max_tokens": 1e30})", "max_tokens");
  expect_rejected(R"({"prompt": "x", "max_tokens": 18446744073709551615})", "max_tokens");
  expect_rejected(R"({"prompt": "x", "stop": 3})", "stop");
  expect_rejected(R"({"prompt": "x", "stop": ["a", 1]})", "stop");
  expect_rejected(R"({"prompt": "x", "logprobs": 21})", "logprobs");
  expect_rejected(R"({"prompt": "x", "logprobs": true})", "logprobs");
  expect_rejected(R"({"prompt": "x", "presence_penalty": 2.5})", "presence_penalty");
  expect_rejected(R"({"prompt": "x", "frequency_penalty": -3})", "frequency_penalty");
  expect_rejected(R"({"prompt": "x", "repetition_penalty": 0})", "repetition_penalty");
  expect_rejected(R"({"prompt": "x", "stream": "yes"})", "stream");
  expect_rejected(R"({"prompt": "x", "stream_options": {"include_usage": true}})", "stream_options");
  expect_rejected(R"({"prompt": "x", "stream": true, "stream_options": 1})", "stream_options");
  expect_rejected(R"({"prompt": "x", "echo": 1})", "echo");
  expect_rejected(R"({"prompt": "x", "model": 5})", "model");
  expect_rejected(R"({"prompt": "x", "seed": "1"})", "seed");
}

TEST(ParseChatRequest, ReadsMessagesAndChatLogprobs) {
  auto r = parse_chat_request(R"({"messages": [{"role": "system", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": " there"}]},
      {"role": "assistant", "content": null}], "logprobs": true, "top_logprobs": 2})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->messages.size(), 3u);
  EXPECT_EQ(r->messages[1].content, "Hi there");
  EXPECT_EQ(r->messages[2].content, "");
  EXPECT_EQ(r->sampling.params.logprobs, 2);
  EXPECT_FALSE(r->sampling.max_tokens_given);
}

TEST(ParseChatRequest, RejectsBadMessagesAndTopLogprobsWithoutLogprobs) {
  for (const char* body : {R"({})", R"({"messages": []})", R"({"messages": "hi"})", R"({"messages": [1]})",
                           R"({"messages": [{"content": "x"}]})", R"({"messages": [{"role": "user", "content": 1}]})",
                           R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})"}) {
    auto r = parse_chat_request(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(error_param(r.status()), "messages") << body;
  }
  auto r = parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(error_param(r.status()), "top_logprobs");
}

TEST(ParseTokenizeRequest, PromptOrMessages) {
  auto p = parse_tokenize_request(R"({"prompt": "hi", "add_special_tokens": false})");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p->prompt, "hi");
  EXPECT_FALSE(p->add_special_tokens);
  auto m = parse_tokenize_request(R"({"messages": [{"role": "user", "content": "hi"}]})");
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->prompt.has_value());
  EXPECT_EQ(m->messages.size(), 1u);
  EXPECT_FALSE(parse_tokenize_request(R"({})").ok());
  EXPECT_FALSE(parse_tokenize_request(R"({"prompt": 3})").ok());
  EXPECT_FALSE(parse_tokenize_request("nope").ok());
}

TEST(ParseDetokenizeRequest, TokensMustBeIds) {
  auto d = parse_detokenize_request(R"({"tokens": [1, 2]})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->tokens, (std::vector<int32_t>{1, 2}));
  EXPECT_FALSE(parse_detokenize_request(R"({"tokens": "1 2"})").ok());
  EXPECT_FALSE(parse_detokenize_request(R"({"tokens": [-1]})").ok());
  EXPECT_FALSE(parse_detokenize_request(R"({})").ok());
}

std::string param_of(const std::string& body) {
  auto r = parse_completion_request(body);
  EXPECT_FALSE(r.ok()) << body;
  return r.ok() ? "" : error_param(r.status());
}

std::string chat_error_param(const std::string& extra) {
  auto r = parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}], )" + extra + "}");
  EXPECT_FALSE(r.ok()) << extra;
  return r.ok() ? "" : error_param(r.status());
}

TEST(ParseStructuredOutput, EachFieldBecomesOneConstraint) {
  using Kind = OutputConstraint::Kind;
  struct Case { const char* body; Kind kind; const char* param; };
  const Case cases[] = {
      {R"("response_format": {"type": "json_object"})", Kind::kJsonObject, "response_format"},
      {R"("response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}, "strict": true}})",
       Kind::kJsonSchema, "response_format"},
      {R"("response_format": {"type": "json_object", "schema": {"type": "array"}})", Kind::kJsonSchema, "response_format"},
      {R"("grammar": "root ::= \"a\"")", Kind::kGbnf, "grammar"},
      {R"("json_schema": {"type": "string"})", Kind::kJsonSchema, "json_schema"},
      {R"("guided_json": "{\"type\": \"integer\"}")", Kind::kJsonSchema, "guided_json"},
      {R"("guided_regex": "[a-z]+")", Kind::kRegex, "guided_regex"},
      {R"("guided_grammar": "root ::= [0-9]")", Kind::kGbnf, "guided_grammar"},
      {R"("guided_choice": ["yes", "no"])", Kind::kChoice, "guided_choice"},
  };
  for (const Case& c : cases) {
    auto r = parse_completion_request(std::string(R"({"prompt": "a", )") + c.body + "}");
    ASSERT_TRUE(r.ok()) << c.body << ": " << r.status().message();
    EXPECT_EQ(r->sampling.constraint.kind, c.kind) << c.body;
    EXPECT_EQ(r->sampling.constraint.param, c.param) << c.body;
  }
  auto schema = parse_completion_request(R"({"prompt": "a", "guided_json": {"type": "object", "properties": {"a": {"type": "integer"}}}})");
  ASSERT_TRUE(schema.ok());
  // Compact, in the order the client wrote it (properties keep the schema's order).
  EXPECT_EQ(schema->sampling.constraint.source, R"({"type":"object","properties":{"a":{"type":"integer"}}})");
  auto choice = parse_completion_request(R"({"prompt": "a", "guided_choice": ["yes", "no"]})");
  EXPECT_EQ(choice->sampling.constraint.choices, (std::vector<std::string>{"yes", "no"}));
}

TEST(ParseStructuredOutput, MalformedOrCombinedFieldsAreRefusedNamingTheField) {
  EXPECT_EQ(param_of(R"({"prompt": "a", "response_format": "json"})"), "response_format");
  EXPECT_EQ(param_of(R"({"prompt": "a", "response_format": {"type": "xml"}})"), "response_format");
  EXPECT_EQ(param_of(R"({"prompt": "a", "response_format": {"type": "json_schema"}})"), "response_format");
  EXPECT_EQ(param_of(R"({"prompt": "a", "response_format": {"type": "json_schema", "json_schema": {"schema": 3}}})"),
            "response_format");
  EXPECT_EQ(param_of(R"({"prompt": "a", "grammar": 5})"), "grammar");
  EXPECT_EQ(param_of(R"({"prompt": "a", "guided_json": "{not json"})"), "guided_json");
  EXPECT_EQ(param_of(R"({"prompt": "a", "guided_choice": []})"), "guided_choice");
  EXPECT_EQ(param_of(R"({"prompt": "a", "guided_choice": ["a", 1]})"), "guided_choice");
  EXPECT_EQ(param_of(R"({"prompt": "a", "grammar": "root ::= \"a\"", "guided_regex": "a"})"), "guided_regex");
}

TEST(ParseTools, ToolsChoiceAndParallelCalls) {
  auto r = parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}],
      "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
                {"type": "function", "function": {"name": "noop"}}],
      "tool_choice": {"type": "function", "function": {"name": "noop"}}, "parallel_tool_calls": false})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->tools.tools.size(), 2u);
  EXPECT_EQ(r->tools.tools[0].name, "get_weather");
  EXPECT_EQ(r->tools.tools[0].description, "d");
  EXPECT_EQ(r->tools.tools[0].parameters_json, R"({"type":"object","properties":{"city":{"type":"string"}}})");
  EXPECT_EQ(r->tools.tools[1].parameters_json, "{}");
  EXPECT_EQ(r->tools.choice, ToolChoice::kNamed);
  EXPECT_EQ(r->tools.named_function, "noop");
  EXPECT_FALSE(r->tools.parallel);
  EXPECT_TRUE(r->tools.forced());
  EXPECT_FALSE(r->tools.tools_json.empty());
  auto none = parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}],
      "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "none"})");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->tools.active());
}

TEST(ParseTools, BadToolsAreRefusedNamingTheField) {
  EXPECT_EQ(chat_error_param(R"("tools": {"type": "function"})"), "tools");
  EXPECT_EQ(chat_error_param(R"("tools": [{"type": "retrieval"}])"), "tools");
  EXPECT_EQ(chat_error_param(R"("tools": [{"type": "function", "function": {"name": ""}}])"), "tools");
  EXPECT_EQ(chat_error_param(R"("tools": [{"type": "function", "function": {"name": "f", "parameters": [1]}}])"), "tools");
  EXPECT_EQ(chat_error_param(R"("tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}])"),
            "tools");
  EXPECT_EQ(chat_error_param(R"("tools": [{"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "f"}}])"),
            "tools");
  EXPECT_EQ(chat_error_param(R"("tool_choice": "sometimes")"), "tool_choice");
  EXPECT_EQ(chat_error_param(R"("tool_choice": "required")"), "tool_choice");
  EXPECT_EQ(chat_error_param(R"("tools": [{"type": "function", "function": {"name": "f"}}],
      "tool_choice": {"type": "function", "function": {"name": "g"}})"), "tool_choice");
  EXPECT_EQ(chat_error_param(R"("tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required",
      "response_format": {"type": "json_object"})"), "response_format");
}

TEST(ParseChatRequest, ReadsToolCallsAndToolResults) {
  auto r = parse_chat_request(R"({"messages": [
      {"role": "user", "content": "weather?"},
      {"role": "assistant", "content": null, "tool_calls": [
          {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
          {"id": "call_2", "type": "function", "function": {"name": "noop", "arguments": {"x": 1}}}]},
      {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "sunny"}]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->messages.size(), 3u);
  const ChatMessage& assistant = r->messages[1];
  EXPECT_EQ(assistant.content, "");
  ASSERT_EQ(assistant.tool_calls.size(), 2u);
  EXPECT_EQ(assistant.tool_calls[0].id, "call_1");
  EXPECT_EQ(assistant.tool_calls[0].name, "get_weather");
  EXPECT_EQ(assistant.tool_calls[0].arguments, R"({"city": "Paris"})");
  EXPECT_EQ(assistant.tool_calls[1].arguments, R"({"x":1})");
  EXPECT_EQ(r->messages[2].tool_call_id, "call_1");
  EXPECT_EQ(r->messages[2].name, "get_weather");
  EXPECT_FALSE(parse_chat_request(R"({"messages": [{"role": "assistant", "tool_calls": [{"function": {}}]}]})").ok());
  EXPECT_FALSE(parse_chat_request(R"({"messages": [{"role": "tool", "tool_call_id": 3, "content": "x"}]})").ok());
}

}  // namespace
}  // namespace tessera::serve
