// The growing-text JSON scanner: a recursive descent over byte offsets that answers complete,
// incomplete (a valid prefix) or invalid, plus minify/decode helpers for the spans it finds.
#include "chat/json_scan.h"

#include <cstdint>

namespace tessera::chat {
namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

JsonScan complete(size_t end) { return {JsonState::kComplete, end}; }
JsonScan incomplete() { return {JsonState::kIncomplete, 0}; }
JsonScan invalid() { return {JsonState::kInvalid, 0}; }

// The length of the UTF-8 sequence a lead byte starts (0: not a lead byte), and the range its
// second byte must fall in (rejects overlong forms, surrogates and code points past U+10FFFF).
int utf8_sequence(unsigned char lead, unsigned char* lo, unsigned char* hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (lead == 0xE0) *lo = 0xA0;
    if (lead == 0xED) *hi = 0x9F;
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (lead == 0xF0) *lo = 0x90;
    if (lead == 0xF4) *hi = 0x8F;
    return 4;
  }
  return 0;
}

// One UTF-8 character at pos: its length, 0 when the text ends inside it, -1 when invalid.
int scan_utf8(std::string_view text, size_t pos) {
  unsigned char lo = 0;
  unsigned char hi = 0;
  const int n = utf8_sequence(static_cast<unsigned char>(text[pos]), &lo, &hi);
  if (n == 0) return -1;
  for (int i = 1; i < n; ++i) {
    if (pos + i >= text.size()) return 0;
    const auto c = static_cast<unsigned char>(text[pos + i]);
    if (i == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) return -1;
  }
  return n;
}

JsonScan scan_string(std::string_view text, size_t pos) {
  size_t i = pos + 1;  // past the opening quote
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"') return complete(i + 1);
    if (static_cast<unsigned char>(c) < 0x20) return invalid();
    if (c == '\\') {
      if (i + 1 >= text.size()) return incomplete();
      const char e = text[i + 1];
      if (e == 'u') {
        for (size_t k = 0; k < 4; ++k) {
          if (i + 2 + k >= text.size()) return incomplete();
          if (!is_hex(text[i + 2 + k])) return invalid();
        }
        i += 6;
      } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
        i += 2;
      } else {
        return invalid();
      }
      continue;
    }
    const int n = scan_utf8(text, i);
    if (n < 0) return invalid();
    if (n == 0) return incomplete();
    i += static_cast<size_t>(n);
  }
  return incomplete();
}

JsonScan scan_number(std::string_view text, size_t pos) {
  size_t i = pos;
  auto at_end = [&] { return i >= text.size(); };
  if (text[i] == '-') ++i;
  if (at_end()) return incomplete();
  if (text[i] == '0') {
    ++i;
  } else if (is_digit(text[i])) {
    while (!at_end() && is_digit(text[i])) ++i;
  } else {
    return invalid();
  }
  if (!at_end() && text[i] == '.') {
    ++i;
    if (at_end()) return incomplete();
    if (!is_digit(text[i])) return invalid();
    while (!at_end() && is_digit(text[i])) ++i;
  }
  if (!at_end() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (!at_end() && (text[i] == '+' || text[i] == '-')) ++i;
    if (at_end()) return incomplete();
    if (!is_digit(text[i])) return invalid();
    while (!at_end() && is_digit(text[i])) ++i;
  }
  if (at_end()) return incomplete();  // more digits may follow
  return complete(i);
}

JsonScan scan_literal(std::string_view text, size_t pos, std::string_view word) {
  for (size_t k = 0; k < word.size(); ++k) {
    if (pos + k >= text.size()) return incomplete();
    if (text[pos + k] != word[k]) return invalid();
  }
  return complete(pos + word.size());
}

JsonScan scan_value(std::string_view text, size_t pos, int depth);

// An object or array: members separated by ',' until the closing bracket.
JsonScan scan_container(std::string_view text, size_t pos, int depth) {
  const bool object = text[pos] == '{';
  const char close = object ? '}' : ']';
  size_t i = skip_json_ws(text, pos + 1);
  if (i >= text.size()) return incomplete();
  if (text[i] == close) return complete(i + 1);
  for (;;) {
    if (object) {
      if (text[i] != '"') return invalid();
      const JsonScan key = scan_string(text, i);
      if (key.state != JsonState::kComplete) return key;
      i = skip_json_ws(text, key.end);
      if (i >= text.size()) return incomplete();
      if (text[i] != ':') return invalid();
      i = skip_json_ws(text, i + 1);
      if (i >= text.size()) return incomplete();
    }
    const JsonScan value = scan_value(text, i, depth);
    if (value.state != JsonState::kComplete) return value;
    i = skip_json_ws(text, value.end);
    if (i >= text.size()) return incomplete();
    if (text[i] == close) return complete(i + 1);
    if (text[i] != ',') return invalid();
    i = skip_json_ws(text, i + 1);
    if (i >= text.size()) return incomplete();
  }
}

JsonScan scan_value(std::string_view text, size_t pos, int depth) {
  if (pos >= text.size()) return incomplete();
  if (depth < 0) return invalid();
  switch (text[pos]) {
    case '{':
    case '[':
      return scan_container(text, pos, depth - 1);
    case '"':
      return scan_string(text, pos);
    case 't':
      return scan_literal(text, pos, "true");
    case 'f':
      return scan_literal(text, pos, "false");
    case 'n':
      return scan_literal(text, pos, "null");
    default:
      return scan_number(text, pos);
  }
}

void append_utf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

uint32_t hex4(std::string_view s) {
  uint32_t v = 0;
  for (char c : s) v = v * 16 + static_cast<uint32_t>(is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
  return v;
}

}  // namespace

size_t skip_json_ws(std::string_view text, size_t pos) {
  while (pos < text.size() && is_ws(text[pos])) ++pos;
  return pos;
}

JsonScan scan_json_value(std::string_view text, size_t pos, int max_depth) { return scan_value(text, pos, max_depth); }

std::string minify_json(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  bool in_string = false;
  bool escaped = false;
  for (char c : json) {
    if (in_string) {
      out.push_back(c);
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (!is_ws(c)) {
      out.push_back(c);
      in_string = c == '"';
    }
  }
  return out;
}

bool decode_json_string(std::string_view literal, std::string* out) {
  const JsonScan scan = scan_string(literal, 0);
  if (literal.empty() || literal[0] != '"' || scan.state != JsonState::kComplete || scan.end != literal.size()) return false;
  out->clear();
  for (size_t i = 1; i + 1 < literal.size(); ++i) {
    const char c = literal[i];
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    const char e = literal[++i];
    switch (e) {
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case 'u': {
        uint32_t cp = hex4(literal.substr(i + 1, 4));
        i += 4;
        // A high surrogate followed by an escaped low one is one code point; a lone surrogate
        // becomes U+FFFD, as Python's json does not keep it either in UTF-8 output.
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < literal.size() && literal[i + 1] == '\\' && literal[i + 2] == 'u') {
          const uint32_t low = hex4(literal.substr(i + 3, 4));
          if (low >= 0xDC00 && low <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            i += 6;
          }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
        append_utf8(cp, out);
        break;
      }
      default: out->push_back(e); break;  // '"', '\\', '/'
    }
  }
  return true;
}

void append_json_string(std::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '\t') {
      out->append("\\t");
    } else if (c == '\r') {
      out->append("\\r");
    } else if (u < 0x20) {
      out->append("\\u00");
      out->push_back(kHex[u >> 4]);
      out->push_back(kHex[u & 15]);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

size_t utf8_whole_prefix(std::string_view text) {
  // Walk back over at most 3 continuation bytes to the last lead byte.
  size_t n = text.size();
  size_t back = 0;
  while (back < 3 && back < n && (static_cast<unsigned char>(text[n - 1 - back]) & 0xC0) == 0x80) ++back;
  if (back == n) return n;
  const auto lead = static_cast<unsigned char>(text[n - 1 - back]);
  unsigned char lo = 0;
  unsigned char hi = 0;
  const int need = utf8_sequence(lead, &lo, &hi);
  if (need > 1 && static_cast<size_t>(need) > back + 1) return n - 1 - back;
  return n;
}

}  // namespace tessera::chat
