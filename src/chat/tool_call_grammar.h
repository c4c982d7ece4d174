// What the grammar must force for tool_choice "required" or a named function: a GBNF skeleton
// (llama.cpp's syntax: grammars/README.md) whose `root` is exactly the format's call markers
// around each allowed function's name, with the arguments left to a rule the caller supplies
// from the tool's JSON schema (e.g. `tool0-root`, from the JSON-schema-to-GBNF converter).
//
// The text matches what the template renders for a call (same markers, same separators), so a
// forced call looks to the model like the calls it was trained on. XML-parameter formats
// (Qwen3-Coder, GLM, MiniMax, Seed, DeepSeek V3.2/V4 DSML) write arguments as tagged text, which a JSON schema cannot
// describe; for them the grammar forces the Hermes <tool_call> JSON shape instead, which those
// models also read. grammar_tool_call_format() says which format the forced text is in: parse
// the output with that format.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "chat/tool_call_format.h"

namespace tessera {

struct ToolGrammarEntry {
  std::string_view name;            // the function's name, as in the request's tools
  std::string_view arguments_rule;  // the GBNF rule (defined by the caller) for its arguments object
};

// The format a forced call is written in (the format itself, or kHermes / kGeneric, see above).
ToolCallFormat grammar_tool_call_format(ToolCallFormat format);

// GBNF rules: `root` and helper rules named `tool-call...`; the caller appends the argument rules.
// parallel: one or more calls; else exactly one. `tools` must not be empty (returns "" then).
std::string tool_call_gbnf(ToolCallFormat format, std::span<const ToolGrammarEntry> tools, bool parallel);

}  // namespace tessera
