// Fuzzes both tokenizers (llama SPM and gpt2 byte-level BPE, real vocabularies from ../shared):
// any bytes must encode to in-vocabulary ids; the streaming detokenizer must emit exactly what
// decode() does; and decode(encode(text)) must give the text back wherever that is defined:
// valid UTF-8, special tokens not parsed, and for SPM no literal U+2581 (it decodes to a space)
// plus the leading space SPM adds.
// Input: byte 0 = flags (bit 0: add_special, bit 1: parse_special), the rest is the text.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace {

using tessera::TokenId;
using tessera::Tokenizer;

struct Vocab {
  std::unique_ptr<Tokenizer> tokenizer;
  bool is_spm = false;
};

Vocab load(const char* file_name, bool is_spm) {
  const std::string path = std::string(TESSERA_SHARED_DIR) + "/models/vocab/" + file_name;
  auto file = tessera::gguf::GgufFile::open(path);
  TS_CHECK(file.ok(), "%s", file.status().message().c_str());
  auto tokenizer = Tokenizer::from_gguf(**file);
  TS_CHECK(tokenizer.ok(), "%s", tokenizer.status().message().c_str());
  return {std::move(tokenizer).value(), is_spm};
}

bool is_valid_utf8(std::string_view text) {
  // Strict: no overlongs, no surrogates, nothing above U+10FFFF.
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<uint8_t>(text[i]);
    size_t length = 0;
    uint32_t cpt = 0;
    if (lead < 0x80) { length = 1; cpt = lead; }
    else if ((lead & 0xE0) == 0xC0) { length = 2; cpt = lead & 0x1Fu; }
    else if ((lead & 0xF0) == 0xE0) { length = 3; cpt = lead & 0x0Fu; }
    else if ((lead & 0xF8) == 0xF0) { length = 4; cpt = lead & 0x07u; }
    else return false;
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto c = static_cast<uint8_t>(text[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cpt = (cpt << 6) | (c & 0x3Fu);
    }
    static constexpr uint32_t kMinForLength[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cpt < kMinForLength[length] || cpt > 0x10FFFF || (cpt >= 0xD800 && cpt <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

void check_vocab(const Vocab& vocab, std::string_view text, bool add_special, bool parse_special) {
  const Tokenizer& tok = *vocab.tokenizer;
  const std::vector<TokenId> ids = tok.encode(text, add_special, parse_special);
  for (TokenId id : ids) TS_CHECK(id >= 0 && id < tok.vocab_size(), "token id %d outside the vocabulary", id);
  const std::string decoded = tok.decode(ids);

  tessera::StreamingDetokenizer stream(tok);
  std::string streamed;
  for (TokenId id : ids) streamed += stream.push(id);
  streamed += stream.flush();
  TS_CHECK(streamed == decoded, "streaming detokenizer disagrees with decode()");

  if (parse_special || !is_valid_utf8(text)) return;
  std::string expected(text);
  if (vocab.is_spm) {
    if (text.find("\xE2\x96\x81") != std::string_view::npos) return;  // U+2581 decodes to ' '
    if (!text.empty()) expected.insert(0, " ");                       // add_space_prefix
  }
  if (decoded != expected) {
    std::fprintf(stderr, "round trip failed (%s): %zu bytes in, %zu bytes out\n", vocab.is_spm ? "spm" : "bpe",
                 expected.size(), decoded.size());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Vocab spm = load("ggml-vocab-llama-spm.gguf", true);
  static const Vocab bpe = load("ggml-vocab-gpt-2.gguf", false);
  if (size == 0) return 0;
  const bool add_special = (data[0] & 1) != 0;
  const bool parse_special = (data[0] & 2) != 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  check_vocab(spm, text, add_special, parse_special);
  check_vocab(bpe, text, add_special, parse_special);
  return 0;
}
