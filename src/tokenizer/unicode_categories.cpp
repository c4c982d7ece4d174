#include "tokenizer/unicode_categories.h"

#include <algorithm>
#include <array>

namespace tessera::unicode {
namespace {

// ASCII flags, looked up on every character of typical text: a flat copy of the first ranges.
std::array<uint8_t, 128> make_ascii_flags() {
  std::array<uint8_t, 128> flags{};
  size_t range = 0;
  for (uint32_t cpt = 0; cpt < flags.size(); ++cpt) {
    while (range + 1 < kNumUnicodeRanges && kUnicodeRanges[range + 1].first <= cpt) ++range;
    flags[cpt] = kUnicodeRanges[range].flags;
  }
  return flags;
}

}  // namespace

uint8_t codepoint_flags(uint32_t cpt) {
  static const std::array<uint8_t, 128> ascii_flags = make_ascii_flags();
  if (cpt < ascii_flags.size()) return ascii_flags[cpt];
  if (cpt > 0x10FFFF) return 0;
  // The last range whose first codepoint is <= cpt.
  const UnicodeRange* end = kUnicodeRanges + kNumUnicodeRanges;
  const UnicodeRange* it =
      std::upper_bound(kUnicodeRanges, end, cpt, [](uint32_t value, const UnicodeRange& r) { return value < r.first; });
  return (it - 1)->flags;
}

}  // namespace tessera::unicode
