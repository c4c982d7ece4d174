// A strict JSON scanner for text that may still be growing: tells a complete value from a prefix
// of one (more text may complete it) and from text no continuation can make valid. The tool-call
// parser uses it to find where a call's JSON ends in a model's output, and to stream arguments
// before they are complete. No DOM: callers get byte spans and decode what they need.
#pragma once

#include <cstddef>
#include <cstdint>
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

// scan_json_value as a machine that stops at the end of the text and resumes when more arrives:
// the streaming parser keeps one per open call, so each delta costs only its own bytes.
class JsonMachine {
 public:
  explicit JsonMachine(int max_depth = 64) : max_depth_(max_depth) {}
  // Reads text[from:], where `text` extends the text of the previous call and `from` is where
  // that call stopped reading (its text.size()). Once complete or invalid, stays so.
  JsonScan feed(std::string_view text, size_t from);

 private:
  enum class Mode : uint8_t { kValue, kArrayFirst, kObjectFirst, kKey, kColon, kAfter, kString, kNumber, kLiteral, kDone, kInvalid };
  enum Number : uint8_t { kSign, kZero, kInt, kFracStart, kFrac, kExpStart, kExpSign, kExp, kEnd, kBad };
  void close_value(size_t end);
  void read_string_byte(char c, unsigned char u, size_t i);
  bool read_number_byte(char c, size_t i);

  int max_depth_;
  std::string stack_;  // '{' or '[' per open container
  Mode mode_ = Mode::kValue;
  size_t end_ = 0;           // kDone: one past the value
  bool key_ = false;         // the string being read is an object key
  bool escape_ = false;      // after a backslash
  uint8_t hex_left_ = 0;     // hex digits of a uXXXX escape still to come
  uint8_t utf8_left_ = 0;    // continuation bytes still to come
  unsigned char utf8_lo_ = 0x80, utf8_hi_ = 0xBF;  // the next continuation byte's range
  Number number_ = kSign;
  const char* word_ = nullptr;  // true, false or null
  uint8_t word_at_ = 0;
};

// minify_json over pieces of one text.
class JsonMinifier {
 public:
  void append(std::string_view piece, std::string* out);

 private:
  bool in_string_ = false;
  bool escaped_ = false;
};

// The JSON text with whitespace outside strings removed; works on any prefix of a value, and the
// result for a prefix is a prefix of the result for the whole (what lets arguments stream).
std::string minify_json(std::string_view json);

// Decodes a complete JSON string literal (quotes included) to UTF-8; false if it is not one.
bool decode_json_string(std::string_view literal, std::string* out);

// Appends `text` as a JSON string literal (quotes, escapes for '"', '\\' and control bytes).
void append_json_string(std::string_view text, std::string* out);

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or bytes past U+10FFFF).
bool valid_utf8(std::string_view text);

// The length of the longest prefix of `text` that does not end inside a UTF-8 sequence.
size_t utf8_whole_prefix(std::string_view text);

}  // namespace tessera::chat
