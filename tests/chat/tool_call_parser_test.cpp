// The tool-call parser on every format: the whole parse of model outputs with one call, parallel
// calls, text around them and reasoning; the stream fed in every 1-byte split and random splits
// adds up to exactly the whole parse; malformed calls stay content; random bytes never crash.
#include <gtest/gtest.h>

#include <random>

#include "chat/tool_call_parser.h"

namespace tessera {

bool operator==(const ParsedToolCall& a, const ParsedToolCall& b) { return a.name == b.name && a.arguments == b.arguments; }
void PrintTo(const ParsedToolCall& c, std::ostream* os) { *os << c.name << "(" << c.arguments << ")"; }

namespace {

struct Case {
  ToolCallFormat format;
  std::string text;
  std::string content;
  std::vector<ParsedToolCall> calls;
  std::string reasoning = "";
  ToolCallParseOptions options = {};
};

const ParsedToolCall kWeather{"get_weather", R"({"city":"Zürich","unit":"celsius"})"};
const ParsedToolCall kTime{"get_time", R"({"tz":"Europe/Zurich","precise":true,"n":[1,2.50]})"};

std::vector<Case> well_formed_cases() {
  using F = ToolCallFormat;
  return {
      {F::kHermes, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\", \"unit\": \"celsius\"}}\n</tool_call>", "", {kWeather}},
      {F::kHermes,
       "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\", \"unit\": \"celsius\"}}\n</tool_call>\n"
       "<tool_call>\n{\"arguments\": {\"tz\": \"Europe/Zurich\", \"precise\": true, \"n\": [1, 2.50]}, \"name\": \"get_time\"}\n</tool_call>",
       "Let me check.",
       {kWeather, kTime}},
      {F::kHermes, "<tool_call>{\"name\": \"ping\"}</tool_call> done", "done", {{"ping", "{}"}}},
      {F::kHermes, "<tool_call>{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Zürich\\\", \\\"unit\\\": \\\"celsius\\\"}\"}</tool_call>", "", {kWeather}},
      {F::kHermes, "No tools needed: 1 < 2 and <tool> is fine.", "No tools needed: 1 < 2 and <tool> is fine.", {}},
      {F::kLlama3Json, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Zürich\", \"unit\": \"celsius\"}}", "", {kWeather}},
      {F::kLlama3Json,
       "<|python_tag|>{\"type\": \"function\", \"name\": \"get_weather\", \"parameters\": {\"city\": \"Zürich\", \"unit\": \"celsius\"}}; "
       "{\"name\": \"get_time\", \"parameters\": {\"tz\": \"Europe/Zurich\", \"precise\": true, \"n\": [1, 2.50]}}",
       "",
       {kWeather, kTime}},
      {F::kLlama3Json, "{\"a\": 1} is JSON, not a call.", "{\"a\": 1} is JSON, not a call.", {}},
      {F::kLlama3Json, "The answer is {\"name\": \"x\"}.", "The answer is {\"name\": \"x\"}.", {}},
      {F::kMistralV1,
       "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\", \"unit\": \"celsius\"}, \"id\": \"abcdef123\"}, "
       "{\"name\": \"get_time\", \"arguments\": {\"tz\": \"Europe/Zurich\", \"precise\": true, \"n\": [1, 2.50]}}]",
       "",
       {kWeather, kTime}},
      {F::kMistralV2, "[TOOL_CALLS]météo[ARGS]{}", "", {{"météo", "{}"}}},  // a name cut inside a character while streaming
      {F::kMistralV2,
       "Sure.[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Zürich\", \"unit\": \"celsius\"}[TOOL_CALLS]get_time[CALL_ID]a1b2c3d4e[ARGS]"
       "{\"tz\": \"Europe/Zurich\", \"precise\": true, \"n\": [1, 2.50]}",
       "Sure.",
       {kWeather, kTime}},
      {F::kCommandR7B,
       "<|START_ACTION|>[\n    {\"tool_call_id\": \"0\", \"tool_name\": \"get_weather\", \"parameters\": {\"city\": \"Zürich\", \"unit\": \"celsius\"}}\n]<|END_ACTION|>",
       "",
       {kWeather}},
      {F::kFirefunctionV2, " functools[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\", \"unit\": \"celsius\"}}]", "", {kWeather}},
      {F::kGranite, "<|tool_call|>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\", \"unit\": \"celsius\"}}]", "", {kWeather}},
      {F::kNemotronV2, "<TOOLCALL>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\", \"unit\": \"celsius\"}}]</TOOLCALL>", "", {kWeather}},
      {F::kApriel, "<tool_calls>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\", \"unit\": \"celsius\"}, \"id\": \"c\"}]</tool_calls>", "", {kWeather}},
      {F::kFunctionaryV31, "<function=get_weather>{\"city\": \"Zürich\", \"unit\": \"celsius\"}</function>", "", {kWeather}},
      {F::kDeepSeekR1,
       "Checking.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Zürich\", \"unit\": \"celsius\"}\n```"
       "<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
       "Checking.",
       {kWeather}},
      {F::kDeepSeekV31,
       "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"Zürich\", \"unit\": \"celsius\"}<｜tool▁call▁end｜>"
       "<｜tool▁call▁begin｜>get_time<｜tool▁sep｜>{\"tz\": \"Europe/Zurich\", \"precise\": true, \"n\": [1, 2.50]}<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
       "",
       {kWeather, kTime}},
      {F::kKimiK2,
       "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{\"city\": \"Zürich\", \"unit\": \"celsius\"}"
       "<|tool_call_end|><|tool_call_begin|>functions.get_time:1<|tool_call_argument_begin|>{\"tz\": \"Europe/Zurich\", \"precise\": true, \"n\": [1, 2.50]}"
       "<|tool_call_end|><|tool_calls_section_end|>",
       "",
       {kWeather, kTime}},
      {F::kQwen3CoderXml,
       "<tool_call>\n<function=get_weather>\n<parameter=city>\nZürich\n</parameter>\n<parameter=unit>\ncelsius\n</parameter>\n</function>\n</tool_call>\n"
       "<tool_call>\n<function=get_time>\n<parameter=tz>\nEurope/Zurich\n</parameter>\n<parameter=precise>\ntrue\n</parameter>\n"
       "<parameter=n>\n[1, 2.50]\n</parameter>\n</function>\n</tool_call>",
       "",
       {kWeather, kTime}},
      {F::kGlm45,
       "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Zürich</arg_value>\n<arg_key>unit</arg_key>\n<arg_value>celsius</arg_value>\n</tool_call>",
       "",
       {kWeather}},
      {F::kGlm45, "<tool_call>ping</tool_call>", "", {{"ping", "{}"}}},
      {F::kMiniMaxM2,
       "Let me look.\n<minimax:tool_call>\n<invoke name=\"get_weather\">\n<parameter name=\"city\">Zürich</parameter>\n<parameter name=\"unit\">celsius</parameter>\n"
       "</invoke>\n<invoke name=\"get_time\">\n<parameter name=\"tz\">Europe/Zurich</parameter>\n<parameter name=\"precise\">true</parameter>\n"
       "<parameter name=\"n\">[1, 2.50]</parameter>\n</invoke>\n</minimax:tool_call>",
       "Let me look.",
       {kWeather, kTime}},
      {F::kDeepSeekV32,
       "</think>\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"get_weather\">\n<｜DSML｜parameter name=\"city\" string=\"true\">Zürich</｜DSML｜parameter>\n"
       "<｜DSML｜parameter name=\"unit\" string=\"true\">celsius</｜DSML｜parameter>\n</｜DSML｜invoke>\n<｜DSML｜invoke name=\"get_time\">\n"
       "<｜DSML｜parameter name=\"tz\" string=\"true\">Europe/Zurich</｜DSML｜parameter>\n<｜DSML｜parameter name=\"precise\" string=\"false\">true</｜DSML｜parameter>\n"
       "<｜DSML｜parameter name=\"n\" string=\"false\">[1, 2.50]</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜function_calls>",
       "",
       {kWeather, kTime}, "", {true, true}},
      {F::kDeepSeekV4,
       "<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter name=\"code\" string=\"true\">42</｜DSML｜parameter>\n"
       "<｜DSML｜parameter name=\"n\" string=\"false\">42</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>",
       "",
       {{"f", R"({"code":"42","n":42})"}}},
      {F::kGeneric, "{\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\", \"unit\": \"celsius\"}}]}", "", {kWeather}},
      {F::kGeneric, "{\"tool_call\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\", \"unit\": \"celsius\"}}}", "", {kWeather}},
      {F::kGeneric, "{\"response\": \"Hello \\\"there\\\"\"}", "Hello \"there\"", {}},
      {F::kNone, "<tool_call>{\"name\": \"x\"}</tool_call>", "<tool_call>{\"name\": \"x\"}</tool_call>", {}},
      {F::kHermes, "<think>\nThe user wants weather.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\", \"unit\": \"celsius\"}}\n</tool_call>",
       "", {kWeather}, "The user wants weather.", {true, false}},
      {F::kDeepSeekR1, "Thinking about <b>it</b>.\n</think>\n\nIt is sunny.", "It is sunny.", {}, "Thinking about <b>it</b>.", {true, true}},
      {F::kHermes, "Plain answer, <think> later is content.", "Plain answer, <think> later is content.", {}, "", {true, false}},
  };
}

// The stream's events, assembled as the OpenAI client assembles delta.tool_calls.
ParsedAssistantMessage run_stream(const Case& c, const std::vector<size_t>& cuts) {
  StreamingToolCallParser parser(c.format, c.options);
  ParsedAssistantMessage out;
  auto apply = [&](const std::vector<ToolCallEvent>& events) {
    for (const ToolCallEvent& e : events) {
      switch (e.kind) {
        case ToolCallEvent::Kind::kContent: out.content += e.text; break;
        case ToolCallEvent::Kind::kReasoning: out.reasoning_content += e.text; break;
        case ToolCallEvent::Kind::kToolCallStart:
          EXPECT_EQ(e.index, out.tool_calls.size());
          out.tool_calls.push_back({e.text, ""});
          break;
        case ToolCallEvent::Kind::kArguments:
          EXPECT_LT(e.index, out.tool_calls.size());
          EXPECT_FALSE(e.text.empty());
          if (e.index < out.tool_calls.size()) out.tool_calls[e.index].arguments += e.text;
          break;
      }
    }
  };
  size_t at = 0;
  for (size_t cut : cuts) {
    apply(parser.feed(std::string_view(c.text).substr(at, cut - at)));
    at = cut;
  }
  apply(parser.feed(std::string_view(c.text).substr(at)));
  apply(parser.finish());
  const ParsedAssistantMessage whole = parser.result();
  EXPECT_EQ(whole.content, out.content);
  EXPECT_EQ(whole.tool_calls, out.tool_calls);
  return out;
}

void expect_same(const ParsedAssistantMessage& got, const ParsedAssistantMessage& want) {
  EXPECT_EQ(got.content, want.content);
  EXPECT_EQ(got.reasoning_content, want.reasoning_content);
  EXPECT_EQ(got.tool_calls, want.tool_calls);
}

TEST(ToolCallParser, ParsesEveryFormat) {
  for (const Case& c : well_formed_cases()) {
    SCOPED_TRACE(std::string(tool_call_format_name(c.format)) + ": " + c.text);
    const ParsedAssistantMessage m = parse_assistant_output(c.format, c.text, c.options);
    EXPECT_EQ(m.content, c.content);
    EXPECT_EQ(m.reasoning_content, c.reasoning);
    EXPECT_EQ(m.tool_calls, c.calls);
  }
}

// Splits of the text: every 1-byte split, the whole text at once, and random splits.
std::vector<std::vector<size_t>> splits_of(const std::string& text, std::mt19937& rng) {
  std::vector<std::vector<size_t>> splits(2);
  for (size_t i = 1; i < text.size(); ++i) splits[0].push_back(i);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<size_t>& cuts = splits.emplace_back();
    for (size_t at = 1 + rng() % 12; at < text.size(); at += 1 + rng() % 12) cuts.push_back(at);
  }
  return splits;
}

TEST(ToolCallParser, StreamInEverySplitEqualsTheWholeParse) {
  std::mt19937 rng(25);
  for (const Case& c : well_formed_cases()) {
    SCOPED_TRACE(std::string(tool_call_format_name(c.format)) + ": " + c.text);
    const ParsedAssistantMessage whole = parse_assistant_output(c.format, c.text, c.options);
    for (const std::vector<size_t>& cuts : splits_of(c.text, rng)) expect_same(run_stream(c, cuts), whole);
  }
}

TEST(ToolCallParser, StreamsArgumentsBeforeTheCallEnds) {
  StreamingToolCallParser parser(ToolCallFormat::kHermes);
  std::vector<ToolCallEvent> events = parser.feed("Hi <tool_");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], (ToolCallEvent{ToolCallEvent::Kind::kContent, 0, "Hi"}));  // "<tool_" and the space held back
  events = parser.feed("call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zür");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0], (ToolCallEvent{ToolCallEvent::Kind::kToolCallStart, 0, "get_weather"}));
  EXPECT_EQ(events[1], (ToolCallEvent{ToolCallEvent::Kind::kArguments, 0, "{\"city\":\"Zür"}));
  EXPECT_TRUE(parser.has_tool_calls());
  events = parser.feed("\xc3");  // half of an 'é': nothing yet
  EXPECT_TRUE(events.empty());
  events = parser.feed("\xa9\"}}\n</tool_call>");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], (ToolCallEvent{ToolCallEvent::Kind::kArguments, 0, "é\"}"}));
  EXPECT_TRUE(parser.finish().empty());
  EXPECT_TRUE(parser.feed("more").empty());
}

TEST(ToolCallParser, MalformedCallsStayContent) {
  using F = ToolCallFormat;
  const std::pair<F, std::string> cases[] = {
      {F::kHermes, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": }\n</tool_call>"},
      {F::kHermes, "<tool_call>\n{\"arguments\": {}}\n</tool_call>"},
      {F::kHermes, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zür"},  // cut by max_tokens
      {F::kHermes, "<tool_call>\n{\"name\": \"two words\"}</tool_call>"},
      {F::kHermes, "<tool_call>{\"name\": \"f\", \"arguments\": [1]}</tool_call>"},
      {F::kHermes, "<tool_call>{\"name\": \"f\", \"arguments\": \"not json\"}</tool_call>"},
      {F::kMistralV2, "[TOOL_CALLS]get_weather[ARGS]not json"},
      {F::kMistralV2, "[TOOL_CALLS] is a marker I like"},
      {F::kKimiK2, "<|tool_call_begin|>functions.f:0 and then a long story that never reaches the argument marker at all, at all"},
      {F::kQwen3CoderXml, "<tool_call>\n<function=f>\n<parameter=x>\n1\n</tool_call>"},
      {F::kGlm45, "<tool_call>f\n<arg_key>x</arg_key>\n<oops>"},
      {F::kLlama3Json, "{\"name\": \"f\", \"parameters\": {\"a\": 1}"},
      {F::kDeepSeekV31, "<｜tool▁call▁begin｜>f<｜tool▁sep｜>{\"a\": tru}<｜tool▁call▁end｜>"},
      {F::kGlm45, "<tool_call>f\n<arg_key>x</arg_key>\n<arg_value>bad \xff byte</arg_value>\n</tool_call>"},  // found by fuzzing
      {F::kGlm45, "<tool_call>f\n<arg_key>x</arg_ll>f\n<arg_key>x</arg_key>\n<arg_value>1</arg_value>\n</tool_call>"},
      {F::kFunctionaryV31, "<function=f\xc3>{}</function>"},
  };
  for (const auto& [format, text] : cases) {
    SCOPED_TRACE(text);
    const ParsedAssistantMessage m = parse_assistant_output(format, text);
    EXPECT_TRUE(m.tool_calls.empty());
    EXPECT_FALSE(m.content.empty());
    // The stream ends with the same content, whatever it announced on the way.
    StreamingToolCallParser parser(format);
    std::string content;
    for (char ch : text) {
      for (const ToolCallEvent& e : parser.feed(std::string_view(&ch, 1))) {
        if (e.kind == ToolCallEvent::Kind::kContent) content += e.text;
      }
    }
    for (const ToolCallEvent& e : parser.finish()) {
      if (e.kind == ToolCallEvent::Kind::kContent) content += e.text;
    }
    EXPECT_EQ(content, m.content);
    EXPECT_TRUE(parser.result().tool_calls.empty());
  }
}

TEST(ToolCallParser, GoodCallsAfterABrokenOneStillParse) {
  const ParsedAssistantMessage m = parse_assistant_output(
      ToolCallFormat::kHermes, "<tool_call>{\"name\": oops}</tool_call>\n<tool_call>{\"name\": \"ping\", \"arguments\": {}}</tool_call>");
  EXPECT_EQ(m.content, "<tool_call>{\"name\": oops}</tool_call>");
  EXPECT_EQ(m.tool_calls, (std::vector<ParsedToolCall>{{"ping", "{}"}}));
}

TEST(ToolCallParser, RandomBytesNeverCrashAndStreamAgreesAtTheEnd) {
  std::mt19937 rng(7);
  const std::string_view alphabet[] = {"<tool_call>", "</tool_call>", "{", "}", "[", "]", "\"name\"", "\"arguments\"", ":", ",", "\"f\"",
                                       "1", " ", "\n", "[TOOL_CALLS]", "[ARGS]", "<function=", ">", "</function>", "<parameter=",
                                       "</parameter>", "<think>", "</think>", "\xc3", "\xa9", "\"", "\\", ";", "<|python_tag|>"};
  const ToolCallFormat formats[] = {ToolCallFormat::kHermes, ToolCallFormat::kLlama3Json, ToolCallFormat::kMistralV1,
                                    ToolCallFormat::kMistralV2, ToolCallFormat::kQwen3CoderXml, ToolCallFormat::kGlm45,
                                    ToolCallFormat::kFunctionaryV31, ToolCallFormat::kGeneric, ToolCallFormat::kMiniMaxM2,
                                    ToolCallFormat::kDeepSeekR1, ToolCallFormat::kKimiK2, ToolCallFormat::kDeepSeekV32};
  for (int trial = 0; trial < 3000; ++trial) {
    std::string text;
    const int pieces = 1 + static_cast<int>(rng() % 30);
    for (int i = 0; i < pieces; ++i) text += alphabet[rng() % std::size(alphabet)];
    const ToolCallFormat format = formats[rng() % std::size(formats)];
    const ToolCallParseOptions options{rng() % 2 == 0, rng() % 4 == 0};
    const ParsedAssistantMessage whole = parse_assistant_output(format, text, options);
    StreamingToolCallParser parser(format, options);
    for (size_t at = 0; at < text.size();) {
      const size_t n = 1 + rng() % 5;
      parser.feed(std::string_view(text).substr(at, n));
      at += n;
    }
    parser.finish();
    const ParsedAssistantMessage streamed = parser.result();
    ASSERT_EQ(streamed.content, whole.content) << text;
    ASSERT_EQ(streamed.tool_calls, whole.tool_calls) << text;
  }
}

}  // namespace
}  // namespace tessera
