// The table behind ToolCallFormat (internal to src/chat): each format's shape and markers, read by
// the output parser and the GBNF skeleton so both agree on the exact text of a call.
#pragma once

#include <array>
#include <string_view>

#include "chat/tool_call_format.h"

namespace tessera::chat {

enum class CallShape {
  kNone,         // no calls: everything is content
  kJsonObjects,  // opener, a call object or an array of them, optional closer
  kNamedArgs,    // opener, name, name_end, [skip to args_marker], JSON object, optional closer
  kXmlParams,    // opener, call_open name name_close, (key_open k key_close value_open v value_close)*, call_close, closer
};

struct FormatSpec {
  ToolCallFormat format = ToolCallFormat::kNone;
  std::string_view name;
  CallShape shape = CallShape::kNone;
  std::string_view opener;  // starts a call region ("" with bare_json_at_start only)
  std::string_view closer;  // ends it ("" none; a missing closer at the end of the output is forgiven)
  bool bare_json_at_start = false;  // a region may also be a JSON value opening the output (Llama, generic)
  char separator = 0;               // JSON objects: between calls of one region (Llama's ';')
  std::string_view args_key = "arguments";  // JSON objects: what the grammar writes ("name" is fixed)
  std::array<std::string_view, 2> dropped{};  // section markers around the calls, dropped from content
  // Named arguments.
  std::string_view name_prefix;  // stripped from the name when present ("functions.")
  std::string_view name_end;     // the text that ends the name
  std::string_view args_marker;  // "": the arguments follow name_end; else skip to after this
  bool fenced = false;           // arguments inside ```json ... ``` (DeepSeek R1)
  // XML parameters.
  std::string_view call_open;    // "" one call per region, starting right after the opener
  std::string_view name_close;   // ends the name
  std::string_view key_open, key_close, value_open, value_close;
  std::string_view call_close;   // "" the closer ends the call
  bool value_attributes = false;  // attributes between key_close and '>' (DSML: string="true" keeps a string)
};

const FormatSpec& format_spec(ToolCallFormat format);

}  // namespace tessera::chat
