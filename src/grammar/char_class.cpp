// Code point ranges -> UTF-8 byte-range sequences (the classic split by encoded length, then by
// continuation-byte boundaries), and their lowering into grammar rules.
#include "grammar/char_class.h"

#include <algorithm>

namespace tessera::grammar {

CodePointRanges normalize_ranges(CodePointRanges ranges) {
  CodePointRanges split;
  for (auto [lo, hi] : ranges) {
    hi = std::min(hi, kMaxCodePoint);
    if (lo > hi) continue;
    if (lo < 0xD800 && hi >= 0xD800) {  // cut the surrogates out
      split.emplace_back(lo, 0xD7FF);
      lo = 0xE000;
    }
    if (lo >= 0xD800 && lo <= 0xDFFF) lo = 0xE000;
    if (lo <= hi) split.emplace_back(lo, hi);
  }
  std::sort(split.begin(), split.end());
  CodePointRanges merged;
  for (auto r : split) {
    if (!merged.empty() && r.first <= merged.back().second + 1) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

CodePointRanges complement_ranges(const CodePointRanges& ranges) {
  CodePointRanges sorted = normalize_ranges(ranges);
  CodePointRanges out;
  uint32_t next = 0;
  for (auto [lo, hi] : sorted) {
    if (lo > next) out.emplace_back(next, lo - 1);
    next = hi + 1;
  }
  if (next <= kMaxCodePoint) out.emplace_back(next, kMaxCodePoint);
  return normalize_ranges(out);
}

namespace {

int encoded_length(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

void encode(uint32_t cp, uint8_t* out) {
  std::string s;
  append_utf8(s, cp);
  std::copy(s.begin(), s.end(), out);
}

// lo and hi have the same encoded length.
void split_same_length(uint32_t lo, uint32_t hi, std::vector<std::vector<std::pair<uint8_t, uint8_t>>>& out) {
  const int n = encoded_length(lo);
  for (int i = 1; i < n; ++i) {
    const uint32_t m = (uint32_t(1) << (6 * i)) - 1;  // the low i continuation bytes
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {
        split_same_length(lo, lo | m, out);
        split_same_length((lo | m) + 1, hi, out);
        return;
      }
      if ((hi & m) != m) {
        split_same_length(lo, (hi & ~m) - 1, out);
        split_same_length(hi & ~m, hi, out);
        return;
      }
    }
  }
  uint8_t a[4], b[4];
  encode(lo, a);
  encode(hi, b);
  std::vector<std::pair<uint8_t, uint8_t>> seq;
  for (int i = 0; i < n; ++i) seq.emplace_back(a[i], b[i]);
  out.push_back(std::move(seq));
}

}  // namespace

std::vector<std::vector<std::pair<uint8_t, uint8_t>>> utf8_sequences(const CodePointRanges& ranges) {
  std::vector<std::vector<std::pair<uint8_t, uint8_t>>> out;
  const uint32_t bounds[] = {0, 0x80, 0x800, 0x10000, kMaxCodePoint + 1};
  for (auto [lo, hi] : normalize_ranges(ranges)) {
    for (int k = 0; k < 4; ++k) {
      const uint32_t a = std::max(lo, bounds[k]), b = std::min(hi, bounds[k + 1] - 1);
      if (a <= b) split_same_length(a, b, out);
    }
  }
  return out;
}

void class_alternatives(const CodePointRanges& ranges, std::vector<GrammarBuilder::Sequence>& out) {
  ByteSet single;
  bool any_single = false;
  const size_t first = out.size();
  out.emplace_back();  // the single-byte alternative, filled below
  for (const auto& s : utf8_sequences(ranges)) {
    if (s.size() == 1) {
      single.set_range(s[0].first, s[0].second);
      any_single = true;
      continue;
    }
    GrammarBuilder::Sequence alt;
    for (auto [a, b] : s) {
      ByteSet set;
      set.set_range(a, b);
      alt.push_back(GrammarBuilder::Item::byte_set(set));
    }
    out.push_back(std::move(alt));
  }
  if (any_single || out.size() == first + 1) {
    out[first].push_back(GrammarBuilder::Item::byte_set(single));
  } else {
    out.erase(out.begin() + static_cast<ptrdiff_t>(first));
  }
}

}  // namespace tessera::grammar
