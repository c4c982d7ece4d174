// BpePreTokenizer: splits text into the words byte-level BPE merges within, the way llama.cpp's
// pre-tokenizer regexes do (tokenizer.ggml.pre selects the regex list and a few per-name flags).
// Each regex is a hand-written step over Unicode categories (bpe_word_splits.h); no regex engine.
// Knows nothing about the vocabulary.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tokenizer/bpe_word_splits.h"

namespace tessera {

class BpePreTokenizer {
 public:
  // The regex steps for a tokenizer.ggml.pre value ("" = missing = "default").
  // Unknown names -> unsupported Status (a wrong split would silently change every token).
  static Expected<BpePreTokenizer> for_name(std::string_view pre);

  // Words of `text`, in order, re-encoded as UTF-8 (invalid input bytes become U+FFFD).
  std::vector<std::string> split(std::string_view text) const;

  // llama.cpp's ignore_merges (Llama 3, Tekken): a word that is itself a token is emitted whole,
  // without running the merges (which might not rebuild it).
  bool ignore_merges() const { return ignore_merges_; }
  // Whether BOS is added when the file has no tokenizer.ggml.add_bos_token key.
  bool adds_bos_by_default() const { return adds_bos_by_default_; }

 private:
  // One regex of llama.cpp's list; matches are split from the gaps between them, both kept.
  enum class Step {
    kGpt2,                    // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
    kLlama3Style,             // Llama 3's regex or a relative, as llama3_style_ says
    kPoro,                    //  ?[^(\s|.,!?…。，、।۔،)]+
    kPunctuationRuns,         // [\p{P}\$\+<=>\^~\|]+   (every ASCII punctuation except '`')
    kPunctuationRunsBacktick, // [\p{P}\$\+<=>\^~\|`]+  (falcon)
    kNumberRuns,              // \p{N}+
    kEachNumber,              // \p{N}
    kAsciiDigitTriples,       // [0-9][0-9][0-9]
  };
  explicit BpePreTokenizer(std::vector<Step> steps) : steps_(std::move(steps)) {}
  // The single-regex Llama 3 family.
  static BpePreTokenizer llama3_family(bpe_split::Llama3Style style, bool ignore_merges, bool adds_bos);

  // Each step maps piece lengths (in codepoints, summing to cpts.size()) to finer ones.
  std::vector<size_t> apply(Step step, const std::vector<uint32_t>& cpts, const std::vector<size_t>& pieces) const;

  std::vector<Step> steps_;
  bpe_split::Llama3Style llama3_style_;  // used by Step::kLlama3Style
  bool ignore_merges_ = false;
  bool adds_bos_by_default_ = false;
};

}  // namespace tessera
