// Regex -> GBNF expression: a recursive-descent parser over code points that writes GBNF as it
// goes (classes written as explicit code point ranges).
#include "grammar/regex.h"

#include <cstdio>

#include "grammar/char_class.h"
#include "grammar/gbnf.h"

namespace tessera::grammar {
namespace {

std::string code_point_escape(uint32_t cp) {
  char buf[16];
  if (cp < 0x10000) {
    std::snprintf(buf, sizeof buf, "\\u%04X", cp);
  } else {
    std::snprintf(buf, sizeof buf, "\\U%08X", cp);
  }
  return buf;
}

std::string literal(uint32_t cp) {
  if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9')) return "\"" + std::string(1, char(cp)) + "\"";
  return "\"" + code_point_escape(cp) + "\"";
}

std::string class_expression(const CodePointRanges& ranges) {
  const CodePointRanges normal = normalize_ranges(ranges);
  if (normal.empty()) return "[^\\u0000-\\U0010FFFF]";  // matches nothing: pruned
  std::string out = "[";
  for (auto [lo, hi] : normal) {
    out += code_point_escape(lo);
    if (hi > lo) out += "-" + code_point_escape(hi);
  }
  return out + "]";
}

const CodePointRanges kDigits = {{'0', '9'}};
const CodePointRanges kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const CodePointRanges kSpace = {{'\t', '\r'}, {' ', ' '}, {0xA0, 0xA0}, {0x2028, 0x2029}, {0xFEFF, 0xFEFF}};

class RegexTranslator {
 public:
  RegexTranslator(std::string_view pattern, const GrammarLimits& limits) : limits_(limits) {
    size_t i = 0;
    while (i < pattern.size()) {  // decode UTF-8; invalid bytes are errors later
      const auto c = static_cast<unsigned char>(pattern[i]);
      const int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
      if (len == 0 || i + static_cast<size_t>(len) > pattern.size()) {
        bad_utf8_ = true;
        return;
      }
      uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
      for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(pattern[i + static_cast<size_t>(k)]) & 0x3F);
      cps_.push_back(cp);
      i += static_cast<size_t>(len);
    }
  }

  Expected<std::string> translate() {
    if (bad_utf8_) return invalid_argument("regex: invalid UTF-8");
    if (cps_.size() > limits_.max_source_bytes) return invalid_argument("regex too long");
    if (!cps_.empty() && cps_.front() == '^') ++pos_;
    std::string out;
    TS_RETURN_IF_ERROR(alternation(out));
    if (pos_ < cps_.size()) return error("unexpected ')'");
    return "(" + out + ")";
  }

 private:
  std::vector<uint32_t> cps_;
  size_t pos_ = 0;
  int depth_ = 0;
  bool bad_utf8_ = false;
  GrammarLimits limits_;

  bool at_end() const { return pos_ >= cps_.size(); }
  uint32_t peek() const { return at_end() ? 0 : cps_[pos_]; }
  Status error(const std::string& message) const {
    return invalid_argument("regex at character " + std::to_string(pos_ + 1) + ": " + message);
  }

  Status alternation(std::string& out) {
    if (++depth_ > limits_.max_nesting) return error("nested too deeply");
    while (true) {
      std::string seq;
      TS_RETURN_IF_ERROR(sequence(seq));
      out += seq.empty() ? "\"\"" : seq;
      if (at_end() || peek() != '|') break;
      ++pos_;
      out += " | ";
    }
    --depth_;
    return Status::ok_status();
  }

  Status sequence(std::string& out) {
    while (!at_end() && peek() != '|' && peek() != ')') {
      if (peek() == '$' && pos_ + 1 == cps_.size()) {
        ++pos_;
        break;
      }
      std::string atom;
      TS_RETURN_IF_ERROR(parse_atom(atom));
      TS_RETURN_IF_ERROR(quantifier(atom));
      if (!out.empty()) out += ' ';
      out += atom;
    }
    return Status::ok_status();
  }

  Status parse_atom(std::string& out) {
    const uint32_t c = cps_[pos_++];
    switch (c) {
      case '(': {
        if (peek() == '?') {
          if (pos_ + 1 < cps_.size() && cps_[pos_ + 1] == ':') {
            pos_ += 2;
          } else {
            return error("lookaround and named groups are not supported");
          }
        }
        std::string inner;
        TS_RETURN_IF_ERROR(alternation(inner));
        if (at_end() || peek() != ')') return error("missing ')'");
        ++pos_;
        out = "(" + inner + ")";
        return Status::ok_status();
      }
      case '[': return char_class(out);
      case '.': out = "[^\\n]"; return Status::ok_status();
      case '^': case '$': return error("anchors are only supported at the start and end");
      case '*': case '+': case '?': case '{': return error("quantifier without an atom");
      case '\\': {
        CodePointRanges ranges;
        TS_RETURN_IF_ERROR(escape(ranges));
        out = ranges.size() == 1 && ranges[0].first == ranges[0].second ? literal(ranges[0].first) : class_expression(ranges);
        return Status::ok_status();
      }
      default: out = literal(c); return Status::ok_status();
    }
  }

  // An escape after '\': one code point or a class, as ranges.
  Status escape(CodePointRanges& ranges) {
    if (at_end()) return error("trailing backslash");
    const uint32_t e = cps_[pos_++];
    switch (e) {
      case 'd': ranges = kDigits; return Status::ok_status();
      case 'w': ranges = kWord; return Status::ok_status();
      case 's': ranges = kSpace; return Status::ok_status();
      case 'D': ranges = complement_ranges(kDigits); return Status::ok_status();
      case 'W': ranges = complement_ranges(kWord); return Status::ok_status();
      case 'S': ranges = complement_ranges(kSpace); return Status::ok_status();
      case 'n': ranges = {{'\n', '\n'}}; return Status::ok_status();
      case 'r': ranges = {{'\r', '\r'}}; return Status::ok_status();
      case 't': ranges = {{'\t', '\t'}}; return Status::ok_status();
      case 'f': ranges = {{'\f', '\f'}}; return Status::ok_status();
      case 'v': ranges = {{'\v', '\v'}}; return Status::ok_status();
      case '0': ranges = {{0, 0}}; return Status::ok_status();
      case 'x': case 'u': {
        const int digits = e == 'x' ? 2 : 4;
        uint32_t cp = 0;
        for (int i = 0; i < digits; ++i) {
          const uint32_t h = peek();
          const int v = h >= '0' && h <= '9' ? int(h - '0') : h >= 'a' && h <= 'f' ? int(h - 'a' + 10) : h >= 'A' && h <= 'F' ? int(h - 'A' + 10) : -1;
          if (v < 0) return error("bad hex escape");
          cp = cp * 16 + uint32_t(v);
          ++pos_;
        }
        ranges = {{cp, cp}};
        return Status::ok_status();
      }
      default:
        if ((e >= '1' && e <= '9') || e == 'k') return error("backreferences are not supported");
        if (e == 'b' || e == 'B' || e == 'A' || e == 'z' || e == 'Z') return error("word boundaries and anchors are not supported");
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) return error("unknown escape");
        ranges = {{e, e}};
        return Status::ok_status();
    }
  }

  Status char_class(std::string& out) {
    bool negated = false;
    if (peek() == '^') {
      negated = true;
      ++pos_;
    }
    CodePointRanges ranges;
    bool first = true;
    while (true) {
      if (at_end()) return error("unterminated character class");
      if (peek() == ']' && !first) break;
      first = false;
      CodePointRanges item;
      uint32_t c = cps_[pos_++];
      if (c == '\\') {
        TS_RETURN_IF_ERROR(escape(item));
      } else {
        item = {{c, c}};
      }
      // A range a-b (both single code points; "-" before "]" is literal).
      if (item.size() == 1 && item[0].first == item[0].second && peek() == '-' && pos_ + 1 < cps_.size() &&
          cps_[pos_ + 1] != ']') {
        ++pos_;
        uint32_t hi = cps_[pos_++];
        if (hi == '\\') {
          CodePointRanges h;
          TS_RETURN_IF_ERROR(escape(h));
          if (h.size() != 1 || h[0].first != h[0].second) return error("bad range end in class");
          hi = h[0].first;
        }
        if (hi < item[0].first) return error("range out of order in class");
        item[0].second = hi;
      }
      ranges.insert(ranges.end(), item.begin(), item.end());
    }
    ++pos_;
    out = class_expression(negated ? complement_ranges(ranges) : ranges);
    return Status::ok_status();
  }

  Status read_number(int& value) {
    const size_t start = pos_;
    value = 0;
    while (!at_end() && peek() >= '0' && peek() <= '9') {
      value = value * 10 + int(peek() - '0');
      if (value > limits_.max_repetition) return error("repetition count too large");
      ++pos_;
    }
    return pos_ > start ? Status::ok_status() : error("expected a number in {m,n}");
  }

  Status quantifier(std::string& atom) {
    while (!at_end()) {
      const uint32_t c = peek();
      if (c == '*' || c == '+' || c == '?') {
        ++pos_;
        atom = "(" + atom + ")" + char(c);
      } else if (c == '{') {
        ++pos_;
        int lo, hi;
        TS_RETURN_IF_ERROR(read_number(lo));
        std::string q = "{" + std::to_string(lo);
        if (peek() == ',') {
          ++pos_;
          q += ",";
          if (peek() != '}') {
            TS_RETURN_IF_ERROR(read_number(hi));
            if (hi < lo) return error("{m,n} with n < m");
            q += std::to_string(hi);
          }
        }
        if (peek() != '}') return error("missing '}'");
        ++pos_;
        atom = "(" + atom + ")" + q + "}";
      } else {
        return Status::ok_status();
      }
      if (!at_end() && (peek() == '?' || peek() == '+')) ++pos_;  // lazy / possessive: no meaning here
    }
    return Status::ok_status();
  }
};

}  // namespace

Expected<std::string> regex_to_gbnf(std::string_view pattern, const GrammarLimits& limits) {
  return RegexTranslator(pattern, limits).translate();
}

Expected<std::shared_ptr<const Grammar>> compile_regex(std::string_view pattern, const GrammarLimits& limits) {
  TS_ASSIGN_OR_RETURN(std::string expression, regex_to_gbnf(pattern, limits));
  return parse_gbnf("root ::= " + expression + "\n", "root", limits);
}

}  // namespace tessera::grammar
