#include "tokenizer/unicode_utf8.h"

#include <array>

namespace tessera::unicode {
namespace {

bool is_continuation(uint8_t byte) { return (byte & 0xC0) == 0x80; }

// Sequence length announced by a lead byte; 0 for bytes that cannot start a sequence.
size_t announced_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 0;
}

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the other 68 bytes
// take codepoints 256, 257, ... in byte order.
struct ByteLevelAlphabet {
  std::array<std::string, 256> byte_to_char;  // UTF-8 of the standing-in codepoint
  std::array<int16_t, 324> char_to_byte;      // codepoint (< 324) -> byte, -1 if none

  ByteLevelAlphabet() {
    char_to_byte.fill(-1);
    uint32_t next_extra = 256;
    for (uint32_t byte = 0; byte < 256; ++byte) {
      const bool printable = (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
      const uint32_t cpt = printable ? byte : next_extra++;
      append_utf8(cpt, byte_to_char[byte]);
      char_to_byte[cpt] = static_cast<int16_t>(byte);
    }
  }
};

const ByteLevelAlphabet& byte_level_alphabet() {
  static const ByteLevelAlphabet alphabet;
  return alphabet;
}

}  // namespace

uint32_t decode_utf8(std::string_view text, size_t& offset) {
  const auto byte_at = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte_at(offset);
  const size_t length = announced_length(lead);
  if (length == 1) {
    offset += 1;
    return lead;
  }
  bool valid = length != 0 && offset + length <= text.size();
  for (size_t i = 1; valid && i < length; ++i) valid = is_continuation(byte_at(offset + i));
  if (!valid) {
    offset += 1;
    return kReplacementChar;
  }
  static constexpr uint8_t kLeadMasks[5] = {0, 0, 0x1F, 0x0F, 0x07};
  uint32_t cpt = lead & kLeadMasks[length];
  for (size_t i = 1; i < length; ++i) cpt = (cpt << 6) | (byte_at(offset + i) & 0x3F);
  // NOTE: llama.cpp would throw later on values above U+10FFFF; we degrade them to U+FFFD.
  if (cpt > 0x10FFFF) {
    offset += 1;
    return kReplacementChar;
  }
  offset += length;
  return cpt;
}

std::vector<uint32_t> utf8_to_codepoints(std::string_view text) {
  std::vector<uint32_t> cpts;
  cpts.reserve(text.size());
  size_t offset = 0;
  while (offset < text.size()) cpts.push_back(decode_utf8(text, offset));
  return cpts;
}

void append_utf8(uint32_t cpt, std::string& out) {
  if (cpt > 0x10FFFF) cpt = kReplacementChar;
  if (cpt < 0x80) {
    out.push_back(static_cast<char>(cpt));
  } else if (cpt < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cpt >> 6)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else if (cpt < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cpt >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cpt >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  }
}

const std::string& byte_to_bpe_char(uint8_t byte) { return byte_level_alphabet().byte_to_char[byte]; }

int bpe_char_to_byte(uint32_t cpt) {
  const auto& table = byte_level_alphabet().char_to_byte;
  return cpt < table.size() ? table[cpt] : -1;
}

size_t complete_utf8_prefix(std::string_view bytes) {
  const size_t size = bytes.size();
  // A sequence is at most 4 bytes, so only the last 3 bytes can belong to an unfinished one.
  for (size_t back = 1; back <= 4 && back <= size; ++back) {
    const uint8_t byte = static_cast<uint8_t>(bytes[size - back]);
    if (is_continuation(byte)) continue;
    const size_t length = announced_length(byte);
    return length > back ? size - back : size;
  }
  return size;  // only continuation bytes at the end: stray, emit them
}

}  // namespace tessera::unicode
