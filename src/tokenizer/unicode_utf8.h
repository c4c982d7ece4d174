// UTF-8 <-> codepoints with llama.cpp's leniency (invalid bytes become U+FFFD one byte at a time),
// and GPT-2's byte-level alphabet (every byte as a printable codepoint). Knows nothing about tokens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::unicode {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Bytes in the sequence a lead byte announces, by its high nibble (continuation bytes and
// 0x80..0xBF count as 1), as llama.cpp's unicode_len_utf8.
inline size_t utf8_sequence_length(uint8_t lead) {
  static constexpr uint8_t kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[lead >> 4];
}

// Decodes the codepoint at `offset` and advances past it. A malformed or truncated sequence
// yields kReplacementChar and advances by one byte (overlong forms and surrogates are accepted,
// as llama.cpp does, so that token boundaries match it).
uint32_t decode_utf8(std::string_view text, size_t& offset);
std::vector<uint32_t> utf8_to_codepoints(std::string_view text);
// Appends the UTF-8 form of cpt (values above U+10FFFF are written as U+FFFD).
void append_utf8(uint32_t cpt, std::string& out);

// GPT-2 byte-level alphabet: byte -> the UTF-8 of the codepoint standing for it.
const std::string& byte_to_bpe_char(uint8_t byte);
// Inverse: codepoint -> byte, or -1 when cpt is not in the alphabet.
int bpe_char_to_byte(uint32_t cpt);

// Length of the longest prefix of `bytes` that does not end inside an incomplete (but so far
// valid) multi-byte sequence. Invalid bytes count as complete: they are never held back.
size_t complete_utf8_prefix(std::string_view bytes);

}  // namespace tessera::unicode
