// The growing-text JSON scanner: a recursive descent over byte offsets that answers complete,
// incomplete (a valid prefix) or invalid, plus minify/decode helpers for the spans it finds.
#include "chat/json_scan.h"

#include <cstdint>

namespace tessera::chat {
namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

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

JsonScan JsonMachine::feed(std::string_view text, size_t from) {
  for (size_t i = from; i < text.size(); ++i) {
    if (mode_ == Mode::kDone || mode_ == Mode::kInvalid) break;
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    bool again = true;  // a byte that ends a number is read again by what follows the number
    while (again) {
      again = false;
      switch (mode_) {
        case Mode::kValue:
          if (is_ws(c)) break;
          if (c == '{' || c == '[') {
            if (static_cast<int>(stack_.size()) >= max_depth_) {
              mode_ = Mode::kInvalid;
              break;
            }
            stack_.push_back(c);
            mode_ = c == '{' ? Mode::kObjectFirst : Mode::kArrayFirst;
          } else if (c == '"') {
            mode_ = Mode::kString;
            key_ = false;
          } else if (c == 't' || c == 'f' || c == 'n') {
            word_ = c == 't' ? "true" : c == 'f' ? "false" : "null";
            word_at_ = 1;
            mode_ = Mode::kLiteral;
          } else if (c == '-' || is_digit(c)) {
            number_ = c == '-' ? kSign : c == '0' ? kZero : kInt;
            mode_ = Mode::kNumber;
          } else {
            mode_ = Mode::kInvalid;
          }
          break;
        case Mode::kArrayFirst:
          if (is_ws(c)) break;
          if (c == ']') {
            stack_.pop_back();
            close_value(i + 1);
          } else {
            mode_ = Mode::kValue;
            again = true;
          }
          break;
        case Mode::kObjectFirst:
        case Mode::kKey:
          if (is_ws(c)) break;
          if (c == '}' && mode_ == Mode::kObjectFirst) {
            stack_.pop_back();
            close_value(i + 1);
          } else if (c == '"') {
            mode_ = Mode::kString;
            key_ = true;
          } else {
            mode_ = Mode::kInvalid;
          }
          break;
        case Mode::kColon:
          if (is_ws(c)) break;
          mode_ = c == ':' ? Mode::kValue : Mode::kInvalid;
          break;
        case Mode::kAfter:
          if (is_ws(c)) break;
          if (c == ',') {
            mode_ = stack_.back() == '{' ? Mode::kKey : Mode::kValue;
          } else if (c == (stack_.back() == '{' ? '}' : ']')) {
            stack_.pop_back();
            close_value(i + 1);
          } else {
            mode_ = Mode::kInvalid;
          }
          break;
        case Mode::kString:
          read_string_byte(c, u, i);
          break;
        case Mode::kNumber:
          again = read_number_byte(c, i);
          break;
        case Mode::kLiteral:
          if (c != word_[word_at_]) {
            mode_ = Mode::kInvalid;
          } else if (word_[++word_at_] == '\0') {
            close_value(i + 1);
          }
          break;
        case Mode::kDone:
        case Mode::kInvalid:
          break;
      }
    }
  }
  if (mode_ == Mode::kDone) return {JsonState::kComplete, end_};
  if (mode_ == Mode::kInvalid) return {JsonState::kInvalid, 0};
  return {JsonState::kIncomplete, 0};
}

// A value ended at `end` (one past it): the top-level value is done, or its container reads on.
void JsonMachine::close_value(size_t end) {
  if (stack_.empty()) {
    mode_ = Mode::kDone;
    end_ = end;
  } else {
    mode_ = Mode::kAfter;
  }
}

void JsonMachine::read_string_byte(char c, unsigned char u, size_t i) {
  if (utf8_left_ > 0) {
    if (u < utf8_lo_ || u > utf8_hi_) {
      mode_ = Mode::kInvalid;
      return;
    }
    --utf8_left_;
    utf8_lo_ = 0x80;
    utf8_hi_ = 0xBF;
  } else if (escape_) {
    escape_ = false;
    if (c == 'u') {
      hex_left_ = 4;
    } else if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' && c != 'n' && c != 'r' && c != 't') {
      mode_ = Mode::kInvalid;
    }
  } else if (hex_left_ > 0) {
    if (!is_hex(c)) mode_ = Mode::kInvalid;
    --hex_left_;
  } else if (c == '"') {
    if (key_) {
      mode_ = Mode::kColon;
    } else {
      close_value(i + 1);
    }
  } else if (c == '\\') {
    escape_ = true;
  } else if (u < 0x20) {
    mode_ = Mode::kInvalid;
  } else if (u >= 0x80) {
    const int n = utf8_sequence(u, &utf8_lo_, &utf8_hi_);
    if (n == 0) mode_ = Mode::kInvalid;
    utf8_left_ = static_cast<uint8_t>(n > 0 ? n - 1 : 0);
  }
}

// One byte of a number; true when the byte ended the number and must be read again.
bool JsonMachine::read_number_byte(char c, size_t i) {
  const bool digit = is_digit(c);
  const bool exponent = c == 'e' || c == 'E';
  switch (number_) {
    case kSign:
      number_ = c == '0' ? kZero : digit ? kInt : kBad;
      break;
    case kZero:
    case kInt:
      if (digit && number_ == kInt) return false;
      number_ = c == '.' ? kFracStart : exponent ? kExpStart : kEnd;
      break;
    case kFracStart:
      number_ = digit ? kFrac : kBad;
      break;
    case kFrac:
      if (digit) return false;
      number_ = exponent ? kExpStart : kEnd;
      break;
    case kExpStart:
      number_ = (c == '+' || c == '-') ? kExpSign : digit ? kExp : kBad;
      break;
    case kExpSign:
      number_ = digit ? kExp : kBad;
      break;
    case kExp:
      if (!digit) number_ = kEnd;
      break;
    case kEnd:
    case kBad:
      break;
  }
  if (number_ == kBad) mode_ = Mode::kInvalid;
  if (number_ != kEnd) return false;
  close_value(i);  // the number ended before this byte
  return mode_ != Mode::kDone;
}

JsonScan scan_json_value(std::string_view text, size_t pos, int max_depth) {
  if (pos >= text.size()) return {JsonState::kIncomplete, 0};
  if (is_ws(text[pos])) return {JsonState::kInvalid, 0};  // a value starts here, not whitespace
  JsonMachine machine(max_depth);
  return machine.feed(text, pos);
}

void JsonMinifier::append(std::string_view json, std::string* out) {
  for (char c : json) {
    if (in_string_) {
      out->push_back(c);
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
    } else if (!is_ws(c)) {
      out->push_back(c);
      in_string_ = c == '"';
    }
  }
}

std::string minify_json(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  JsonMinifier().append(json, &out);
  return out;
}

bool decode_json_string(std::string_view literal, std::string* out) {
  if (literal.empty() || literal[0] != '"') return false;
  const JsonScan scan = scan_json_value(literal, 0);
  if (scan.state != JsonState::kComplete || scan.end != literal.size()) return false;
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

bool valid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    unsigned char lo = 0;
    unsigned char hi = 0;
    const int n = utf8_sequence(static_cast<unsigned char>(text[i]), &lo, &hi);
    if (n == 0 || i + static_cast<size_t>(n) > text.size()) return false;
    for (int k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) return false;
    }
    i += static_cast<size_t>(n);
  }
  return true;
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
