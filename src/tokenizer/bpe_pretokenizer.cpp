#include "tokenizer/bpe_pretokenizer.h"

#include <algorithm>
#include <array>

#include "tokenizer/unicode_categories.h"
#include "tokenizer/unicode_utf8.h"

namespace tessera {
namespace {

using unicode::codepoint_flags;

// Pre-tokenizer names (tokenizer.ggml.pre) that llama.cpp maps to the plain GPT-2 regex.
constexpr std::array<std::string_view, 15> kGpt2Names = {
    "gpt-2", "phi-2", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4", "gigachat", "a.x-4.0", "mellum",
    "jina-es", "jina-de", "jina-v2-es", "jina-v2-de"};
// Names that llama.cpp maps to "\p{N}" followed by the GPT-2 regex (digits split one by one).
constexpr std::array<std::string_view, 8> kDigitsThenGpt2Names = {
    "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2"};
// Llama 3's regex with ignore_merges and BOS by default.
constexpr std::array<std::string_view, 9> kLlama3Names = {
    "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"};
// Llama 3's regex alone (no ignore_merges).
constexpr std::array<std::string_view, 2> kLlama3RegexOnlyNames = {"dbrx", "smaug-bpe"};
// Llama 3's regex with single digits (\p{N}): Qwen2 and the models that reuse its tokenizer.
// bailingmoe's own regex ('(?i:[sdmt]|ll|ve|re)... \s*[\r\n]) splits identically.
constexpr std::array<std::string_view, 13> kQwen2Names = {
    "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open", "grok-2",
    "bailingmoe", "bailingmoe2", "llada-moe", "seed-coder"};
// The o200k regex (GPT-4o): case-split words with trailing contractions, 3-digit groups.
constexpr std::array<std::string_view, 3> kGpt4oNames = {"gpt-4o", "llama4", "minimax-m2"};
// The regex of Poro/BLOOM: words up to whitespace or sentence punctuation.
constexpr std::array<std::string_view, 3> kPoroNames = {"poro-chat", "bloom", "gpt3-finnish"};

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
  using Style = bpe_split::Llama3Style;
  if (listed(kLlama3Names)) return llama3_family(Style{}, /*ignore_merges=*/true, /*adds_bos=*/true);
  if (listed(kLlama3RegexOnlyNames)) return llama3_family(Style{}, /*ignore_merges=*/false, /*adds_bos=*/false);
  if (listed(kQwen2Names)) {
    Style style;
    style.max_digits = 1;
    // seed-coder: ` ?[^\s\p{L}\p{N}\r\n]+` without Qwen2's trailing [\r\n]*.
    if (pre == "seed-coder") style.punctuation_tail = Style::PunctuationTail::kNone;
    return llama3_family(style, /*ignore_merges=*/false, /*adds_bos=*/false);
  }
  if (pre == "tekken") {
    const Style style{Style::Letters::kCaseSplit, Style::Contractions::kNone, 1, Style::PunctuationTail::kNewlinesOrSlash};
    return llama3_family(style, /*ignore_merges=*/true, /*adds_bos=*/true);
  }
  if (listed(kGpt4oNames)) {
    const Style style{Style::Letters::kCaseSplit, Style::Contractions::kAfterLetters, 3,
                      Style::PunctuationTail::kNewlinesOrSlash};
    return llama3_family(style, /*ignore_merges=*/false, /*adds_bos=*/false);
  }
  if (listed(kPoroNames)) return BpePreTokenizer({Step::kPoro});
  if (pre == "viking") return BpePreTokenizer({Step::kPoro, Step::kEachNumber});
  return unsupported("tokenizer.ggml.pre '" + std::string(pre) +
                     "' is not supported (supported: default, gpt-2, llama-bpe, qwen2, falcon, starcoder, tekken, "
                     "gpt-4o, poro-chat, viking and their aliases)");
}

BpePreTokenizer BpePreTokenizer::llama3_family(bpe_split::Llama3Style style, bool ignore_merges, bool adds_bos) {
  BpePreTokenizer pre_tokenizer({Step::kLlama3Style});
  pre_tokenizer.llama3_style_ = style;
  pre_tokenizer.ignore_merges_ = ignore_merges;
  pre_tokenizer.adds_bos_by_default_ = adds_bos;
  return pre_tokenizer;
}

std::vector<size_t> BpePreTokenizer::apply(Step step, const std::vector<uint32_t>& cpts,
                                           const std::vector<size_t>& pieces) const {
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
      case Step::kGpt2: bpe_split::gpt2(cpts, begin, end, out); break;
      case Step::kLlama3Style: bpe_split::llama3_style(cpts, begin, end, llama3_style_, out); break;
      case Step::kPoro: bpe_split::poro(cpts, begin, end, out); break;
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
