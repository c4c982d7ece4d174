// Fuzzes the tool-call parser (src/chat/tool_call_parser.h) with the input as a model's output:
// byte 0 picks the format, byte 1 the reasoning options and how the stream is split, the rest is
// the text. Any text must parse without a crash or a hang; every call's arguments must be one
// complete JSON object; the stream, fed in pieces, must end in the same message as the whole parse.
// Seeds: one well-formed output per format (make_seeds.cpp).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.h"
#include "chat/json_scan.h"
#include "chat/tool_call_parser.h"

using namespace tessera;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const auto format = static_cast<ToolCallFormat>(data[0] % kToolCallFormatCount);
  const ToolCallParseOptions options{(data[1] & 1) != 0, (data[1] & 2) != 0};
  const size_t piece = 1 + (data[1] >> 2);  // 1..64 bytes a delta
  const std::string_view text(reinterpret_cast<const char*>(data) + 2, size - 2);

  const ParsedAssistantMessage whole = parse_assistant_output(format, text, options);
  for (const ParsedToolCall& call : whole.tool_calls) {
    const chat::JsonScan scan = chat::scan_json_value(call.arguments, 0);
    TS_CHECK(!call.name.empty() && !call.arguments.empty() && call.arguments[0] == '{', "a call without a name or object");
    TS_CHECK(scan.state == chat::JsonState::kComplete && scan.end == call.arguments.size(), "arguments that are not one JSON value");
  }
  StreamingToolCallParser stream(format, options);
  for (size_t at = 0; at < text.size(); at += piece) stream.feed(text.substr(at, piece));
  stream.finish();
  const ParsedAssistantMessage streamed = stream.result();
  TS_CHECK(streamed.content == whole.content && streamed.reasoning_content == whole.reasoning_content,
           "the stream's content differs from the whole parse");
  TS_CHECK(streamed.tool_calls.size() == whole.tool_calls.size(), "the stream's calls differ from the whole parse");
  for (size_t i = 0; i < whole.tool_calls.size(); ++i) {
    TS_CHECK(streamed.tool_calls[i].name == whole.tool_calls[i].name && streamed.tool_calls[i].arguments == whole.tool_calls[i].arguments,
             "the stream's call %zu differs from the whole parse", i);
  }
  return 0;
}
