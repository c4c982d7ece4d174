// Tokenizer: text <-> token ids from the vocabulary stored in a GGUF file's `tokenizer.*` keys.
// Implements tokenizer.ggml.model = "llama" (SentencePiece-style BPE over scores with <0xXX>
// byte fallback) and "gpt2" (byte-level BPE with merges), matching llama.cpp token for token.
// Knows nothing about models or sampling.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_file.h"

namespace tessera {

using TokenId = int32_t;

class Tokenizer {
 public:
  // Reads the vocabulary; unsupported/missing tokenizer model or malformed arrays -> Status.
  static Expected<std::unique_ptr<Tokenizer>> from_gguf(const gguf::GgufFile& file);
  virtual ~Tokenizer() = default;

  // add_special: prepend BOS (and append EOS) when the vocabulary asks for it
  // (tokenizer.ggml.add_bos_token / add_eos_token, with llama.cpp's per-model defaults).
  // parse_special: recognise control/user-defined tokens written literally in the text.
  virtual std::vector<TokenId> encode(std::string_view text, bool add_special, bool parse_special) const = 0;

  // The bytes a token stands for when generated (byte tokens become their byte, SentencePiece's
  // U+2581 becomes a space, gpt2's byte-level chars map back to bytes). Control tokens -> "".
  virtual std::string token_to_piece(TokenId id) const = 0;
  // Concatenated pieces (no leading-space stripping).
  std::string decode(const std::vector<TokenId>& ids) const;

  int32_t vocab_size() const { return static_cast<int32_t>(pieces_.size()); }
  const std::string& token_text(TokenId id) const { return pieces_.at(static_cast<size_t>(id)); }  // raw vocab string
  TokenId bos_id() const { return bos_id_; }   // -1 when none
  TokenId eos_id() const { return eos_id_; }   // -1 when none
  bool add_bos() const { return add_bos_; }
  // End of generation: EOS, EOT, or any id in tokenizer.ggml.eos_token_ids / known end tokens.
  bool is_eog(TokenId id) const;

 protected:
  std::vector<std::string> pieces_;   // [vocab_size] raw token strings from tokenizer.ggml.tokens
  std::vector<int32_t> token_types_;  // [vocab_size] tokenizer.ggml.token_type (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte)
  std::vector<TokenId> eog_ids_;      // all end-of-generation ids
  TokenId bos_id_ = -1;
  TokenId eos_id_ = -1;
  bool add_bos_ = false;
  bool add_eos_ = false;
};

// Turns a stream of token ids into text without ever emitting half a UTF-8 character:
// bytes of an incomplete sequence are held back until it completes (or flush()).
class StreamingDetokenizer {
 public:
  explicit StreamingDetokenizer(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  // Text that became complete with this token (may be empty).
  std::string push(TokenId id);
  // Whatever is held back (invalid/incomplete bytes are emitted as they are).
  std::string flush();

 private:
  const Tokenizer& tokenizer_;
  std::string pending_;  // bytes of an incomplete UTF-8 sequence
};

}  // namespace tessera
