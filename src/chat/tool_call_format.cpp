// The tool-call format table and its detection from a chat template's source: the markers each
// template writes around an assistant message's tool_calls (checked by rendering them in
// tests/chat/tool_call_format_test.cpp).
#include "chat/tool_call_format.h"

#include <algorithm>
#include <iterator>

#include "chat/tool_call_spec.h"

namespace tessera {
namespace chat {
namespace {

FormatSpec make_spec(CallShape shape, ToolCallFormat f, std::string_view name, std::string_view opener, std::string_view closer) {
  FormatSpec s;
  s.format = f;
  s.name = name;
  s.shape = shape;
  s.opener = opener;
  s.closer = closer;
  return s;
}

FormatSpec json_objects(ToolCallFormat f, std::string_view name, std::string_view opener, std::string_view closer) {
  return make_spec(CallShape::kJsonObjects, f, name, opener, closer);
}

FormatSpec named_args(ToolCallFormat f, std::string_view name, std::string_view opener, std::string_view name_end,
                      std::string_view closer) {
  FormatSpec s = make_spec(CallShape::kNamedArgs, f, name, opener, closer);
  s.name_end = name_end;
  return s;
}

// The tags of an XML-parameter format, in the order they appear.
struct XmlTags {
  std::string_view call_open, name_close, key_open, key_close, value_open, value_close, call_close;
};

FormatSpec xml_params(ToolCallFormat f, std::string_view name, std::string_view opener, std::string_view closer, const XmlTags& t) {
  FormatSpec s = make_spec(CallShape::kXmlParams, f, name, opener, closer);
  s.call_open = t.call_open;
  s.name_close = t.name_close;
  s.key_open = t.key_open;
  s.key_close = t.key_close;
  s.value_open = t.value_open;
  s.value_close = t.value_close;
  s.call_close = t.call_close;
  return s;
}

// The same calls inside other region markers.
FormatSpec rewrapped(FormatSpec s, ToolCallFormat f, std::string_view name, std::string_view opener, std::string_view closer) {
  s.format = f;
  s.name = name;
  s.opener = opener;
  s.closer = closer;
  return s;
}

std::array<FormatSpec, 22> make_specs() {
  FormatSpec none;
  none.name = "none";

  FormatSpec generic = json_objects(ToolCallFormat::kGeneric, "generic", "", "");
  generic.bare_json_at_start = true;

  FormatSpec llama = json_objects(ToolCallFormat::kLlama3Json, "llama3_json", "<|python_tag|>", "");
  llama.bare_json_at_start = true;
  llama.separator = ';';
  llama.args_key = "parameters";

  FormatSpec command_r = json_objects(ToolCallFormat::kCommandR7B, "command_r7b", "<|START_ACTION|>", "<|END_ACTION|>");
  command_r.args_key = "parameters";

  FormatSpec mistral_v2 = named_args(ToolCallFormat::kMistralV2, "mistral_v2", "[TOOL_CALLS]", "[", "");
  mistral_v2.args_marker = "ARGS]";  // after "[": "ARGS]" directly, or "CALL_ID]<id>[ARGS]"

  FormatSpec r1 = named_args(ToolCallFormat::kDeepSeekR1, "deepseek_r1", "<｜tool▁call▁begin｜>function<｜tool▁sep｜>", "\n",
                             "<｜tool▁call▁end｜>");
  r1.fenced = true;
  r1.dropped = {"<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"};

  FormatSpec v31 = named_args(ToolCallFormat::kDeepSeekV31, "deepseek_v3_1", "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>",
                              "<｜tool▁call▁end｜>");
  v31.dropped = {"<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"};

  FormatSpec kimi = named_args(ToolCallFormat::kKimiK2, "kimi_k2", "<|tool_call_begin|>", ":", "<|tool_call_end|>");
  kimi.name_prefix = "functions.";
  kimi.args_marker = "<|tool_call_argument_begin|>";
  kimi.dropped = {"<|tool_calls_section_begin|>", "<|tool_calls_section_end|>"};

  const FormatSpec qwen3_coder = xml_params(ToolCallFormat::kQwen3CoderXml, "qwen3_coder_xml", "<tool_call>", "</tool_call>",
                                            {"<function=", ">", "<parameter=", ">", "", "</parameter>", "</function>"});
  // GLM: no call_open, so the name ends at the first '<' or newline; the closer ends the call.
  const FormatSpec glm = xml_params(ToolCallFormat::kGlm45, "glm_4_5", "<tool_call>", "</tool_call>",
                                    {"", "", "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>", ""});
  const FormatSpec minimax = xml_params(ToolCallFormat::kMiniMaxM2, "minimax_m2", "<minimax:tool_call>", "</minimax:tool_call>",
                                        {"<invoke name=\"", "\">", "<parameter name=\"", "\">", "", "</parameter>", "</invoke>"});
  FormatSpec dsml_v32 = xml_params(ToolCallFormat::kDeepSeekV32, "deepseek_v3_2", "<｜DSML｜function_calls>", "</｜DSML｜function_calls>",
                                   {"<｜DSML｜invoke name=\"", "\">", "<｜DSML｜parameter name=\"", "\"", "", "</｜DSML｜parameter>",
                                    "</｜DSML｜invoke>"});
  dsml_v32.value_attributes = true;

  return {none,
          generic,
          json_objects(ToolCallFormat::kHermes, "hermes", "<tool_call>", "</tool_call>"),
          llama,
          json_objects(ToolCallFormat::kMistralV1, "mistral_v1", "[TOOL_CALLS]", ""),
          mistral_v2,
          command_r,
          json_objects(ToolCallFormat::kFirefunctionV2, "firefunction_v2", "functools", ""),
          json_objects(ToolCallFormat::kGranite, "granite", "<|tool_call|>", ""),
          json_objects(ToolCallFormat::kNemotronV2, "nemotron_v2", "<TOOLCALL>", "</TOOLCALL>"),
          json_objects(ToolCallFormat::kApriel, "apriel", "<tool_calls>", "</tool_calls>"),
          named_args(ToolCallFormat::kFunctionaryV31, "functionary_v3_1", "<function=", ">", "</function>"),
          r1,
          v31,
          kimi,
          qwen3_coder,
          glm,
          minimax,
          rewrapped(qwen3_coder, ToolCallFormat::kSeedOss, "seed_oss", "<seed:tool_call>", "</seed:tool_call>"),
          json_objects(ToolCallFormat::kGigaChat31, "gigachat_3_1", "<|function_call|>", ""),
          dsml_v32,
          rewrapped(dsml_v32, ToolCallFormat::kDeepSeekV4, "deepseek_v4", "<｜DSML｜tool_calls>", "</｜DSML｜tool_calls>")};
}

bool contains(std::string_view text, std::string_view needle) { return text.find(needle) != std::string_view::npos; }

}  // namespace

const FormatSpec& format_spec(ToolCallFormat format) {
  static const std::array<FormatSpec, 22> specs = make_specs();
  const auto it = std::find_if(specs.begin(), specs.end(), [&](const FormatSpec& s) { return s.format == format; });
  return it != specs.end() ? *it : specs[0];
}

}  // namespace chat

std::string_view tool_call_format_name(ToolCallFormat format) { return chat::format_spec(format).name; }

bool template_supports_tools(std::string_view source) {
  return chat::contains(source, "tools") || chat::contains(source, "tool_calls");
}

bool template_has_reasoning(std::string_view source) { return chat::contains(source, "<think>") || chat::contains(source, "</think>"); }

bool prompt_opens_reasoning(std::string_view prompt) {
  while (!prompt.empty() && (prompt.back() == '\n' || prompt.back() == ' ')) prompt.remove_suffix(1);
  return prompt.ends_with("<think>");
}

ToolCallFormat detect_tool_call_format(std::string_view source) {
  using chat::contains;
  if (!template_supports_tools(source)) return ToolCallFormat::kNone;
  // Most specific markers first: several formats share "<tool_call>" or "<function=".
  struct Rule {
    std::string_view marker;
    std::string_view also;  // a second marker that must be present ("" none)
    ToolCallFormat format;
  };
  static constexpr Rule kRules[] = {
      {"｜DSML｜", "function_calls>", ToolCallFormat::kDeepSeekV32},
      {"｜DSML｜", "tool_calls>", ToolCallFormat::kDeepSeekV4},
      {"tool▁calls▁begin", "```json", ToolCallFormat::kDeepSeekR1},
      {"tool▁calls▁begin", "", ToolCallFormat::kDeepSeekV31},
      {"<|tool_call_begin|>", "", ToolCallFormat::kKimiK2},
      {"[TOOL_CALLS]", "[ARGS]", ToolCallFormat::kMistralV2},
      {"[TOOL_CALLS]", "", ToolCallFormat::kMistralV1},
      {"<minimax:tool_call>", "", ToolCallFormat::kMiniMaxM2},
      {"]<]minimax[>[", "", ToolCallFormat::kGeneric},  // MiniMax M3's own markup, not parsed here
      {"<seed:tool_call>", "", ToolCallFormat::kSeedOss},
      {"<|function_call|>", "", ToolCallFormat::kGigaChat31},
      {"<arg_key>", "", ToolCallFormat::kGlm45},
      {"<function=", "<parameter=", ToolCallFormat::kQwen3CoderXml},
      {"<function=", "", ToolCallFormat::kFunctionaryV31},
      {"<|START_ACTION|>", "", ToolCallFormat::kCommandR7B},
      {"functools[", "", ToolCallFormat::kFirefunctionV2},
      {"<|tool_call|>", "", ToolCallFormat::kGranite},
      {"<TOOLCALL>", "", ToolCallFormat::kNemotronV2},
      {"<tool_calls>", "", ToolCallFormat::kApriel},
      {"<tool_call>", "", ToolCallFormat::kHermes},
      {"<|python_tag|>", "", ToolCallFormat::kLlama3Json},
      {"\"parameters\": ", "ipython", ToolCallFormat::kLlama3Json},
  };
  for (const Rule& rule : kRules) {
    if (contains(source, rule.marker) && (rule.also.empty() || contains(source, rule.also))) return rule.format;
  }
  return ToolCallFormat::kGeneric;
}

}  // namespace tessera
