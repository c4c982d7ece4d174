// Character classes over Unicode code points, lowered to UTF-8 byte sequences for the byte-level
// grammar: [a-z], [^"\\], "." and the regex classes all go through here.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "grammar/grammar.h"

namespace tessera::grammar {

// Inclusive code point ranges.
using CodePointRanges = std::vector<std::pair<uint32_t, uint32_t>>;

constexpr uint32_t kMaxCodePoint = 0x10FFFF;

// Sorted, merged, surrogates (D800-DFFF, not encodable in UTF-8) removed.
CodePointRanges normalize_ranges(CodePointRanges ranges);
// Every valid code point not in `ranges`.
CodePointRanges complement_ranges(const CodePointRanges& ranges);

// UTF-8 encodings of the code points in `ranges` as sequences of byte ranges: each inner vector
// is one sequence, byte i in [first, second]; together they match exactly those encodings.
std::vector<std::vector<std::pair<uint8_t, uint8_t>>> utf8_sequences(const CodePointRanges& ranges);

// The alternatives matching one code point of `ranges`: one byte set for the single-byte
// (ASCII) part, one byte-set sequence per multi-byte UTF-8 range sequence. An empty class gives
// one empty byte set (matches nothing; pruned).
void class_alternatives(const CodePointRanges& ranges, std::vector<GrammarBuilder::Sequence>& out);

}  // namespace tessera::grammar
