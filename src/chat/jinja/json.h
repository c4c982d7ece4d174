// JSON in and out of Jinja values: Hugging Face's tojson filter (Python's json.dumps with
// ensure_ascii=False) and a small parser for the JSON the server hands to templates (tools,
// tool-call arguments). Knows nothing about templates.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "chat/jinja/value.h"

namespace tessera::jinja {

struct JsonDumpOptions {
  std::optional<std::string> indent;  // json.dumps(indent=...): nullopt = one line
  std::optional<std::string> item_separator;  // nullopt: ", " on one line, "," with indent
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;          // true: non-ASCII as \uXXXX (surrogate pairs above U+FFFF)
};

// json.dumps(value, ensure_ascii=False, ...). Throws TemplateError for what Python cannot
// serialise (Undefined, generators, namespaces, functions).
std::string to_json(const Value& value, const JsonDumpOptions& options);

// Parses one JSON document (objects keep their key order). max_depth bounds nesting.
Expected<Value> parse_json(std::string_view text, int max_depth = 128);

}  // namespace tessera::jinja
