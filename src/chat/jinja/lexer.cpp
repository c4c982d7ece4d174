// Jinja2's lexer rules (jinja2/lexer.py) for the default delimiters, re-derived by hand:
//  - "\r\n" and "\r" become "\n"; one trailing newline of the source is dropped;
//  - "{%-", "{{-", "{#-" strip all whitespace before the tag; "-%}", "-}}", "-#}" all after it;
//  - trim_blocks: one "\n" right after "%}" or "#}" is dropped;
//  - lstrip_blocks: spaces and tabs from the start of a line up to "{%" or "{#" are dropped,
//    unless the tag starts "{%+";
//  - "}}" and "%}" close a tag only when brackets opened inside it are balanced.
#include "chat/jinja/lexer.h"

#include <cerrno>
#include <cstdlib>

#include "chat/jinja/value.h"

namespace tessera::jinja {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1f); }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();  // keep_trailing_newline=False
  return out;
}

// Python's unicode-escape decoding of a string literal's body.
std::string decode_escapes(std::string_view body) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 == body.size()) {
      out += body[i];
      continue;
    }
    const char e = body[++i];
    auto hex = [&](size_t digits) -> bool {
      if (i + digits >= body.size()) return false;
      uint32_t cp = 0;
      for (size_t k = 1; k <= digits; ++k) {
        if (i + k >= body.size()) return false;
        const char h = body[i + k];
        cp <<= 4;
        if (is_digit(h)) cp |= static_cast<uint32_t>(h - '0');
        else if (h >= 'a' && h <= 'f') cp |= static_cast<uint32_t>(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F') cp |= static_cast<uint32_t>(h - 'A' + 10);
        else return false;
      }
      if (cp > 0x10ffff) return false;
      append_utf8(out, cp);
      i += digits;
      return true;
    };
    switch (e) {
      case '\n': break;  // line continuation
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': if (!hex(2)) out += "\\x"; break;
      case 'u': if (!hex(4)) out += "\\u"; break;
      case 'U': if (!hex(8)) out += "\\U"; break;
      default:
        if (e >= '0' && e <= '7') {
          uint32_t cp = static_cast<uint32_t>(e - '0');
          for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7'; ++k) {
            cp = cp * 8 + static_cast<uint32_t>(body[++i] - '0');
          }
          append_utf8(out, cp);
        } else {
          out += '\\';
          out += e;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view source) : src_(normalize_newlines(source)) {}

  Expected<std::vector<Token>> run() {
    while (pos_ < src_.size()) {
      if (!lex_data()) return invalid_argument(error_);
    }
    push(TokenKind::kEnd, "");
    return std::move(tokens_);
  }

 private:
  int line_at(size_t pos) {
    while (line_pos_ < pos && line_pos_ < src_.size()) {
      if (src_[line_pos_] == '\n') ++line_;
      ++line_pos_;
    }
    return line_;
  }
  void push(TokenKind kind, std::string text, size_t at) {
    Token t;
    t.kind = kind;
    t.text = std::move(text);
    t.line = line_at(at);
    tokens_.push_back(std::move(t));
  }
  void push(TokenKind kind, std::string text) { push(kind, std::move(text), pos_); }
  bool error(const std::string& message) {
    error_ = "template syntax error at line " + std::to_string(line_at(pos_)) + ": " + message;
    return false;
  }

  // Text up to the next tag, then the tag.
  bool lex_data() {
    size_t tag = src_.find('{', pos_);
    while (tag != std::string::npos && (tag + 1 >= src_.size() || (src_[tag + 1] != '{' && src_[tag + 1] != '%' && src_[tag + 1] != '#'))) {
      tag = src_.find('{', tag + 1);
    }
    if (tag == std::string::npos) {
      push(TokenKind::kText, src_.substr(pos_), pos_);
      pos_ = src_.size();
      return true;
    }
    std::string text = src_.substr(pos_, tag - pos_);
    const char type = src_[tag + 1];
    const char modifier = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
    if (modifier == '-') {
      size_t end = text.size();
      while (end > 0 && is_space(text[end - 1])) --end;
      text.resize(end);
    } else if (modifier != '+' && type != '{') {  // lstrip_blocks
      const size_t line_start = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
      if (line_start > 0 || line_starting_) {
        bool blank = line_start < text.size();
        for (size_t i = line_start; i < text.size(); ++i) blank = blank && is_space(text[i]);
        if (blank) text.resize(line_start);
      }
    }
    if (!text.empty()) push(TokenKind::kText, std::move(text), pos_);
    pos_ = tag + 2 + ((modifier == '-' || modifier == '+') ? 1 : 0);
    if (type == '#') return lex_comment();
    push(type == '{' ? TokenKind::kVarBegin : TokenKind::kBlockBegin, "", tag);
    return lex_tag(type == '{' ? '}' : '%');
  }

  bool lex_comment() {
    const size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) return error("unterminated comment");
    const bool strip_after = end > pos_ && src_[end - 1] == '-';
    pos_ = end + 2;
    finish_tag(strip_after, /*trim_newline=*/true);
    return true;
  }

  // After a closing delimiter: "-" strips all whitespace, trim_blocks one newline.
  void finish_tag(bool strip_after, bool trim_newline) {
    if (strip_after) {
      const size_t start = pos_;
      while (pos_ < src_.size() && is_space(src_[pos_])) ++pos_;
      line_starting_ = pos_ > start && src_[pos_ - 1] == '\n';
      return;
    }
    if (trim_newline && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
      line_starting_ = true;
      return;
    }
    line_starting_ = false;
  }

  bool lex_tag(char closer) {
    std::vector<char> balancing;
    while (true) {
      while (pos_ < src_.size() && is_space(src_[pos_])) ++pos_;
      if (pos_ >= src_.size()) return error(closer == '}' ? "unterminated '{{'" : "unterminated '{%'");
      if (balancing.empty()) {
        const std::string end{closer, '}'};
        const bool modified = (src_[pos_] == '-' || (src_[pos_] == '+' && closer == '%')) && src_.compare(pos_ + 1, 2, end) == 0;
        if (modified || src_.compare(pos_, 2, end) == 0) {
          const bool strip = modified && src_[pos_] == '-';
          const bool keep_newline = modified && src_[pos_] == '+';  // "+%}" disables trim_blocks
          push(closer == '}' ? TokenKind::kVarEnd : TokenKind::kBlockEnd, "");
          pos_ += modified ? 3 : 2;
          finish_tag(strip, /*trim_newline=*/closer == '%' && !keep_newline);
          return true;
        }
      }
      if (!lex_expression_token(&balancing)) return false;
    }
  }

  bool lex_expression_token(std::vector<char>* balancing) {
    const char c = src_[pos_];
    const size_t start = pos_;
    if (is_name_start(c)) {
      while (pos_ < src_.size() && is_name_char(src_[pos_])) ++pos_;
      push(TokenKind::kName, src_.substr(start, pos_ - start), start);
      return true;
    }
    if (is_digit(c)) return lex_number();
    if (c == '\'' || c == '"') {
      size_t i = pos_ + 1;
      while (i < src_.size() && src_[i] != c) i += src_[i] == '\\' ? 2 : 1;
      if (i >= src_.size()) return error("unterminated string");
      push(TokenKind::kString, decode_escapes(std::string_view(src_).substr(pos_ + 1, i - pos_ - 1)), start);
      pos_ = i + 1;
      return true;
    }
    static const char* kTwoChar[] = {"//", "**", "==", "!=", "<=", ">="};
    for (const char* op : kTwoChar) {
      if (src_.compare(pos_, 2, op) == 0) {
        push(TokenKind::kOperator, op, start);
        pos_ += 2;
        return true;
      }
    }
    if (std::string_view("+-*/%~<>=()[]{},.:|").find(c) == std::string_view::npos) {
      return error(std::string("unexpected character '") + c + "'");
    }
    if (c == '(' || c == '[' || c == '{') balancing->push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    if (c == ')' || c == ']' || c == '}') {
      if (balancing->empty() || balancing->back() != c) return error(std::string("unexpected '") + c + "'");
      balancing->pop_back();
    }
    push(TokenKind::kOperator, std::string(1, c), start);
    ++pos_;
    return true;
  }

  bool lex_number() {
    const size_t start = pos_;
    auto digits = [&] {
      while (pos_ < src_.size() && (is_digit(src_[pos_]) || (src_[pos_] == '_' && pos_ + 1 < src_.size() && is_digit(src_[pos_ + 1])))) ++pos_;
    };
    digits();
    bool is_float = false;
    if (pos_ + 1 < src_.size() && src_[pos_] == '.' && is_digit(src_[pos_ + 1])) {
      is_float = true;
      ++pos_;
      digits();
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t e = pos_ + 1;
      if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
      if (e < src_.size() && is_digit(src_[e])) {
        is_float = true;
        pos_ = e;
        digits();
      }
    }
    std::string text;
    for (size_t i = start; i < pos_; ++i) {
      if (src_[i] != '_') text += src_[i];
    }
    Token t;
    t.line = line_at(start);
    errno = 0;
    if (is_float) {
      t.kind = TokenKind::kFloat;
      t.number = std::strtod(text.c_str(), nullptr);
    } else {
      t.kind = TokenKind::kInteger;
      t.integer = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE) return error("integer literal out of range");
    }
    t.text = std::move(text);
    tokens_.push_back(std::move(t));
    return true;
  }

  std::string src_;
  size_t pos_ = 0;
  bool line_starting_ = true;  // the previous tag ended a line (lstrip_blocks applies at pos 0 too)
  size_t line_pos_ = 0;        // line_at() has counted newlines up to here
  int line_ = 1;
  std::vector<Token> tokens_;
  std::string error_;
};

}  // namespace

Expected<std::vector<Token>> tokenize(std::string_view source) { return Lexer(source).run(); }

}  // namespace tessera::jinja
