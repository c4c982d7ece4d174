// Fuzzes the Jinja chat-template interpreter (src/chat/jinja/) with the input as template source,
// rendered for a conversation with a system prompt, tool definitions, a tool call and its result.
// Any source must give text within the limits or a Status with a message: no crash, no hang, no
// unbounded memory. Seeds: the real templates under ../shared/chat-templates/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.h"
#include "chat/jinja/json.h"
#include "chat/jinja/template.h"

namespace {

using namespace tessera;
using namespace tessera::jinja;

constexpr std::string_view kMessages = R"([
  {"role": "system", "content": "You are helpful."},
  {"role": "user", "content": "Weather in Zürich?"},
  {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
    "function": {"name": "get_weather", "arguments": {"city": "Zürich"}}}]},
  {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"t\": 21}"},
  {"role": "assistant", "content": "21 degrees."},
  {"role": "user", "content": "Thanks"}])";
constexpr std::string_view kTools = R"([{"type": "function", "function": {"name": "get_weather",
  "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
  "required": ["city"]}}}])";

// Tighter than the defaults so that each input runs in milliseconds.
RenderLimits fuzz_limits() {
  RenderLimits limits;
  limits.max_output_bytes = 1 << 20;
  limits.max_steps = 200'000;
  limits.max_call_depth = 16;
  limits.max_nesting = 64;
  return limits;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const DictData variables = [] {
    DictData v;
    v.set("messages", *parse_json(kMessages));
    v.set("tools", *parse_json(kTools));
    v.set("documents", Value::none());
    v.set("add_generation_prompt", Value(true));
    v.set("bos_token", Value("<s>"));
    v.set("eos_token", Value("</s>"));
    return v;
  }();
  static const RenderLimits limits = fuzz_limits();
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  auto parsed = Template::parse(source, limits);
  if (!parsed.ok()) {
    TS_CHECK(!parsed.status().message().empty(), "a parse error without a message");
    return 0;
  }
  std::tm now{};
  now.tm_year = 126;
  now.tm_mday = 1;
  auto text = parsed->render(variables, now);
  if (text.ok()) {
    TS_CHECK(text->size() <= limits.max_output_bytes, "output over the limit: %zu bytes", text->size());
  } else {
    TS_CHECK(!text.status().message().empty(), "a render error without a message");
  }
  return 0;
}
