#include "tokenizer/bpe_word_splits.h"

#include "tokenizer/unicode_categories.h"

namespace tessera::bpe_split {
namespace {

using unicode::codepoint_flags;

// One piece cpts[begin, end) seen through the regex's eyes: codepoints past either end are
// invisible (llama.cpp runs each regex per piece), and each word taken must start where the
// previous one stopped.
class Piece {
 public:
  Piece(const std::vector<uint32_t>& cpts, size_t begin, size_t end, std::vector<size_t>& out)
      : cpts_(cpts), begin_(begin), end_(end), out_(out) {}

  bool inside(size_t pos) const { return pos >= begin_ && pos < end_; }
  uint32_t at(size_t pos) const { return inside(pos) ? cpts_[pos] : kOutside; }
  bool is_letter(size_t pos) const { return inside(pos) && (codepoint_flags(cpts_[pos]) & unicode::kLetter); }
  bool is_space(size_t pos) const { return inside(pos) && (codepoint_flags(cpts_[pos]) & unicode::kWhitespace); }
  // \p{N} as llama.cpp evaluates it: ASCII digits, or a non-ASCII codepoint of category N.
  bool is_number(size_t pos) const {
    if (!inside(pos)) return false;
    const uint32_t cpt = cpts_[pos];
    return cpt < 0x80 ? (cpt >= '0' && cpt <= '9') : (codepoint_flags(cpt) & unicode::kNumber) != 0;
  }
  // [^\s\p{L}\p{N}] inside the piece (controls and unassigned codepoints included).
  bool is_other(size_t pos) const { return inside(pos) && !is_space(pos) && !is_letter(pos) && !is_number(pos); }
  bool is_newline(size_t pos) const { return at(pos) == '\r' || at(pos) == '\n'; }
  size_t end() const { return end_; }

  // Emits the word [previous stop, stop).
  void take(size_t stop) {
    if (stop > last_stop_) out_.push_back(stop - last_stop_);
    last_stop_ = stop;
  }

 private:
  static constexpr uint32_t kOutside = 0xFFFFFFFF;
  const std::vector<uint32_t>& cpts_;
  size_t begin_;
  size_t end_;
  std::vector<size_t>& out_;
  size_t last_stop_ = begin_;
};

uint32_t ascii_lower(uint32_t cpt) { return (cpt >= 'A' && cpt <= 'Z') ? cpt + ('a' - 'A') : cpt; }

// Length of 's|'t|'re|'ve|'m|'ll|'d at pos (0 when none); case-insensitive for Llama 3's (?i:).
// NOTE: llama.cpp lower-cases with the Unicode table, but no non-ASCII capital lower-cases to one
// of these ASCII letters (only K and İ map into ASCII), so ASCII folding is exact.
size_t contraction_length(const Piece& piece, size_t pos, bool ignore_case) {
  if (piece.at(pos) != '\'' || !piece.inside(pos + 1)) return 0;
  const auto fold = [&](uint32_t cpt) { return ignore_case ? ascii_lower(cpt) : cpt; };
  const uint32_t next = fold(piece.at(pos + 1));
  if (next == 's' || next == 't' || next == 'm' || next == 'd') return 2;
  const uint32_t next2 = fold(piece.at(pos + 2));
  if ((next == 'r' && next2 == 'e') || (next == 'v' && next2 == 'e') || (next == 'l' && next2 == 'l')) return 3;
  return 0;
}

// Whitespace at the end of the alternatives:  \s*[\r\n]+ (if with_newlines) | \s+(?!\S) | \s+.
// Returns the stop of the word starting at pos (pos + 1 when nothing matches: a gap of one).
size_t whitespace_stop(const Piece& piece, size_t pos, bool with_newlines) {
  size_t stop = pos;
  size_t newline_stop = 0;  // just past the last \r or \n of the run
  while (piece.is_space(stop)) {
    if (piece.is_newline(stop)) newline_stop = stop + 1;
    ++stop;
  }
  const size_t num_spaces = stop - pos;
  if (with_newlines && newline_stop > 0) return newline_stop;
  if (num_spaces > 1 && stop < piece.end()) return stop - 1;  // leave one space to prefix the next word
  return num_spaces > 0 ? stop : pos + 1;
}

// [^\r\n\p{L}\p{N}]?(X*Y+|X+Y*) with X = a letter but not a-z, Y = a letter but not A-Z, as the
// backtracking regex matches it; 0 when it does not match at pos.
size_t case_split_word_stop(const Piece& piece, size_t pos) {
  const auto upper_like = [&](size_t i) { return piece.is_letter(i) && !(piece.at(i) >= 'a' && piece.at(i) <= 'z'); };
  const auto lower_like = [&](size_t i) { return piece.is_letter(i) && !(piece.at(i) >= 'A' && piece.at(i) <= 'Z'); };
  const auto lower_run_stop = [&](size_t i) {
    while (lower_like(i)) ++i;
    return i;
  };
  // The optional prefix: if the word fails after it, it also fails without it (pos is no letter).
  const size_t start = (!piece.is_letter(pos) && !piece.is_number(pos) && !piece.is_newline(pos)) ? pos + 1 : pos;
  size_t num_upper = 0;
  while (upper_like(start + num_upper)) ++num_upper;
  // X*Y+: X* gives back characters until a Y can follow.
  for (size_t k = num_upper + 1; k-- > 0;) {
    if (lower_like(start + k)) return lower_run_stop(start + k);
  }
  // X+Y*
  return num_upper > 0 ? lower_run_stop(start + num_upper) : 0;
}

}  // namespace

void gpt2(const std::vector<uint32_t>& cpts, size_t begin, size_t end, std::vector<size_t>& out) {
  Piece piece(cpts, begin, end, out);
  size_t pos = begin;
  const auto take = [&](size_t stop) {
    piece.take(stop);
    pos = stop;
  };
  while (pos < end) {
    if (const size_t length = contraction_length(piece, pos, /*ignore_case=*/false)) {
      take(pos + length);
      continue;
    }
    // ` ?X+` for X in letters, numbers, other (not space): one leading space joins the run.
    const size_t run_start = pos + (piece.at(pos) == ' ' ? 1 : 0);
    bool (Piece::*run_class)(size_t) const = nullptr;
    if (piece.is_letter(run_start)) {
      run_class = &Piece::is_letter;
    } else if (piece.is_number(run_start)) {
      run_class = &Piece::is_number;
    } else if (piece.is_other(run_start)) {
      run_class = &Piece::is_other;
    }
    if (run_class) {
      size_t stop = run_start;
      while ((piece.*run_class)(stop)) ++stop;
      take(stop);
      continue;
    }
    take(whitespace_stop(piece, pos, /*with_newlines=*/false));
  }
}

void llama3_style(const std::vector<uint32_t>& cpts, size_t begin, size_t end, const Llama3Style& style,
                  std::vector<size_t>& out) {
  using Style = Llama3Style;
  Piece piece(cpts, begin, end, out);
  size_t pos = begin;
  const auto take = [&](size_t stop) {
    piece.take(stop);
    pos = stop;
  };
  while (pos < end) {
    if (style.contractions == Style::Contractions::kLeading) {
      if (const size_t length = contraction_length(piece, pos, /*ignore_case=*/true)) {
        take(pos + length);
        continue;
      }
    }
    size_t word_stop = 0;
    if (style.letters == Style::Letters::kCaseSplit) {
      word_stop = case_split_word_stop(piece, pos);
    } else if (!piece.is_newline(pos) && !piece.is_number(pos) && (piece.is_letter(pos) || piece.is_letter(pos + 1))) {
      word_stop = pos + 1;  // the prefix, or the first letter
      while (piece.is_letter(word_stop)) ++word_stop;
    }
    if (word_stop > 0) {
      if (style.contractions == Style::Contractions::kAfterLetters) {
        word_stop += contraction_length(piece, word_stop, /*ignore_case=*/true);
      }
      take(word_stop);
      continue;
    }
    if (piece.is_number(pos)) {
      size_t stop = pos + 1;
      while (piece.is_number(stop) && (style.max_digits == 0 || stop - pos < style.max_digits)) ++stop;
      take(stop);
      continue;
    }
    const size_t other_start = pos + (piece.at(pos) == ' ' ? 1 : 0);
    if (piece.is_other(other_start)) {
      size_t stop = other_start;
      while (piece.is_other(stop)) ++stop;
      if (style.punctuation_tail != Style::PunctuationTail::kNone) {
        const bool slash = style.punctuation_tail == Style::PunctuationTail::kNewlinesOrSlash;
        while (piece.is_newline(stop) || (slash && piece.at(stop) == '/')) ++stop;
      }
      take(stop);
      continue;
    }
    take(whitespace_stop(piece, pos, /*with_newlines=*/true));
  }
}

void poro(const std::vector<uint32_t>& cpts, size_t begin, size_t end, std::vector<size_t>& out) {
  Piece piece(cpts, begin, end, out);
  const auto word_char = [&](size_t pos) {
    if (!piece.inside(pos) || piece.is_space(pos)) return false;
    switch (piece.at(pos)) {
      case '(': case ')': case '|': case '.': case ',': case '!': case '?':
      case 0x2026: case 0x3002: case 0xFF0C: case 0x3001: case 0x0964: case 0x06D4: case 0x060C:  // … 。 ， 、 । ۔ ،
        return false;
      default:
        return true;
    }
  };
  size_t gap_start = begin;
  size_t pos = begin;
  while (pos < end) {
    const size_t start = pos + ((piece.at(pos) == ' ' && word_char(pos + 1)) ? 1 : 0);
    if (!word_char(start)) {
      ++pos;  // no match here: the character joins the gap
      continue;
    }
    if (pos > gap_start) piece.take(pos);
    size_t stop = start;
    while (word_char(stop)) ++stop;
    piece.take(stop);
    pos = gap_start = stop;
  }
  piece.take(end);
}

}  // namespace tessera::bpe_split
