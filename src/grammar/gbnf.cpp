// Recursive-descent GBNF parser that lowers straight into a GrammarBuilder: each atom becomes a
// list of alternatives, postfix operators become helper rules, sequences splice single
// alternatives inline and call a helper rule for several.
#include "grammar/gbnf.h"

#include <cstdio>
#include <map>

#include "grammar/char_class.h"

namespace tessera::grammar {
namespace {

using Sequence = GrammarBuilder::Sequence;
using Alts = std::vector<Sequence>;
constexpr int kUnbounded = -1;

class GbnfParser {
 public:
  GbnfParser(GrammarBuilder& builder, std::string_view text) : b_(builder), text_(text) {}

  Status parse() {
    if (text_.size() > b_.limits().max_source_bytes) {
      return invalid_argument("grammar text too long: " + std::to_string(text_.size()) + " bytes");
    }
    skip_space();
    if (at_end()) return invalid_argument("empty grammar: no rules");
    while (!at_end()) {
      TS_RETURN_IF_ERROR(parse_rule());
      skip_space();
    }
    for (const auto& [name, where] : first_use_) {
      if (!b_.is_defined(b_.rule_id(name))) return invalid_argument(where + ": undefined rule '" + name + "'");
    }
    return Status::ok_status();
  }

 private:
  GrammarBuilder& b_;
  std::string_view text_;
  size_t pos_ = 0;
  int depth_ = 0;
  std::map<std::string, std::string> first_use_;  // rule name -> "line L, column C" of a reference
  std::map<int32_t, bool> defined_here_;

  bool at_end() const { return pos_ >= text_.size(); }
  char peek(size_t ahead = 0) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }

  std::string where(size_t at) const {
    int line = 1, col = 1;
    for (size_t i = 0; i < at && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(col);
  }
  Status error(const std::string& message, size_t at) const { return invalid_argument("grammar " + where(at) + ": " + message); }
  Status error(const std::string& message) const { return error(message, pos_); }

  void skip_space() {
    while (!at_end()) {
      const char c = peek();
      if (c == '#') {
        while (!at_end() && peek() != '\n') ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else {
        break;
      }
    }
  }
  static bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  }
  std::string_view read_name() {
    const size_t start = pos_;
    while (!at_end() && is_name_char(peek())) ++pos_;
    return text_.substr(start, pos_ - start);
  }
  // True when a `name ::=` starts at the current position (the start of the next rule).
  bool at_rule_start() const {
    size_t p = pos_;
    while (p < text_.size() && is_name_char(text_[p])) ++p;
    if (p == pos_) return false;
    while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t' || text_[p] == '\n' || text_[p] == '\r')) ++p;
    return text_.substr(p, 3) == "::=";
  }

  Status parse_rule() {
    const size_t start = pos_;
    const std::string name(read_name());
    if (name.empty()) return error(std::string("expected a rule name, found '") + peek() + "'");
    skip_space();
    if (text_.substr(pos_, 3) != "::=") return error("expected '::=' after rule name '" + name + "'");
    pos_ += 3;
    const int32_t rule = b_.rule_id(name);
    if (defined_here_.count(rule) || b_.is_defined(rule)) return error("rule '" + name + "' defined twice", start);
    defined_here_[rule] = true;
    b_.mark_defined(rule);
    Alts alts;
    TS_RETURN_IF_ERROR(parse_alternatives(alts, /*nested=*/false));
    for (auto& seq : alts) TS_RETURN_IF_ERROR(b_.add_alternative(rule, std::move(seq)));
    return Status::ok_status();
  }

  Status parse_alternatives(Alts& alts, bool nested) {
    if (++depth_ > b_.limits().max_nesting) return error("grammar nested too deeply");
    while (true) {
      TS_RETURN_IF_ERROR(parse_sequence(alts, nested));
      skip_space();
      if (peek() != '|') break;
      ++pos_;
    }
    --depth_;
    return Status::ok_status();
  }

  // One alternative of a rule or group, appended to `alts`. A sequence of a single atom adds
  // the atom's alternatives directly (so "( [^a] | b )*" or "[^a]{0,9}" distribute into the
  // repetition rules instead of calling a shared helper rule, whose caller would be unknown).
  Status parse_sequence(Alts& alts, bool nested) {
    std::vector<Alts> atoms;
    size_t size = 0;
    while (true) {
      skip_space();
      if (at_end()) break;
      const char c = peek();
      if (c == '|' || (c == ')' && nested)) break;
      if (!nested && at_rule_start()) break;
      const size_t atom_start = pos_;
      Alts atom;
      TS_RETURN_IF_ERROR(parse_atom(atom));
      TS_RETURN_IF_ERROR(parse_postfix(atom, atom_start));
      for (const auto& alt : atom) size += alt.size();
      if (size > b_.limits().max_symbols) return error("grammar too large");
      atoms.push_back(std::move(atom));
    }
    if (atoms.size() == 1) {
      for (auto& alt : atoms[0]) alts.push_back(std::move(alt));
      return Status::ok_status();
    }
    Sequence seq;
    for (auto& atom : atoms) TS_RETURN_IF_ERROR(splice(seq, std::move(atom), "group"));
    alts.push_back(std::move(seq));
    return Status::ok_status();
  }

  // Appends the alternatives to `seq`: inline when there is one, else as a helper rule call.
  Status splice(Sequence& seq, Alts atom, const std::string& name) {
    if (atom.size() == 1) {
      seq.insert(seq.end(), atom[0].begin(), atom[0].end());
      return Status::ok_status();
    }
    const int32_t rule = b_.new_helper_rule(name);
    for (auto& alt : atom) TS_RETURN_IF_ERROR(b_.add_alternative(rule, std::move(alt)));
    seq.push_back(GrammarBuilder::Item::ref(rule));
    return Status::ok_status();
  }

  Status parse_atom(Alts& atom) {
    const char c = peek();
    if (c == '"') return parse_literal(atom);
    if (c == '[') return parse_class(atom);
    if (c == '.') {
      ++pos_;
      class_alternatives({{0, kMaxCodePoint}}, atom);
      return Status::ok_status();
    }
    if (c == '(') {
      const size_t open = pos_++;
      TS_RETURN_IF_ERROR(parse_alternatives(atom, /*nested=*/true));
      skip_space();
      if (peek() != ')') return error("unclosed '(' opened at " + where(open));
      ++pos_;
      return Status::ok_status();
    }
    if (is_name_char(c)) {
      const size_t at = pos_;
      const std::string name(read_name());
      first_use_.emplace(name, where(at));
      atom.push_back({GrammarBuilder::Item::ref(b_.rule_id(name))});
      return Status::ok_status();
    }
    if (c == '<') return error("token references (<[id]>, <name>) are not supported");
    return error(std::string("unexpected character '") + c + "'");
  }

  // One code point of source text, with escapes; `quote` ends the run.
  Status read_char(uint32_t& cp) {
    if (at_end()) return error("unexpected end of grammar inside a literal or class");
    const unsigned char c = static_cast<unsigned char>(peek());
    if (c == '\\') {
      const size_t at = pos_;
      ++pos_;
      if (at_end()) return error("unfinished escape", at);
      const char e = text_[pos_++];
      switch (e) {
        case 'n': cp = '\n'; return Status::ok_status();
        case 'r': cp = '\r'; return Status::ok_status();
        case 't': cp = '\t'; return Status::ok_status();
        case 'f': cp = '\f'; return Status::ok_status();
        case 'v': cp = '\v'; return Status::ok_status();
        case 'b': cp = '\b'; return Status::ok_status();
        case '0': cp = 0; return Status::ok_status();
        case '\\': case '"': case '\'': case '[': case ']': case '-': case '/': case '^': case '.':
          cp = static_cast<unsigned char>(e);
          return Status::ok_status();
        case 'x': return read_hex(2, cp, at);
        case 'u': return read_hex(4, cp, at);
        case 'U': return read_hex(8, cp, at);
        default: return error(std::string("unknown escape '\\") + e + "'", at);
      }
    }
    // A raw UTF-8 character of the source.
    const int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || pos_ + static_cast<size_t>(len) > text_.size()) return error("invalid UTF-8 in grammar");
    cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int i = 1; i < len; ++i) {
      const unsigned char k = static_cast<unsigned char>(text_[pos_ + static_cast<size_t>(i)]);
      if ((k & 0xC0) != 0x80) return error("invalid UTF-8 in grammar");
      cp = (cp << 6) | (k & 0x3F);
    }
    pos_ += static_cast<size_t>(len);
    if (cp > kMaxCodePoint || (cp >= 0xD800 && cp <= 0xDFFF)) return error("invalid UTF-8 in grammar");
    return Status::ok_status();
  }
  Status read_hex(int digits, uint32_t& cp, size_t at) {
    cp = 0;
    for (int i = 0; i < digits; ++i) {
      const char h = peek();
      int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
      if (v < 0) return error("expected " + std::to_string(digits) + " hex digits in escape", at);
      cp = cp * 16 + static_cast<uint32_t>(v);
      ++pos_;
    }
    if (cp > kMaxCodePoint || (cp >= 0xD800 && cp <= 0xDFFF)) return error("escape is not a Unicode scalar value", at);
    return Status::ok_status();
  }

  Status parse_literal(Alts& atom) {
    const size_t open = pos_++;
    std::string bytes;
    while (true) {
      if (at_end()) return error("unterminated string literal", open);
      if (peek() == '"') break;
      uint32_t cp;
      TS_RETURN_IF_ERROR(read_char(cp));
      append_utf8(bytes, cp);
    }
    ++pos_;
    Sequence seq;
    for (unsigned char ch : bytes) {
      ByteSet set;
      set.set(ch);
      seq.push_back(GrammarBuilder::Item::byte_set(set));
    }
    atom.push_back(std::move(seq));
    return Status::ok_status();
  }

  Status parse_class(Alts& atom) {
    const size_t open = pos_++;
    bool negated = false;
    if (peek() == '^') {
      negated = true;
      ++pos_;
    }
    CodePointRanges ranges;
    while (true) {
      if (at_end()) return error("unterminated character class", open);
      if (peek() == ']') break;
      uint32_t lo, hi;
      TS_RETURN_IF_ERROR(read_char(lo));
      hi = lo;
      if (peek() == '-' && peek(1) != ']' && pos_ + 1 < text_.size()) {
        ++pos_;
        TS_RETURN_IF_ERROR(read_char(hi));
        if (hi < lo) return error("character range out of order", open);
      }
      ranges.emplace_back(lo, hi);
    }
    ++pos_;
    class_alternatives(negated ? complement_ranges(ranges) : ranges, atom);
    return Status::ok_status();
  }

  Status read_int(int& value) {
    const size_t start = pos_;
    value = 0;
    while (peek() >= '0' && peek() <= '9') {
      value = value * 10 + (peek() - '0');
      if (value > b_.limits().max_repetition) return error("repetition count over " + std::to_string(b_.limits().max_repetition), start);
      ++pos_;
    }
    if (pos_ == start) return error("expected a number in {m,n}");
    return Status::ok_status();
  }

  Status parse_postfix(Alts& atom, size_t atom_start) {
    while (true) {
      skip_space_inline();
      const char c = peek();
      int lo, hi;
      if (c == '*') {
        lo = 0, hi = kUnbounded;
      } else if (c == '+') {
        lo = 1, hi = kUnbounded;
      } else if (c == '?') {
        lo = 0, hi = 1;
      } else if (c == '{') {
        const size_t open = pos_++;
        skip_space_inline();
        TS_RETURN_IF_ERROR(read_int(lo));
        skip_space_inline();
        hi = lo;
        if (peek() == ',') {
          ++pos_;
          skip_space_inline();
          if (peek() == '}') {
            hi = kUnbounded;
          } else {
            TS_RETURN_IF_ERROR(read_int(hi));
          }
        }
        skip_space_inline();
        if (peek() != '}') return error("expected '}' to close the repetition opened", open);
        if (hi != kUnbounded && hi < lo) return error("repetition {m,n} with n < m", open);
      } else {
        return Status::ok_status();
      }
      ++pos_;
      TS_RETURN_IF_ERROR(repeat(atom, lo, hi, atom_start));
    }
  }
  void skip_space_inline() {
    while (peek() == ' ' || peek() == '\t') ++pos_;
  }

  Status repeat(Alts& atom, int lo, int hi, size_t at) {
    size_t size = 0;
    for (const auto& alt : atom) size += alt.size() + 1;
    const size_t copies = static_cast<size_t>(hi == kUnbounded ? lo + 1 : hi);
    if (size * copies > b_.limits().max_symbols) return error("repetition makes the grammar too large", at);
    Alts result;
    if (lo == 0 && hi == 1) {
      result = atom;
      result.emplace_back();
      atom = std::move(result);
      return Status::ok_status();
    }
    Sequence seq;
    // One copy as a sequence (a helper rule when the atom has several alternatives).
    Sequence once;
    TS_RETURN_IF_ERROR(splice(once, atom, "group"));
    for (int i = 0; i < lo; ++i) seq.insert(seq.end(), once.begin(), once.end());
    if (hi == kUnbounded) {  // star ::= x star | ""
      const int32_t star = b_.new_helper_rule("star");
      for (const auto& alt : atom) {
        if (alt.empty()) continue;  // (x?)* is x*: an empty pass would loop
        Sequence s = alt;
        s.push_back(GrammarBuilder::Item::ref(star));
        TS_RETURN_IF_ERROR(b_.add_alternative(star, std::move(s)));
      }
      TS_RETURN_IF_ERROR(b_.add_alternative(star, {}));
      seq.push_back(GrammarBuilder::Item::ref(star));
    } else if (hi > lo) {  // opt_k ::= x opt_{k+1} | "", the last without the call
      int32_t next = -1;
      for (int k = hi - lo; k >= 1; --k) {
        const int32_t opt = b_.new_helper_rule("rep");
        for (const auto& alt : atom) {
          if (alt.empty()) continue;  // the "" alternative below covers it
          Sequence s = alt;
          if (next >= 0) s.push_back(GrammarBuilder::Item::ref(next));
          TS_RETURN_IF_ERROR(b_.add_alternative(opt, std::move(s)));
        }
        TS_RETURN_IF_ERROR(b_.add_alternative(opt, {}));
        next = opt;
      }
      seq.push_back(GrammarBuilder::Item::ref(next));
    }
    atom.clear();
    atom.push_back(std::move(seq));
    return Status::ok_status();
  }
};

}  // namespace

Status parse_gbnf_into(GrammarBuilder& builder, std::string_view text) { return GbnfParser(builder, text).parse(); }

Expected<std::shared_ptr<const Grammar>> parse_gbnf(std::string_view text, std::string_view root, const GrammarLimits& limits) {
  GrammarBuilder builder(limits);
  TS_RETURN_IF_ERROR(parse_gbnf_into(builder, text));
  if (!builder.has_rule(std::string(root))) return invalid_argument("grammar has no rule '" + std::string(root) + "'");
  return builder.finish(std::string(root));
}

std::string gbnf_literal(std::string_view bytes) {
  std::string out = "\"";
  for (unsigned char c : bytes) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);  // UTF-8 passes through as source text
    }
  }
  return out + "\"";
}

}  // namespace tessera::grammar
