// Tool-call formats: how a model writes a function call in its output text, recognised from its
// chat template. The parser (tool_call_parser.h) and the grammar skeleton (tool_call_grammar.h)
// both read the one table of formats behind this header.
//
// Design note. Every format is one of three shapes, so one scanner per shape serves them all:
//   - JSON objects: a marker, then a JSON object {"name": ..., "arguments": {...}} or a JSON array
//     of them, then an optional end marker (Hermes/Qwen2.5 <tool_call>, Llama 3.x bare JSON,
//     Mistral Nemo [TOOL_CALLS][...], Command R7B, Granite, firefunction, Nemotron, Apriel).
//   - Named arguments: a marker, the function name, a separator, the arguments as a JSON object,
//     an optional end marker (Mistral [TOOL_CALLS]name[ARGS]{...}, DeepSeek R1 and V3.1,
//     functionary v3.1 <function=name>{...}</function>, Kimi K2).
//   - XML parameters: the name and each argument in tags, values as text (Qwen3-Coder
//     <function=name><parameter=p>v</parameter>, GLM 4.5+ <arg_key>/<arg_value>, MiniMax M2,
//     DeepSeek V3.2/V4 DSML).
// The arguments a parse returns are compact JSON text: for the JSON shapes, the model's own JSON
// with the whitespace outside strings removed (numbers and escapes kept as the model wrote them,
// which is what lets a stream send them byte for byte before the call ends); for the XML shape,
// an object built from the parameters (a value that is valid JSON is kept as JSON, any other text
// becomes a JSON string; DSML's string="true" keeps it a string).
#pragma once

#include <string_view>

namespace tessera {

enum class ToolCallFormat {
  kNone,            // the template knows nothing of tools: the output is all content
  kGeneric,         // llama.cpp's generic JSON: {"tool_calls": [{"name", "arguments"}, ...]}
  kHermes,          // <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call> (Hermes, Qwen2.5, Granite 4)
  kLlama3Json,      // {"name": "f", "parameters": {...}}, optionally after <|python_tag|>, ';' between
  kMistralV1,       // [TOOL_CALLS][{"name": "f", "arguments": {...}}, ...] (Mistral Nemo)
  kMistralV2,       // [TOOL_CALLS]f[ARGS]{...} (Mistral Small 3.2, Ministral 3, Devstral)
  kCommandR7B,      // <|START_ACTION|>[{"tool_call_id": "0", "tool_name": "f", "parameters": {...}}]<|END_ACTION|>
  kFirefunctionV2,  //  functools[{"name": "f", "arguments": {...}}, ...]
  kGranite,         // <|tool_call|>[{"name": "f", "arguments": {...}}, ...] (Granite 3.x)
  kNemotronV2,      // <TOOLCALL>[{"name": "f", "arguments": {...}}]</TOOLCALL>
  kApriel,          // <tool_calls>[{"name": "f", "arguments": {...}}]</tool_calls>
  kFunctionaryV31,  // <function=f>{...}</function>
  kDeepSeekR1,      // <｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{...}\n```<｜tool▁call▁end｜>
  kDeepSeekV31,     // <｜tool▁call▁begin｜>f<｜tool▁sep｜>{...}<｜tool▁call▁end｜>
  kKimiK2,          // <|tool_call_begin|>functions.f:0<|tool_call_argument_begin|>{...}<|tool_call_end|>
  kQwen3CoderXml,   // <tool_call>\n<function=f>\n<parameter=p>\nv\n</parameter>\n</function>\n</tool_call>
  kGlm45,           // <tool_call>f\n<arg_key>p</arg_key>\n<arg_value>v</arg_value>\n</tool_call>
  kMiniMaxM2,       // <minimax:tool_call>\n<invoke name="f">\n<parameter name="p">v</parameter>\n</invoke>\n</minimax:tool_call>
  kSeedOss,         // <seed:tool_call>\n<function=f>\n<parameter=p>v</parameter>\n</function>\n</seed:tool_call>
  kGigaChat31,      // <|function_call|>{"name": "f", "arguments": {...}}
  kDeepSeekV32,     // <｜DSML｜function_calls>\n<｜DSML｜invoke name="f">\n<｜DSML｜parameter name="p" string="true">v</｜DSML｜parameter>...
  kDeepSeekV4,      // the same inside <｜DSML｜tool_calls>...</｜DSML｜tool_calls>
};
inline constexpr int kToolCallFormatCount = static_cast<int>(ToolCallFormat::kDeepSeekV4) + 1;

// A short stable name: "hermes", "llama3_json", "mistral_v2", ... (logs, docs, `tessera info`).
std::string_view tool_call_format_name(ToolCallFormat format);

// The format a chat template teaches its model, from the markers the template writes when it
// renders an assistant message with tool_calls. kNone when the template never mentions tools;
// kGeneric when it does but in no format known here.
ToolCallFormat detect_tool_call_format(std::string_view template_source);

// True when the template renders `tools`, assistant `tool_calls` or `tool` role messages itself
// (else the server must describe the tools in a system message of its own to use kGeneric).
bool template_supports_tools(std::string_view template_source);

// True when the template's model writes <think>...</think> before its answer (Qwen3, QwQ,
// DeepSeek R1, ...): the parser can then split reasoning_content off.
bool template_has_reasoning(std::string_view template_source);

// True when a rendered prompt already opens the reasoning block (ends in "<think>" and optional
// whitespace, as DeepSeek R1's and QwQ's generation prompts do): the output starts inside it.
bool prompt_opens_reasoning(std::string_view rendered_prompt);

}  // namespace tessera
