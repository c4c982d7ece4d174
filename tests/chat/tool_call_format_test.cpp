// Tool-call formats against the real templates in ../shared/chat-templates/: each template's
// detected format, and the round trip that matters: an assistant message with two tool calls and
// a tool result, rendered by the template itself (OpenAI-shaped messages, arguments as JSON text),
// then the assistant's part parsed back with the detected format gives the same calls.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "chat/chat_template.h"
#include "chat/jinja/json.h"
#include "chat/tool_call_format.h"
#include "chat/tool_call_parser.h"
#include "chat/tool_template_caps.h"
#include "chat/test_files.h"

namespace tessera {
namespace {

using test::read_text;

std::filesystem::path template_dir() { return test::chat_template_dir(); }

// What each shared template teaches (reviewed by rendering its tool calls); kGeneric where the
// template has tools in a format not parsed here, kNone where it has no tools.
const std::map<std::string, ToolCallFormat>& expected_formats() {
  using F = ToolCallFormat;
  static const std::map<std::string, ToolCallFormat> formats = {
      {"Apertus-8B-Instruct.jinja", F::kGeneric},
      {"Apriel-1.6-15b-Thinker-fixed.jinja", F::kApriel},
      {"Bielik-11B-v3.0-Instruct.jinja", F::kHermes},
      {"ByteDance-Seed-OSS.jinja", F::kSeedOss},
      {"Cohere2MoE.jinja", F::kCommandR7B},
      {"CohereForAI-c4ai-command-r-plus-tool_use.jinja", F::kGeneric},
      {"CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja", F::kCommandR7B},
      {"GLM-4.6.jinja", F::kGlm45},
      {"GLM-4.7-Flash.jinja", F::kGlm45},
      {"GigaChat3-10B-A1.8B.jinja", F::kGeneric},
      {"GigaChat3.1-10B-A1.8B.jinja", F::kGigaChat31},
      {"HuggingFaceTB-SmolLM3-3B.jinja", F::kNone},
      {"Kimi-K2-Instruct.jinja", F::kKimiK2},
      {"Kimi-K2-Thinking.jinja", F::kKimiK2},
      {"LFM2-8B-A1B.jinja", F::kGeneric},
      {"LFM2.5-8B-A1B.jinja", F::kGeneric},
      {"LFM2.5-Instruct.jinja", F::kGeneric},
      {"MiMo-VL.jinja", F::kHermes},
      {"MiniMax-M2.jinja", F::kMiniMaxM2},
      {"MiniMax-M3.jinja", F::kGeneric},
      {"Mistral-Small-3.2-24B-Instruct-2506.jinja", F::kMistralV2},
      {"NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.jinja", F::kQwen3CoderXml},
      {"NVIDIA-Nemotron-Nano-v2.jinja", F::kNemotronV2},
      {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja", F::kHermes},
      {"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", F::kHermes},
      {"Qwen-QwQ-32B.jinja", F::kHermes},
      {"Qwen-Qwen2.5-7B-Instruct.jinja", F::kHermes},
      {"Qwen-Qwen3-0.6B.jinja", F::kHermes},
      {"Qwen3-Coder.jinja", F::kQwen3CoderXml},
      {"Qwen3.5-4B.jinja", F::kQwen3CoderXml},
      {"Reka-Edge.jinja", F::kHermes},
      {"StepFun3.5-Flash.jinja", F::kQwen3CoderXml},
      {"deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", F::kDeepSeekR1},
      {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", F::kDeepSeekR1},
      {"deepseek-ai-DeepSeek-V3.1.jinja", F::kDeepSeekV31},
      {"deepseek-ai-DeepSeek-V3.2.jinja", F::kDeepSeekV32},
      {"deepseek-ai-DeepSeek-V4-Flash-0731.jinja", F::kDeepSeekV4},
      {"deepseek-ai-DeepSeek-V4.jinja", F::kDeepSeekV4},
      {"fireworks-ai-llama-3-firefunction-v2.jinja", F::kFirefunctionV2},
      {"google-gemma-2-2b-it.jinja", F::kNone},
      {"google-gemma-4-31B-it-interleaved.jinja", F::kGeneric},
      {"google-gemma-4-31B-it.jinja", F::kGeneric},
      {"ibm-granite-granite-3.3-2B-Instruct.jinja", F::kGranite},
      {"ibm-granite-granite-4.0.jinja", F::kHermes},
      {"ibm-granite-granite-4.1.jinja", F::kHermes},
      {"llama-cpp-deepseek-r1.jinja", F::kDeepSeekR1},
      {"llama-cpp-rwkv-world.jinja", F::kNone},
      {"meetkai-functionary-medium-v3.1.jinja", F::kFunctionaryV31},
      {"meetkai-functionary-medium-v3.2.jinja", F::kGeneric},
      {"meta-llama-Llama-3.1-8B-Instruct.jinja", F::kLlama3Json},
      {"meta-llama-Llama-3.2-3B-Instruct.jinja", F::kLlama3Json},
      {"meta-llama-Llama-3.3-70B-Instruct.jinja", F::kLlama3Json},
      {"microsoft-Phi-3.5-mini-instruct.jinja", F::kNone},
      {"mistralai-Ministral-3-14B-Reasoning-2512.jinja", F::kMistralV2},
      {"mistralai-Mistral-Nemo-Instruct-2407.jinja", F::kMistralV1},
      {"moonshotai-Kimi-K2.jinja", F::kKimiK2},
      {"openai-gpt-oss-120b.jinja", F::kGeneric},
      {"openbmb-MiniCPM5-1B.jinja", F::kGeneric},
      {"poolside-Laguna-S-2.1.jinja", F::kGlm45},
      {"poolside-Laguna-XS-2.1.jinja", F::kGlm45},
      {"poolside-Laguna-XS.2.jinja", F::kGlm45},
      {"tencent-Hy3.jinja", F::kGeneric},
      {"unsloth-Apriel-1.5.jinja", F::kApriel},
      {"unsloth-mistral-Devstral-Small-2507.jinja", F::kMistralV2},
      {"upstage-Solar-Open-100B.jinja", F::kGeneric},
  };
  return formats;
}

TEST(ToolCallFormat, DetectsTheFormatOfEverySharedTemplate) {
  if (!std::filesystem::exists(template_dir())) GTEST_SKIP() << "no " << template_dir();
  size_t checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(template_dir())) {
    if (entry.path().extension() != ".jinja") continue;
    const std::string name = entry.path().filename().string();
    const auto expected = expected_formats().find(name);
    ASSERT_NE(expected, expected_formats().end()) << name << ": a new template; add its format here";
    EXPECT_EQ(tool_call_format_name(detect_tool_call_format(read_text(entry.path()))), tool_call_format_name(expected->second)) << name;
    ++checked;
  }
  EXPECT_EQ(checked, expected_formats().size());
}

TEST(ToolCallFormat, DetectionHelpers) {
  EXPECT_EQ(detect_tool_call_format("{{ messages }}"), ToolCallFormat::kNone);
  EXPECT_EQ(detect_tool_call_format("{% if tools %}{{ tools|tojson }}{% endif %}"), ToolCallFormat::kGeneric);
  EXPECT_FALSE(template_supports_tools("{{ messages }}"));
  EXPECT_TRUE(template_has_reasoning("{{ '<think>\\n' }}"));
  EXPECT_TRUE(prompt_opens_reasoning("<｜Assistant｜><think>\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  EXPECT_EQ(tool_call_format_name(ToolCallFormat::kHermes), "hermes");
}

std::vector<ChatMessage> conversation(bool with_answer, bool parallel) {
  std::vector<ChatMessage> messages = {{"system", "You are a helpful assistant."}, {"user", "Weather and time in Zürich?"}};
  if (with_answer) {
    ChatMessage call{"assistant", ""};
    call.tool_calls = {{"call_1", "get_weather", R"({"city": "Zürich", "days": 3})"}};
    if (parallel) call.tool_calls.push_back({"call_2", "get_time", R"({"tz": "Europe/Zurich"})"});
    messages.push_back(call);
  }
  return messages;
}

// Compares JSON texts by value (templates may write "\u00fc" where the call had "ü").
std::string canonical_json(const std::string& text) {
  auto value = jinja::parse_json(text);
  return value.ok() ? jinja::to_json(*value, {}) : "invalid: " + text;
}

// Templates that render no tool call under any adaptation (where they raise, Python Jinja2 does too).
const std::set<std::string> kRendersNoCall = {
    "Kimi-K2-Instruct.jinja",                      // list.append, which HF's immutable sandbox forbids
    "Kimi-K2-Thinking.jinja",                      // the same
    "fireworks-ai-llama-3-firefunction-v2.jinja",  // reads `functions`, not `tools`
    "llama-cpp-deepseek-r1.jinja",                 // tojson on a generator
    "ibm-granite-granite-3.3-2B-Instruct.jinja",   // renders content only (its format is in its system prompt)
};

TEST(ToolTemplateCaps, ProbesWhatTemplatesNeed) {
  if (!std::filesystem::exists(template_dir())) GTEST_SKIP() << "no " << template_dir();
  auto caps_of = [](const std::string& name) {
    auto tmpl = ChatTemplate::from_source(read_text(template_dir() / name), "<s>", "</s>");
    EXPECT_TRUE(tmpl.ok()) << name;
    return tmpl.ok() ? probe_tool_template(*tmpl) : ToolTemplateCaps{};
  };
  const ToolTemplateCaps qwen25 = caps_of("Qwen-Qwen2.5-7B-Instruct.jinja");
  EXPECT_TRUE(qwen25.renders_tool_calls && qwen25.parallel_tool_calls);
  EXPECT_FALSE(qwen25.needs_string_content || qwen25.needs_string_arguments || qwen25.needs_nine_char_ids);
  EXPECT_TRUE(caps_of("Qwen-Qwen3-0.6B.jinja").needs_string_content);
  const ToolTemplateCaps llama = caps_of("meta-llama-Llama-3.1-8B-Instruct.jinja");
  EXPECT_TRUE(llama.renders_tool_calls);
  EXPECT_FALSE(llama.parallel_tool_calls);
  EXPECT_FALSE(caps_of("openai-gpt-oss-120b.jinja").parallel_tool_calls);  // renders tool_calls[0] only
  EXPECT_TRUE(caps_of("mistralai-Mistral-Nemo-Instruct-2407.jinja").needs_nine_char_ids);
  EXPECT_TRUE(caps_of("deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja").needs_string_arguments);
  EXPECT_FALSE(caps_of("google-gemma-2-2b-it.jinja").renders_tool_calls);

  EXPECT_EQ(nine_char_call_id("abcDEF123"), "abcDEF123");
  const std::string id = nine_char_call_id("call_1");
  EXPECT_EQ(id.size(), 9u);
  EXPECT_EQ(id, nine_char_call_id("call_1"));
  EXPECT_NE(id, nine_char_call_id("call_2"));
  ToolTemplateCaps mistral;
  mistral.needs_nine_char_ids = true;
  std::vector<ChatMessage> messages = {{"assistant", ""}, {"tool", "R"}};
  messages[0].tool_calls = {{"call_1", "f", "{}"}};
  messages[1].tool_call_id = "call_1";
  messages = adapt_tool_messages(messages, mistral);
  EXPECT_EQ(messages[0].tool_calls[0].id, id);
  EXPECT_EQ(messages[1].tool_call_id, id);
}

TEST(ToolCallFormat, ParsesBackTheCallsEachTemplateRenders) {
  if (!std::filesystem::exists(template_dir())) GTEST_SKIP() << "no " << template_dir();
  ChatRenderOptions options;
  options.now = std::tm{};
  options.tools_json = R"([{"type": "function", "function": {"name": "get_weather", "description": "Weather",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}}},
      {"type": "function", "function": {"name": "get_time", "description": "Time",
      "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}])";
  size_t round_trips = 0;
  for (const auto& [name, format] : expected_formats()) {
    if (format == ToolCallFormat::kNone || format == ToolCallFormat::kGeneric) continue;
    SCOPED_TRACE(name);
    auto tmpl = ChatTemplate::from_source(read_text(template_dir() / name), "<s>", "</s>");
    ASSERT_TRUE(tmpl.ok()) << tmpl.status().message();
    const ToolTemplateCaps caps = probe_tool_template(*tmpl);
    if (kRendersNoCall.contains(name)) {
      EXPECT_FALSE(caps.renders_tool_calls);
      continue;
    }
    EXPECT_TRUE(caps.renders_tool_calls);
    caps.apply_to(&options);
    options.add_generation_prompt = false;
    const auto full = tmpl->render(adapt_tool_messages(conversation(true, caps.parallel_tool_calls), caps), options);
    if (!full.ok()) {
      ADD_FAILURE() << full.status().message();
      continue;
    }
    // The assistant's part: after the prompt with its generation prompt where that is a prefix
    // (most templates), else after the conversation before it (the header is then content).
    options.add_generation_prompt = true;
    auto prompt = tmpl->render(conversation(false, false), options);
    ASSERT_TRUE(prompt.ok()) << prompt.status().message();
    if (!full->starts_with(*prompt)) {
      options.add_generation_prompt = false;
      prompt = tmpl->render(conversation(false, false), options);
      ASSERT_TRUE(prompt.ok()) << prompt.status().message();
    }
    // Mistral moves the system prompt to the last user message: then after the common prefix.
    size_t common = 0;
    while (common < prompt->size() && common < full->size() && (*prompt)[common] == (*full)[common]) ++common;
    const std::string output = full->substr(common);
    ToolCallParseOptions parse_options{template_has_reasoning(read_text(template_dir() / name)), false};
    const ParsedAssistantMessage m = parse_assistant_output(format, output, parse_options);
    if (m.tool_calls.empty()) {
      ADD_FAILURE() << "no calls in: " << output;
      continue;
    }
    EXPECT_EQ(m.tool_calls[0].name, "get_weather") << output;
    EXPECT_EQ(canonical_json(m.tool_calls[0].arguments), canonical_json(R"({"city": "Zürich", "days": 3})")) << output;
    if (m.tool_calls.size() > 1) {
      EXPECT_EQ(m.tool_calls[1].name, "get_time") << output;
      EXPECT_EQ(canonical_json(m.tool_calls[1].arguments), canonical_json(R"({"tz": "Europe/Zurich"})")) << output;
    }
    EXPECT_EQ(m.content.find("get_weather"), std::string::npos) << m.content;
    ++round_trips;
  }
  EXPECT_EQ(round_trips, 42u);
}

}  // namespace
}  // namespace tessera
