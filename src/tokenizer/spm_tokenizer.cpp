#include "tokenizer/spm_tokenizer.h"

#include <algorithm>
#include <queue>

#include "tokenizer/unicode_utf8.h"

namespace tessera {
namespace {

constexpr std::string_view kEscapedSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// One node of the doubly linked list of symbols; a merged-away symbol keeps length 0.
struct Symbol {
  int prev;       // index of the previous live symbol, -1 at the start
  int next;       // index of the next live symbol, -1 at the end
  size_t offset;  // bytes into the escaped text
  size_t length;  // bytes; live symbols tile the text contiguously
};

// A candidate merge of two adjacent symbols whose concatenation is a token.
struct Bigram {
  int left;       // symbol index
  int right;      // symbol index
  float score;    // the merged token's score
  size_t length;  // bytes of the merged text when proposed (detects stale entries)
};

// Highest score first; on ties the leftmost pair (llama.cpp's llm_bigram_spm::comparator).
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

Expected<std::unique_ptr<Tokenizer>> SpmTokenizer::create(const VocabSpec& spec) {
  std::unique_ptr<SpmTokenizer> tokenizer(new SpmTokenizer());
  TS_RETURN_IF_ERROR(tokenizer->load_common(spec, /*is_spm=*/true, /*default_add_bos=*/true));
  tokenizer->build_piece_cache();
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

void SpmTokenizer::encode_fragment(std::string_view text, bool after_special, std::vector<TokenId>& out) const {
  std::string escaped;
  escaped.reserve(text.size() + kEscapedSpace.size() * 4);
  if (add_space_prefix_ && after_special) escaped += kEscapedSpace;
  for (const char c : text) {
    if (c == ' ') {
      escaped += kEscapedSpace;
    } else {
      escaped.push_back(c);
    }
  }
  encode_escaped(escaped, out);
}

void SpmTokenizer::encode_escaped(std::string_view text, std::vector<TokenId>& out) const {
  // One symbol per UTF-8 character, split by lead byte only (as llama.cpp: no validation).
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    const size_t length = std::min(unicode::utf8_sequence_length(static_cast<uint8_t>(text[offset])), text.size() - offset);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, index + 1, offset, length});
    offset += length;
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  // NOTE: a priority queue of candidate merges keeps this O(n log n); stale entries are skipped
  // by length (a symbol only ever grows or dies, so an unchanged total means unchanged symbols).
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  const auto propose = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string_view merged = text.substr(symbols[left].offset, symbols[left].length + symbols[right].length);
    const TokenId id = find_token(merged);
    if (id >= 0) queue.push({left, right, scores_[static_cast<size_t>(id)], merged.size()});
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

  // Every merged symbol is a token by construction; only single characters can lack one.
  bool last_was_unknown = false;
  for (int i = 0; i != -1; i = symbols[i].next) {
    const std::string_view symbol = text.substr(symbols[i].offset, symbols[i].length);
    const TokenId id = find_token(symbol);
    if (id >= 0) {
      out.push_back(id);
      last_was_unknown = false;
    } else {
      append_byte_fallback(symbol, last_was_unknown, out);
    }
  }
}

void SpmTokenizer::append_byte_fallback(std::string_view symbol, bool& last_was_unknown,
                                        std::vector<TokenId>& out) const {
  std::vector<TokenId> byte_ids;
  for (const char c : symbol) {
    const TokenId id = byte_to_token(static_cast<uint8_t>(c));
    if (id < 0) break;
    byte_ids.push_back(id);
  }
  if (byte_ids.size() == symbol.size()) {
    out.insert(out.end(), byte_ids.begin(), byte_ids.end());
    last_was_unknown = false;
    return;
  }
  // NOTE: llama.cpp throws here (vocabularies without byte tokens, e.g. TinyStories-656K). We emit
  // <unk> instead, one per run of unknown characters, as SentencePiece and HF's fuse_unk do.
  if (unknown_id_ >= 0 && !last_was_unknown) out.push_back(unknown_id_);
  last_was_unknown = true;
}

TokenId SpmTokenizer::byte_to_token(uint8_t byte) const {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const char name[6] = {'<', '0', 'x', kHex[byte >> 4], kHex[byte & 15], '>'};
  const TokenId id = find_token(std::string_view(name, sizeof(name)));
  if (id >= 0) return id;
  return find_token(std::string_view(reinterpret_cast<const char*>(&byte), 1));  // the byte as text
}

std::string SpmTokenizer::normal_token_piece(TokenId id) const {
  const std::string& text = pieces_[static_cast<size_t>(id)];
  std::string piece;
  piece.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, kEscapedSpace.size(), kEscapedSpace) == 0) {
      piece.push_back(' ');
      i += kEscapedSpace.size();
    } else {
      piece.push_back(text[i++]);
    }
  }
  return piece;
}

}  // namespace tessera
