// probe_tool_template: renders a one-call and a two-call conversation under each combination of
// adaptations, cheapest first, and keeps the first that renders.
#include "chat/tool_template_caps.h"

#include <cstdint>

namespace tessera {
namespace {

constexpr std::string_view kProbeTools =
    R"([{"type": "function", "function": {"name": "probe_tool", "description": "A probe.",)"
    R"( "parameters": {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}}}])";

// Text that only the rendered calls (with their index after it) and the result contain.
constexpr std::string_view kProbeValue = "probe_value_7f3e";
constexpr std::string_view kProbeResult = "probe_result_7f3e";

std::vector<ChatMessage> probe_conversation(int calls, bool nine_char_ids) {
  std::vector<ChatMessage> messages = {{"system", "S"}, {"user", "U"}};
  ChatMessage assistant{"assistant", ""};
  for (int i = 0; i < calls; ++i) {
    const std::string id = nine_char_ids ? "abcdefgh" + std::to_string(i) : "call_" + std::to_string(i);
    assistant.tool_calls.push_back({id, "probe_tool", std::string(R"({"x": ")") + std::string(kProbeValue) + std::to_string(i) + "\"}"});
  }
  messages.push_back(assistant);
  for (const ChatToolCall& call : assistant.tool_calls) {
    ChatMessage result{"tool", std::string(kProbeResult)};
    result.tool_call_id = call.id;
    result.name = call.name;
    messages.push_back(result);
  }
  return messages;
}

bool renders(const ChatTemplate& t, const ToolTemplateCaps& caps, int calls) {
  ChatRenderOptions options;
  options.tools_json = std::string(kProbeTools);
  options.now = std::tm{};
  caps.apply_to(&options);
  // It must render, and show the call and the result: some templates that raise on content None
  // render content "" but then leave the calls out.
  const Expected<std::string> text = t.render(probe_conversation(calls, caps.needs_nine_char_ids), options);
  if (!text.ok() || text->find(kProbeResult) == std::string::npos) return false;
  for (int i = 0; i < calls; ++i) {
    if (text->find(std::string(kProbeValue) + std::to_string(i)) == std::string::npos) return false;  // a call left out
  }
  return true;
}

}  // namespace

ToolTemplateCaps probe_tool_template(const ChatTemplate& chat_template) {
  for (int variant = 0; variant < 8; ++variant) {
    ToolTemplateCaps caps;
    caps.needs_string_content = (variant & 1) != 0;
    caps.needs_string_arguments = (variant & 2) != 0;
    caps.needs_nine_char_ids = (variant & 4) != 0;
    if (!renders(chat_template, caps, 1)) continue;
    caps.renders_tool_calls = true;
    caps.parallel_tool_calls = renders(chat_template, caps, 2);
    return caps;
  }
  return {};
}

std::string nine_char_call_id(std::string_view id) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  bool ok = id.size() == 9;
  for (char c : id) ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
  if (ok) return std::string(id);
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : id) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  std::string out(9, 'A');
  for (char& c : out) {
    c = kAlphabet[h % 62];
    h /= 62;
    if (h == 0) h = 0x9E3779B97F4A7C15ull;
  }
  return out;
}

std::vector<ChatMessage> adapt_tool_messages(std::vector<ChatMessage> messages, const ToolTemplateCaps& caps) {
  if (!caps.needs_nine_char_ids) return messages;
  for (ChatMessage& m : messages) {
    for (ChatToolCall& call : m.tool_calls) call.id = nine_char_call_id(call.id);
    if (!m.tool_call_id.empty()) m.tool_call_id = nine_char_call_id(m.tool_call_id);
  }
  return messages;
}

}  // namespace tessera
