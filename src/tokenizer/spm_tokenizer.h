// SpmTokenizer: tokenizer.ggml.model = "llama". SentencePiece-style BPE: spaces become U+2581,
// adjacent symbols merge best-score-first while the merged text is a token, and characters left
// without a token fall back to <0xXX> byte tokens (llama.cpp's llm_tokenizer_spm).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace tessera {

class SpmTokenizer final : public Tokenizer {
 public:
  static Expected<std::unique_ptr<Tokenizer>> create(const VocabSpec& spec);

 protected:
  void encode_fragment(std::string_view text, bool after_special, std::vector<TokenId>& out) const override;
  std::string normal_token_piece(TokenId id) const override;

 private:
  SpmTokenizer() = default;
  // Merges the symbols of already-escaped text and appends their ids.
  void encode_escaped(std::string_view text, std::vector<TokenId>& out) const;
  // A symbol with no token of its own: its bytes as byte tokens, else <unk>.
  void append_byte_fallback(std::string_view symbol, bool& last_was_unknown, std::vector<TokenId>& out) const;
  TokenId byte_to_token(uint8_t byte) const;
};

}  // namespace tessera
