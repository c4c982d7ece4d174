// ChatTemplate with OpenAI messages carrying tool calls, tool results and a tools list: through
// ChatMessage/ChatRenderOptions, every shared template renders what Python Jinja2 rendered for the
// same conversation (jinja_renders.json), so the conversion to template values matches
// Hugging Face's (tool-call arguments as mappings, content None beside tool calls).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "chat/chat_template.h"
#include "chat/jinja/json.h"

namespace tessera {
namespace {

using jinja::Value;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string str_field(const jinja::DictData& d, std::string_view key) {
  const Value* v = d.find(key);
  return v != nullptr && v->is_string() ? v->as_string() : "";
}

std::vector<ChatMessage> to_messages(const Value& messages) {
  std::vector<ChatMessage> out;
  for (const Value& m : messages.as_list().items) {
    const jinja::DictData& d = m.as_dict();
    ChatMessage message{str_field(d, "role"), str_field(d, "content")};
    message.tool_call_id = str_field(d, "tool_call_id");
    message.name = str_field(d, "name");
    if (const Value* calls = d.find("tool_calls")) {
      for (const Value& c : calls->as_list().items) {
        const jinja::DictData& function = c.as_dict().find("function")->as_dict();
        message.tool_calls.push_back({str_field(c.as_dict(), "id"), str_field(function, "name"),
                                      jinja::to_json(*function.find("arguments"), {})});
      }
    }
    out.push_back(std::move(message));
  }
  return out;
}

TEST(ChatMessages, ToolCallsAndToolResultsReachEverySharedTemplateAsInHuggingFace) {
  const std::filesystem::path dir = std::filesystem::path(TESSERA_SHARED_DIR) / "chat-templates";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no " << dir;
  auto doc = jinja::parse_json(read_text(std::filesystem::path(TESSERA_CHAT_TEST_DIR) / "jinja_renders.json"), 512);
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  const jinja::DictData& root = doc->as_dict();
  ChatRenderOptions options;
  options.now = std::tm{};
  options.now->tm_year = 126;  // render_jinja_reference.py's FIXED_NOW, 2026-03-07 14:05:09
  options.now->tm_mon = 2;
  options.now->tm_mday = 7;
  options.now->tm_hour = 14;
  options.now->tm_min = 5;
  options.now->tm_sec = 9;
  options.now->tm_wday = 6;
  options.now->tm_yday = 65;
  size_t checked = 0;
  for (const Value& r : root.find("renders")->as_list().items) {
    const jinja::DictData& c = r.as_dict();
    const std::string name = str_field(c, "template");
    const std::string conversation = str_field(c, "conversation");
    SCOPED_TRACE(name + " / " + conversation);
    const jinja::DictData& conv = root.find("conversations")->as_dict().find(conversation)->as_dict();
    auto tmpl = ChatTemplate::from_source(read_text(dir / name), str_field(root, "bos_token"), str_field(root, "eos_token"));
    ASSERT_TRUE(tmpl.ok()) << tmpl.status().message();
    options.add_generation_prompt = c.find("add_generation_prompt")->as_bool();
    options.tools_json = conv.find("tools")->is_none() ? "" : jinja::to_json(*conv.find("tools"), {});
    const std::vector<ChatMessage> messages = to_messages(*conv.find("messages"));
    const Expected<std::string> text = tmpl->render(messages, options);
    const Value& expected = *c.find("expected");
    if (expected.is_none()) {
      EXPECT_FALSE(text.ok());
    } else {
      ASSERT_TRUE(text.ok()) << text.status().message();
      EXPECT_EQ(*text, expected.as_string());
    }
    ++checked;
  }
  EXPECT_GE(checked, 650u);
}

TEST(ChatMessages, BadToolsJsonIsAnError) {
  auto tmpl = ChatTemplate::from_family_name("chatml", "", "");
  ASSERT_TRUE(tmpl.ok());
  ChatRenderOptions options;
  options.tools_json = "[{";
  EXPECT_EQ(tmpl->render(std::vector<ChatMessage>{{"user", "U"}}, options).status().code(), StatusCode::kInvalidArgument);
  options.tools_json = "{}";
  EXPECT_EQ(tmpl->render(std::vector<ChatMessage>{{"user", "U"}}, options).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera
