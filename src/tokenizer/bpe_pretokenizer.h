// BpePreTokenizer: splits text into the words byte-level BPE merges within, the way llama.cpp's
// pre-tokenizer regexes do (tokenizer.ggml.pre selects the regex list). Each regex is a hand-written
// step over Unicode categories; no regex engine. Knows nothing about the vocabulary.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace tessera {

class BpePreTokenizer {
 public:
  // The regex steps for a tokenizer.ggml.pre value ("" = missing = "default").
  // Unknown names -> unsupported Status (a wrong split would silently change every token).
  static Expected<BpePreTokenizer> for_name(std::string_view pre);

  // Words of `text`, in order, re-encoded as UTF-8 (invalid input bytes become U+FFFD).
  std::vector<std::string> split(std::string_view text) const;

 private:
  // One regex of llama.cpp's list; matches are split from the gaps between them, both kept.
  enum class Step {
    kGpt2,                    // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
    kPunctuationRuns,         // [\p{P}\$\+<=>\^~\|]+   (every ASCII punctuation except '`')
    kPunctuationRunsBacktick, // [\p{P}\$\+<=>\^~\|`]+  (falcon)
    kNumberRuns,              // \p{N}+
    kEachNumber,              // \p{N}
    kAsciiDigitTriples,       // [0-9][0-9][0-9]
  };
  explicit BpePreTokenizer(std::vector<Step> steps) : steps_(std::move(steps)) {}

  // Each step maps piece lengths (in codepoints, summing to cpts.size()) to finer ones.
  static std::vector<size_t> apply(Step step, const std::vector<uint32_t>& cpts, const std::vector<size_t>& pieces);

  std::vector<Step> steps_;
};

}  // namespace tessera
