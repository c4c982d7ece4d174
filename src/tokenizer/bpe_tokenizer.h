// BpeTokenizer: tokenizer.ggml.model = "gpt2". Byte-level BPE: the pre-tokenizer splits text into
// words, each word's bytes become GPT-2's printable byte alphabet, and adjacent symbols merge in
// tokenizer.ggml.merges rank order (llama.cpp's llm_tokenizer_bpe).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/bpe_pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace tessera {

class BpeTokenizer final : public Tokenizer {
 public:
  static Expected<std::unique_ptr<Tokenizer>> create(const VocabSpec& spec);

 protected:
  void encode_fragment(std::string_view text, bool after_special, std::vector<TokenId>& out) const override;
  std::string normal_token_piece(TokenId id) const override;

 private:
  explicit BpeTokenizer(BpePreTokenizer pre_tokenizer) : pre_tokenizer_(std::move(pre_tokenizer)) {}
  // Merges one byte-level-encoded word and appends its ids.
  void encode_word(std::string_view word, std::vector<TokenId>& out) const;
  // Rank of merging left+right (lower merges first); -1 when there is no such merge.
  int32_t merge_rank(std::string_view left, std::string_view right) const;

  BpePreTokenizer pre_tokenizer_;
  // "left\0right" -> rank (index in tokenizer.ggml.merges; the first occurrence wins).
  // NOTE: byte-level symbols never contain a NUL byte (0x00 is encoded as U+0100), so the
  // separator is unambiguous.
  std::unordered_map<std::string, int32_t, TransparentHash, std::equal_to<>> merge_ranks_;
};

}  // namespace tessera
