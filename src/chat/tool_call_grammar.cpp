// The GBNF skeletons, one per format: a `tool-call-N` rule per function (markers, name, the
// caller's arguments rule), `tool-call` choosing among them, and `root` with the format's
// wrapper and separator between parallel calls.
#include "chat/tool_call_grammar.h"

#include "chat/json_scan.h"

namespace tessera {
namespace {

// A GBNF string literal.
std::string literal(std::string_view text) {
  std::string out(1, '"');
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

// The name as it appears inside a JSON string (without the quotes).
std::string json_name(std::string_view name) {
  std::string quoted;
  chat::append_json_string(name, &quoted);
  return quoted.substr(1, quoted.size() - 2);
}

// How one call is written: text before the name, text between the name and the arguments, text
// after them; `name_in_json` when the name sits in a JSON string.
struct CallShape {
  std::string_view before;
  std::string_view between;
  std::string_view after;
  bool name_in_json = true;
};

// How the calls sit together: around all of them and between two of them.
struct Wrapper {
  std::string_view open;
  std::string_view separator;
  std::string_view close;
};

bool describe(ToolCallFormat format, bool parallel, CallShape* call, Wrapper* wrap) {
  using F = ToolCallFormat;
  constexpr CallShape kJsonCall{"{\"name\": \"", "\", \"arguments\": ", "}"};
  switch (format) {
    case F::kHermes:
      *call = {"<tool_call>\n{\"name\": \"", "\", \"arguments\": ", "}\n</tool_call>"};
      *wrap = {"", "\n", ""};
      return true;
    case F::kLlama3Json:
      *call = {"{\"name\": \"", "\", \"parameters\": ", "}"};
      *wrap = {"", "; ", ""};
      return true;
    case F::kMistralV1:
      *call = kJsonCall;
      *wrap = {"[TOOL_CALLS][", ", ", "]"};
      return true;
    case F::kMistralV2:
      *call = {"[TOOL_CALLS]", "[ARGS]", "", false};
      *wrap = {"", "", ""};
      return true;
    case F::kCommandR7B:
      // The id is the call's position; the grammar allows any 1-3 digits.
      *call = {"{\"tool_call_id\": \"\" tool-call-id \"\", \"tool_name\": \"", "\", \"parameters\": ", "}"};
      *wrap = {"<|START_ACTION|>[\n    ", ",\n    ", "\n]<|END_ACTION|>"};
      return true;
    case F::kFirefunctionV2:
      *call = kJsonCall;
      *wrap = {" functools[", ", ", "]"};
      return true;
    case F::kGranite:
      *call = kJsonCall;
      *wrap = {"<|tool_call|>[", ", ", "]"};
      return true;
    case F::kNemotronV2:
      *call = kJsonCall;
      *wrap = {"<TOOLCALL>[", ", ", "]</TOOLCALL>"};
      return true;
    case F::kApriel:
      *call = kJsonCall;
      *wrap = {"<tool_calls>[", ", ", "]</tool_calls>"};
      return true;
    case F::kGigaChat31:
      *call = {"<|function_call|>{\"name\": \"", "\", \"arguments\": ", "}"};
      *wrap = {"", "", ""};
      return true;
    case F::kFunctionaryV31:
      *call = {"<function=", ">", "</function>", false};
      *wrap = {"", "", ""};
      return true;
    case F::kDeepSeekR1:
      *call = {"<｜tool▁call▁begin｜>function<｜tool▁sep｜>", "\n```json\n", "\n```<｜tool▁call▁end｜>", false};
      *wrap = {"<｜tool▁calls▁begin｜>", "\n", "<｜tool▁calls▁end｜>"};
      return true;
    case F::kDeepSeekV31:
      *call = {"<｜tool▁call▁begin｜>", "<｜tool▁sep｜>", "<｜tool▁call▁end｜>", false};
      *wrap = {"<｜tool▁calls▁begin｜>", "", "<｜tool▁calls▁end｜>"};
      return true;
    case F::kKimiK2:
      *call = {"<|tool_call_begin|>functions.", ":\" tool-call-id \"<|tool_call_argument_begin|>", "<|tool_call_end|>", false};
      *wrap = {"<|tool_calls_section_begin|>", "", "<|tool_calls_section_end|>"};
      return true;
    case F::kGeneric:
      *call = kJsonCall;
      *wrap = parallel ? Wrapper{"{\"tool_calls\": [", ", ", "]}"} : Wrapper{"{\"tool_call\": ", "", "}"};
      return true;
    default:
      return false;
  }
}

// A literal that may carry one `" tool-call-id "` splice (written inside the shape strings above
// so that a format's text stays in one piece there).
std::string spliced_literal(std::string_view text) {
  constexpr std::string_view kSplice = "\" tool-call-id \"";
  const size_t at = text.find(kSplice);
  if (at == std::string_view::npos) return literal(text);
  std::string out = literal(text.substr(0, at));
  return out.append(" tool-call-id ").append(literal(text.substr(at + kSplice.size())));
}

}  // namespace

ToolCallFormat grammar_tool_call_format(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::kQwen3CoderXml:
    case ToolCallFormat::kGlm45:
    case ToolCallFormat::kMiniMaxM2:
    case ToolCallFormat::kSeedOss:
    case ToolCallFormat::kDeepSeekV32:
    case ToolCallFormat::kDeepSeekV4:
      return ToolCallFormat::kHermes;
    case ToolCallFormat::kNone:
      return ToolCallFormat::kGeneric;
    default:
      return format;
  }
}

std::string tool_call_gbnf(ToolCallFormat format, std::span<const ToolGrammarEntry> tools, bool parallel) {
  if (tools.empty()) return "";
  format = grammar_tool_call_format(format);
  CallShape call;
  Wrapper wrap;
  if (!describe(format, parallel, &call, &wrap)) return "";
  // Formats whose own calls follow each other with nothing between, and GigaChat (one call a message).
  if (format == ToolCallFormat::kGigaChat31) parallel = false;

  // Built by appending (GCC 12 warns falsely on chains of operator+ with literals on the left).
  std::string out = "root ::= ";
  if (!wrap.open.empty()) out.append(spliced_literal(wrap.open)).append(" ");
  out.append("tool-call");
  if (parallel && wrap.separator.empty()) out.append(" tool-call*");
  if (parallel && !wrap.separator.empty()) out.append(" (").append(literal(wrap.separator)).append(" tool-call)*");
  if (!wrap.close.empty()) out.append(" ").append(spliced_literal(wrap.close));
  out.append("\ntool-call ::=");
  for (size_t i = 0; i < tools.size(); ++i) out.append(i == 0 ? " " : " | ").append("tool-call-").append(std::to_string(i));
  out.append("\n");
  for (size_t i = 0; i < tools.size(); ++i) {
    std::string text(call.before);
    text.append(call.name_in_json ? json_name(tools[i].name) : std::string(tools[i].name)).append(call.between);
    out.append("tool-call-").append(std::to_string(i)).append(" ::= ").append(spliced_literal(text));
    out.append(" ").append(tools[i].arguments_rule);
    if (!call.after.empty()) out.append(" ").append(spliced_literal(call.after));
    out.append("\n");
  }
  if (out.find("tool-call-id") != std::string::npos) out += "tool-call-id ::= [0-9] [0-9]? [0-9]?\n";
  return out;
}

}  // namespace tessera
