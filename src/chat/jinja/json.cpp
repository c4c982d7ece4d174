// json.dumps as Python writes it, and a recursive-descent JSON parser with a depth bound.
#include "chat/jinja/json.h"

#include <algorithm>
#include <cmath>
#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace tessera::jinja {
namespace {

void append_code_unit(std::string& out, uint32_t unit) {
  static const char* kHex = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(unit >> shift) & 15];
}

// A JSON string as json.dumps writes it; ensure_ascii writes non-ASCII as \uXXXX (surrogate
// pairs above U+FFFF), otherwise UTF-8 passes through.
void append_json_string(std::string& out, std::string_view s, bool ensure_ascii = false) {
  out += '"';
  for (std::string_view ch : utf8_chars(s)) {
    const auto c = static_cast<unsigned char>(ch[0]);
    if (ch.size() > 1 || c >= 0x80) {
      if (!ensure_ascii) {
        out += ch;
        continue;
      }
      uint32_t cp = ch.size() == 2 ? c & 0x1f : ch.size() == 3 ? c & 0x0f : c & 0x07;
      for (size_t i = 1; i < ch.size(); ++i) cp = (cp << 6) | (static_cast<unsigned char>(ch[i]) & 0x3f);
      if (cp >= 0x10000) {
        append_code_unit(out, 0xd800 + ((cp - 0x10000) >> 10));
        append_code_unit(out, 0xdc00 + ((cp - 0x10000) & 0x3ff));
      } else {
        append_code_unit(out, cp);
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) append_code_unit(out, c);
        else out += ch;
    }
  }
  out += '"';
}

class JsonWriter {
 public:
  explicit JsonWriter(const JsonDumpOptions& options) : options_(options) {
    item_separator_ = options.item_separator ? *options.item_separator : options.indent ? "," : ", ";
  }

  void write(const Value& v, int level) {
    if (level > 512) fail("tojson: value nested too deeply");
    if (v.is_none()) {
      out += "null";
    } else if (v.is_bool()) {
      out += v.as_bool() ? "true" : "false";
    } else if (v.is_int()) {
      out += std::to_string(v.as_int());
    } else if (v.is_float()) {
      const double d = v.as_float();
      out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity") : python_float_repr(d);
    } else if (v.is_string()) {
      append_json_string(out, v.as_string(), options_.ensure_ascii);
    } else if (v.is_list() && !v.is_generator()) {
      write_list(v.as_list().items, level);
    } else if (v.is_dict()) {
      write_dict(v.as_dict(), level);
    } else {
      fail("Object of type " + std::string(v.type_name()) + " is not JSON serializable");
    }
  }

  std::string out;

 private:
  void newline(int level) {
    if (!options_.indent) return;
    out += '\n';
    for (int i = 0; i < level; ++i) out += *options_.indent;
  }

  void write_list(const std::vector<Value>& items, int level) {
    if (items.empty()) {
      out += "[]";
      return;
    }
    out += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += item_separator_;
      newline(level + 1);
      write(items[i], level + 1);
    }
    newline(level);
    out += ']';
  }

  void write_dict(const DictData& dict, int level) {
    if (dict.entries.empty()) {
      out += "{}";
      return;
    }
    // Python converts keys to strings: 1 -> "1", True -> "true", None -> "null".
    std::vector<std::pair<std::string, const Value*>> entries;
    for (const auto& [k, v] : dict.entries) {
      std::string key = k.is_string() ? k.as_string() : k.is_bool() ? (k.as_bool() ? "true" : "false") : k.is_none() ? "null" : k.str();
      if (!k.is_string() && !k.is_number() && !k.is_none()) fail("keys must be str, int, float, bool or None");
      entries.emplace_back(std::move(key), &v);
    }
    if (options_.sort_keys) {
      std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    out += '{';
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i > 0) out += item_separator_;
      newline(level + 1);
      append_json_string(out, entries[i].first, options_.ensure_ascii);
      out += options_.key_separator;
      write(*entries[i].second, level + 1);
    }
    newline(level);
    out += '}';
  }

  const JsonDumpOptions& options_;
  std::string item_separator_;
};

class JsonParser {
 public:
  JsonParser(std::string_view text, int max_depth) : text_(text), max_depth_(max_depth) {}

  Expected<Value> parse_document() {
    Value v;
    if (!parse_value(&v, 0)) return invalid_argument("invalid JSON at offset " + std::to_string(pos_) + ": " + error_);
    skip_space();
    if (pos_ != text_.size()) return invalid_argument("invalid JSON: trailing characters at offset " + std::to_string(pos_));
    return v;
  }

 private:
  bool error(std::string message) {
    error_ = std::move(message);
    return false;
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) ++pos_;
  }
  bool consume(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool parse_value(Value* out, int depth) {
    if (depth > max_depth_) return error("nested too deeply");
    skip_space();
    if (pos_ >= text_.size()) return error("unexpected end");
    const char c = text_[pos_];
    if (c == '{') return parse_object(out, depth);
    if (c == '[') return parse_array(out, depth);
    if (c == '"') {
      std::string s;
      if (!parse_string(&s)) return false;
      *out = Value(std::move(s));
      return true;
    }
    if (consume("true")) return *out = Value(true), true;
    if (consume("false")) return *out = Value(false), true;
    if (consume("null")) return *out = Value::none(), true;
    return parse_number(out);
  }

  bool parse_object(Value* out, int depth) {
    ++pos_;
    Value dict = Value::dict();
    skip_space();
    if (consume("}")) return *out = dict, true;
    while (true) {
      skip_space();
      std::string key;
      if (pos_ >= text_.size() || text_[pos_] != '"' || !parse_string(&key)) return error("expected a string key");
      skip_space();
      if (!consume(":")) return error("expected ':'");
      Value v;
      if (!parse_value(&v, depth + 1)) return false;
      dict.as_dict().set(Value(std::move(key)), std::move(v));
      skip_space();
      if (consume("}")) return *out = dict, true;
      if (!consume(",")) return error("expected ',' or '}'");
    }
  }

  bool parse_array(Value* out, int depth) {
    ++pos_;
    std::vector<Value> items;
    skip_space();
    if (consume("]")) return *out = Value::list({}), true;
    while (true) {
      Value v;
      if (!parse_value(&v, depth + 1)) return false;
      items.push_back(std::move(v));
      skip_space();
      if (consume("]")) return *out = Value::list(std::move(items)), true;
      if (!consume(",")) return error("expected ',' or ']'");
    }
  }

  bool parse_hex4(uint32_t* cp) {
    if (pos_ + 4 > text_.size()) return error("short \\u escape");
    *cp = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = text_[pos_++];
      *cp <<= 4;
      if (h >= '0' && h <= '9') *cp |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') *cp |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') *cp |= static_cast<uint32_t>(h - 'A' + 10);
      else return error("bad \\u escape");
    }
    return true;
  }

  bool parse_string(std::string* out) {
    ++pos_;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return error("control character in string");
      if (c != '\\') {
        *out += c;
        continue;
      }
      if (pos_ >= text_.size()) break;
      const char e = text_[pos_++];
      switch (e) {
        case '"': *out += '"'; break;
        case '\\': *out += '\\'; break;
        case '/': *out += '/'; break;
        case 'b': *out += '\b'; break;
        case 'f': *out += '\f'; break;
        case 'n': *out += '\n'; break;
        case 'r': *out += '\r'; break;
        case 't': *out += '\t'; break;
        case 'u': {
          uint32_t cp = 0;
          if (!parse_hex4(&cp)) return false;
          if (cp >= 0xd800 && cp < 0xdc00 && text_.substr(pos_, 2) == "\\u") {
            pos_ += 2;
            uint32_t low = 0;
            if (!parse_hex4(&low)) return false;
            if (low >= 0xdc00 && low < 0xe000) {
              cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            } else {
              append_utf8(*out, 0xfffd);
              cp = low;
            }
          }
          if (cp >= 0xd800 && cp < 0xe000) cp = 0xfffd;  // a lone surrogate has no UTF-8
          append_utf8(*out, cp);
          break;
        }
        default: return error("bad escape");
      }
    }
    return error("unterminated string");
  }

  bool parse_number(Value* out) {
    const size_t start = pos_;
    if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
    bool is_float = false;
    const size_t digits_start = pos_;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    if (pos_ == digits_start) return error("unexpected character");
    if (pos_ < text_.size() && text_[pos_] == '.') {
      is_float = true;
      ++pos_;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      is_float = true;
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    }
    const std::string number(text_.substr(start, pos_ - start));
    if (!is_float) {
      errno = 0;
      const long long i = std::strtoll(number.c_str(), nullptr, 10);
      if (errno == 0) return *out = Value(static_cast<int64_t>(i)), true;
    }
    *out = Value(std::strtod(number.c_str(), nullptr));
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
  int max_depth_;
  std::string error_;
};

}  // namespace

std::string to_json(const Value& value, const JsonDumpOptions& options) {
  JsonWriter writer(options);
  writer.write(value, 0);
  return std::move(writer.out);
}

Expected<Value> parse_json(std::string_view text, int max_depth) { return JsonParser(text, max_depth).parse_document(); }

}  // namespace tessera::jinja
