#include "tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <queue>

#include "tokenizer/unicode_utf8.h"

namespace tessera {
namespace {

// One node of the doubly linked list of symbols; a merged-away symbol keeps length 0.
struct Symbol {
  int prev;       // index of the previous live symbol, -1 at the start
  int next;       // index of the next live symbol, -1 at the end
  size_t offset;  // bytes into the encoded word
  size_t length;  // bytes; live symbols tile the word contiguously
};

// A candidate merge of two adjacent symbols listed in the merges table.
struct Bigram {
  int left;       // symbol index
  int right;      // symbol index
  int32_t rank;   // merge rank, lower first
  size_t length;  // bytes of the merged text when proposed (detects stale entries)
};

// Lowest rank first; on ties the leftmost pair (llama.cpp's llm_bigram_bpe::comparator).
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

std::string merge_key(std::string_view left, std::string_view right) {
  std::string key;
  key.reserve(left.size() + right.size() + 1);
  key.append(left);
  key.push_back('\0');
  key.append(right);
  return key;
}

}  // namespace

Expected<std::unique_ptr<Tokenizer>> BpeTokenizer::create(const VocabSpec& spec) {
  TS_ASSIGN_OR_RETURN(BpePreTokenizer pre_tokenizer, BpePreTokenizer::for_name(spec.pre));
  if (spec.merges.empty()) return corrupt_data("tokenizer.ggml.merges is missing or empty (required for gpt2)");
  const bool default_add_bos = pre_tokenizer.adds_bos_by_default();
  std::unique_ptr<BpeTokenizer> tokenizer(new BpeTokenizer(std::move(pre_tokenizer)));
  TS_RETURN_IF_ERROR(tokenizer->load_common(spec, /*is_spm=*/false, default_add_bos));
  tokenizer->merge_ranks_.reserve(spec.merges.size());
  for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
    const std::string& merge = spec.merges[rank];
    // llama.cpp splits at the first space after the first byte (so a left part may be " ").
    const size_t space = merge.find(' ', 1);
    if (space == std::string::npos) continue;  // malformed: could never match a lookup
    tokenizer->merge_ranks_.emplace(merge_key(std::string_view(merge).substr(0, space),
                                              std::string_view(merge).substr(space + 1)),
                                    static_cast<int32_t>(rank));
  }
  tokenizer->build_piece_cache();
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

int32_t BpeTokenizer::merge_rank(std::string_view left, std::string_view right) const {
  const auto it = merge_ranks_.find(merge_key(left, right));
  return it == merge_ranks_.end() ? -1 : it->second;
}

void BpeTokenizer::encode_fragment(std::string_view text, bool /*after_special*/, std::vector<TokenId>& out) const {
  for (const std::string& word : pre_tokenizer_.split(text)) {
    std::string encoded;
    encoded.reserve(word.size() * 2);
    for (const char c : word) encoded += unicode::byte_to_bpe_char(static_cast<uint8_t>(c));
    if (pre_tokenizer_.ignore_merges()) {
      // NOTE: any token counts, as in llama.cpp (the split never yields a special token's text
      // in practice, and BPE merges could produce it anyway).
      const TokenId whole = find_token(encoded);
      if (whole >= 0) {
        out.push_back(whole);
        continue;
      }
    }
    encode_word(encoded, out);
  }
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  std::vector<Symbol> symbols;
  for (size_t offset = 0; offset < word.size();) {
    const size_t length = std::min(unicode::utf8_sequence_length(static_cast<uint8_t>(word[offset])), word.size() - offset);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, index + 1, offset, length});
    offset += length;
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  // NOTE: stale queue entries are detected by length: a symbol only grows or dies.
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  const auto text_of = [&](int index) { return word.substr(symbols[index].offset, symbols[index].length); };
  const auto propose = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const int32_t rank = merge_rank(text_of(left), text_of(right));
    if (rank >= 0) queue.push({left, right, rank, symbols[left].length + symbols[right].length});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) propose(i - 1, i);

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    if (left.length == 0 || right.length == 0 || left.length + right.length != bigram.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    propose(left.prev, bigram.left);
    propose(bigram.left, left.next);
  }

  for (int i = 0; i != -1; i = symbols[i].next) {
    const std::string_view symbol = text_of(i);
    const TokenId id = find_token(symbol);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // NOTE: llama.cpp's fallback looks up each raw byte of the encoded symbol as a token and
    // silently drops the bytes that are not one; reproduced for token-for-token parity.
    for (const char c : symbol) {
      const TokenId byte_id = find_token(std::string_view(&c, 1));
      if (byte_id >= 0) out.push_back(byte_id);
    }
  }
}

std::string BpeTokenizer::normal_token_piece(TokenId id) const {
  const std::string& text = pieces_[static_cast<size_t>(id)];
  std::string piece;
  piece.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    const uint32_t cpt = unicode::decode_utf8(text, offset);
    const int byte = unicode::bpe_char_to_byte(cpt);
    if (byte >= 0) {
      piece.push_back(static_cast<char>(byte));
      continue;
    }
    // Not in the byte alphabet: llama.cpp's marker, hex of the character then the whole token.
    std::string utf8;
    unicode::append_utf8(cpt, utf8);
    piece += "[UNK_BYTE_0x";
    for (const char c : utf8) {
      char hex[3];
      std::snprintf(hex, sizeof(hex), "%02x", static_cast<unsigned>(static_cast<uint8_t>(c)));
      piece += hex;
    }
    piece += text;
    piece += "]";
  }
  return piece;
}

}  // namespace tessera
