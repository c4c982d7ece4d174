// Unicode category flags per codepoint: the classes BPE pre-tokenizers split on (\p{L}, \p{N},
// \p{P}, \p{S}, \p{M}, \s). The range table is generated (gen_unicode_categories.py).
// Knows nothing about tokens.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera::unicode {

// NOTE: bit values are written into unicode_categories_data.cpp by the generator; keep in sync.
inline constexpr uint8_t kLetter = 1;        // general category L*
inline constexpr uint8_t kNumber = 2;        // N*
inline constexpr uint8_t kPunctuation = 4;   // P*
inline constexpr uint8_t kSymbol = 8;        // S*
inline constexpr uint8_t kMark = 16;         // M*
inline constexpr uint8_t kWhitespace = 32;   // White_Space property (what \s matches)

struct UnicodeRange {
  uint32_t first;  // first codepoint; the range runs up to the next entry's first
  uint8_t flags;   // k* bits shared by every codepoint of the range
};

extern const UnicodeRange kUnicodeRanges[];
extern const size_t kNumUnicodeRanges;

// Flags of one codepoint; 0 for other categories (controls, separators, unassigned) and for
// values above U+10FFFF.
uint8_t codepoint_flags(uint32_t cpt);

}  // namespace tessera::unicode
