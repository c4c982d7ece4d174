// A strict JSON scanner for text that may still be growing: tells a complete value from a prefix
// of one (more text may complete it) and from text no continuation can make valid. The tool-call
// parser uses it to find where a call's JSON ends in a model's output, and to stream arguments
// before they are complete. No DOM: callers get byte spans and decode what they need.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tessera::chat {

enum class JsonState {
  kComplete,    // one whole value: [start, end)
  kIncomplete,  // the text ends inside a value every byte of which is still valid
  kInvalid,     // no continuation makes this valid JSON (RFC 8259, UTF-8 checked in strings)
};

struct JsonScan {
  JsonState state = JsonState::kInvalid;
  size_t end = 0;  // kComplete: one past the value
};

// Skips JSON whitespace (space, tab, CR, LF) from pos.
size_t skip_json_ws(std::string_view text, size_t pos);

// Scans the one value that starts at `pos` (no leading whitespace). Nesting deeper than
// max_depth is kInvalid. A number that reaches the end of text is kIncomplete (digits may follow).
JsonScan scan_json_value(std::string_view text, size_t pos, int max_depth = 64);

// The JSON text with whitespace outside strings removed; works on any prefix of a value, and the
// result for a prefix is a prefix of the result for the whole (what lets arguments stream).
std::string minify_json(std::string_view json);

// Decodes a complete JSON string literal (quotes included) to UTF-8; false if it is not one.
bool decode_json_string(std::string_view literal, std::string* out);

// Appends `text` as a JSON string literal (quotes, escapes for '"', '\\' and control bytes).
void append_json_string(std::string_view text, std::string* out);

// The length of the longest prefix of `text` that does not end inside a UTF-8 sequence.
size_t utf8_whole_prefix(std::string_view text);

}  // namespace tessera::chat
