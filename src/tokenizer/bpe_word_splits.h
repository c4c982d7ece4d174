// Hand-written equivalents of the word-splitting regexes llama.cpp's BPE pre-tokenizers run
// (tokenizer.ggml.pre picks which). Each function splits one piece of codepoints into words and
// appends their lengths; it owns the regex semantics only, not which model uses which regex.
// NOTE: llama.cpp runs most of these through std::regex over a "collapsed" text (every non-ASCII
// codepoint replaced by one byte standing for its category), so \p{L} etc. are by category and
// [a-z]/[A-Z] are ASCII only; these functions reproduce that, not the Unicode-aware originals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tessera::bpe_split {

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+   (GPT-2)
void gpt2(const std::vector<uint32_t>& cpts, size_t begin, size_t end, std::vector<size_t>& out);

// The Llama 3 regex and its relatives, which differ only in the knobs below. Llama 3 itself:
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
struct Llama3Style {
  enum class Letters {
    kPlain,      // [^\r\n\p{L}\p{N}]?\p{L}+, after leading contractions (Llama 3, Qwen2)
    kCaseSplit,  // [^\r\n\p{L}\p{N}]?(upper* lower+ | upper+ lower*) (Tekken, o200k): "HelloWorld" -> 2
  };
  enum class Contractions {
    kLeading,      // (?i:'s|...) as its own alternative, first
    kAfterLetters,  // (?i:'s|...)? right after a word's letters (o200k)
    kNone,          // not matched (Tekken)
  };
  enum class PunctuationTail {
    kNewlines,         // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    kNewlinesOrSlash,  // ` ?[^\s\p{L}\p{N}]+[\r\n/]*` (Tekken, o200k)
    kNone,             // ` ?[^\s\p{L}\p{N}\r\n]+` (Seed-Coder)
  };
  Letters letters = Letters::kPlain;
  Contractions contractions = Contractions::kLeading;
  size_t max_digits = 3;  // \p{N}{1,max_digits}; 0 means unlimited (\p{N}+)
  PunctuationTail punctuation_tail = PunctuationTail::kNewlines;
};
void llama3_style(const std::vector<uint32_t>& cpts, size_t begin, size_t end, const Llama3Style& style,
                  std::vector<size_t>& out);

//  ?[^(\s|.,!?…。，、।۔،)]+   (Poro, Viking, BLOOM): matches and the gaps between them.
void poro(const std::vector<uint32_t>& cpts, size_t begin, size_t end, std::vector<size_t>& out);

}  // namespace tessera::bpe_split
