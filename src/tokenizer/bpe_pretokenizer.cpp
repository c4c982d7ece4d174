#include "tokenizer/bpe_pretokenizer.h"

#include <algorithm>
#include <array>

#include "tokenizer/unicode_categories.h"
#include "tokenizer/unicode_utf8.h"

namespace tessera {
namespace {

using unicode::codepoint_flags;

// Pre-tokenizer names (tokenizer.ggml.pre) that llama.cpp maps to the plain GPT-2 regex.
constexpr std::array<std::string_view, 11> kGpt2Names = {
    "gpt-2", "phi-2", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4", "gigachat", "a.x-4.0", "mellum"};
// Names that llama.cpp maps to "\p{N}" followed by the GPT-2 regex (digits split one by one).
constexpr std::array<std::string_view, 8> kDigitsThenGpt2Names = {
    "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2"};

bool is_ascii_punctuation(uint32_t cpt) {
  return (cpt >= 0x21 && cpt <= 0x2F) || (cpt >= 0x3A && cpt <= 0x40) || (cpt >= 0x5B && cpt <= 0x60) ||
         (cpt >= 0x7B && cpt <= 0x7E);
}

// \p{N} as llama.cpp evaluates it: ASCII digits, or any non-ASCII codepoint of category N.
bool is_number(uint32_t cpt) {
  return cpt < 0x80 ? (cpt >= '0' && cpt <= '9') : (codepoint_flags(cpt) & unicode::kNumber) != 0;
}

// Splits cpts[begin, end) into the matches of `match_length` (a regex anchored at one position,
// returning 0 for no match) and the gaps between them, as llama.cpp's std::regex fallback does.
template <typename MatchLength>
void split_matches(size_t begin, size_t end, MatchLength match_length, std::vector<size_t>& out) {
  size_t gap_start = begin;
  size_t pos = begin;
  while (pos < end) {
    const size_t length = match_length(pos, end);
    if (length == 0) {
      ++pos;
      continue;
    }
    if (pos > gap_start) out.push_back(pos - gap_start);
    out.push_back(length);
    pos += length;
    gap_start = pos;
  }
  if (end > gap_start) out.push_back(end - gap_start);
}

// The GPT-2 regex  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// over cpts[begin, end). Codepoints past `end` are invisible (the regex runs per piece).
void split_gpt2(const std::vector<uint32_t>& cpts, size_t begin, size_t end, std::vector<size_t>& out) {
  // Character class of the codepoint at pos; kOutside past the piece.
  enum CharClass { kOutside, kLetter, kNumber, kSpace, kOther };
  const auto class_at = [&](size_t pos) {
    if (pos >= end) return kOutside;
    const uint8_t flags = codepoint_flags(cpts[pos]);
    if (flags & unicode::kWhitespace) return kSpace;
    if (flags & unicode::kLetter) return kLetter;
    if (flags & unicode::kNumber) return kNumber;
    return kOther;
  };
  size_t pos = begin;
  const auto take = [&](size_t stop) {  // invariant: every word so far ends at pos
    out.push_back(stop - pos);
    pos = stop;
  };
  while (pos < end) {
    const uint32_t cpt = cpts[pos];
    if (cpt == '\'' && pos + 1 < end) {  // contractions, case-sensitive
      const uint32_t next = cpts[pos + 1];
      if (next == 's' || next == 't' || next == 'm' || next == 'd') {
        take(pos + 2);
        continue;
      }
      const uint32_t next2 = pos + 2 < end ? cpts[pos + 2] : 0;
      if ((next == 'r' && next2 == 'e') || (next == 'v' && next2 == 'e') || (next == 'l' && next2 == 'l')) {
        take(pos + 3);
        continue;
      }
    }
    // ` ?X+` for X in letters, numbers, other (not space): one leading space joins the run.
    const size_t run_start = pos + (cpt == ' ' ? 1 : 0);
    const CharClass run_class = class_at(run_start);
    if (run_class == kLetter || run_class == kNumber || run_class == kOther) {
      size_t stop = run_start;
      while (class_at(stop) == run_class) ++stop;
      take(stop);
      continue;
    }
    size_t num_spaces = 0;
    while (class_at(pos + num_spaces) == kSpace) ++num_spaces;
    if (num_spaces > 1 && pos + num_spaces < end) {
      take(pos + num_spaces - 1);  // \s+(?!\S): leave the last space to prefix the next word
    } else if (num_spaces > 0) {
      take(pos + num_spaces);
    } else {
      take(pos + 1);  // unreachable with the classes above; kept as the regex's "no match"
    }
  }
}

}  // namespace

Expected<BpePreTokenizer> BpePreTokenizer::for_name(std::string_view pre) {
  const auto listed = [&](const auto& names) { return std::find(names.begin(), names.end(), pre) != names.end(); };
  if (pre.empty() || pre == "default") {
    return BpePreTokenizer({Step::kPunctuationRuns, Step::kGpt2, Step::kNumberRuns, Step::kAsciiDigitTriples});
  }
  if (listed(kGpt2Names)) return BpePreTokenizer({Step::kGpt2});
  if (listed(kDigitsThenGpt2Names)) return BpePreTokenizer({Step::kEachNumber, Step::kGpt2});
  if (pre == "falcon") {
    return BpePreTokenizer({Step::kPunctuationRunsBacktick, Step::kGpt2, Step::kAsciiDigitTriples});
  }
  return unsupported("tokenizer.ggml.pre '" + std::string(pre) +
                     "' is not supported (supported: default, gpt-2 and its aliases, starcoder family, falcon)");
}

std::vector<size_t> BpePreTokenizer::apply(Step step, const std::vector<uint32_t>& cpts,
                                           const std::vector<size_t>& pieces) {
  std::vector<size_t> out;
  out.reserve(pieces.size());
  const auto run_of = [&](auto predicate) {
    return [&cpts, predicate](size_t pos, size_t end) {
      size_t stop = pos;
      while (stop < end && predicate(cpts[stop])) ++stop;
      return stop - pos;
    };
  };
  const auto punctuation = [](bool with_backtick) {
    return [with_backtick](uint32_t cpt) {
      if (cpt < 0x80) return is_ascii_punctuation(cpt) && (with_backtick || cpt != '`');
      return (codepoint_flags(cpt) & unicode::kPunctuation) != 0;
    };
  };
  const auto ascii_digit = [](uint32_t cpt) { return cpt >= '0' && cpt <= '9'; };
  size_t begin = 0;
  for (const size_t length : pieces) {
    const size_t end = begin + length;
    switch (step) {
      case Step::kGpt2: split_gpt2(cpts, begin, end, out); break;
      case Step::kPunctuationRuns: split_matches(begin, end, run_of(punctuation(false)), out); break;
      case Step::kPunctuationRunsBacktick: split_matches(begin, end, run_of(punctuation(true)), out); break;
      case Step::kNumberRuns: split_matches(begin, end, run_of(is_number), out); break;
      case Step::kEachNumber:
        split_matches(begin, end, [&](size_t pos, size_t) -> size_t { return is_number(cpts[pos]) ? 1 : 0; }, out);
        break;
      case Step::kAsciiDigitTriples:
        split_matches(begin, end, [&](size_t pos, size_t stop) -> size_t {
          const bool triple = pos + 3 <= stop && ascii_digit(cpts[pos]) && ascii_digit(cpts[pos + 1]) &&
                              ascii_digit(cpts[pos + 2]);
          return triple ? 3 : 0;
        }, out);
        break;
    }
    begin = end;
  }
  return out;
}

std::vector<std::string> BpePreTokenizer::split(std::string_view text) const {
  const std::vector<uint32_t> cpts = unicode::utf8_to_codepoints(text);
  std::vector<size_t> pieces = {cpts.size()};
  for (const Step step : steps_) pieces = apply(step, cpts, pieces);
  std::vector<std::string> words;
  words.reserve(pieces.size());
  size_t begin = 0;
  for (const size_t length : pieces) {
    if (length == 0) continue;
    std::string& word = words.emplace_back();
    for (size_t i = begin; i < begin + length; ++i) unicode::append_utf8(cpts[i], word);
    begin += length;
  }
  return words;
}

}  // namespace tessera
