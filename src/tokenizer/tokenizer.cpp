// Tokenizer's shared encode/decode paths: special-token partitioning, BOS/EOS, pieces, and the
// streaming detokenizer. Vocabulary loading lives in tokenizer_loading.cpp.
#include "tokenizer/tokenizer.h"

#include <algorithm>

#include "tokenizer/unicode_utf8.h"

namespace tessera {
namespace {

// C isspace() in the "C" locale, which llama.cpp uses for LSTRIP/RSTRIP.
bool is_ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

}  // namespace

TokenId Tokenizer::find_token(std::string_view text) const {
  const auto it = piece_to_id_.find(text);
  return it == piece_to_id_.end() ? -1 : it->second;
}

bool Tokenizer::is_eog(TokenId id) const { return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id); }

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 2 + 2);
  if (add_special && add_bos_) out.push_back(bos_id_);  // load_common guarantees bos_id_ >= 0
  bool after_special = true;  // the start of the text counts as "after a special token"
  for (const Fragment& fragment : partition_special(text, parse_special)) {
    if (fragment.token_id >= 0) {
      out.push_back(fragment.token_id);
      after_special = true;
    } else {
      encode_fragment(text.substr(fragment.offset, fragment.length), after_special, out);
      after_special = false;
    }
  }
  if (add_special && add_eos_) out.push_back(eos_id_);
  return out;
}

// For each special token, longest first, every raw-text fragment is split around its
// occurrences (left to right, non-overlapping). Control and unknown tokens take part only with
// parse_special; user-defined ones always do (llama.cpp follows HF tokenizers here).
std::vector<Tokenizer::Fragment> Tokenizer::partition_special(std::string_view text, bool parse_special) const {
  std::vector<Fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({-1, 0, text.size()});
  std::vector<Fragment> next;
  for (const TokenId special_id : special_ids_) {
    const uint32_t attr = token_attrs_[static_cast<size_t>(special_id)];
    if (!parse_special && (attr & (kAttrControl | kAttrUnknown))) continue;
    const std::string& needle = pieces_[static_cast<size_t>(special_id)];
    if (text.find(needle) == std::string_view::npos) continue;  // cheap skip for most tokens
    next.clear();
    for (const Fragment& fragment : fragments) {
      if (fragment.token_id >= 0) {
        next.push_back(fragment);
        continue;
      }
      size_t begin = fragment.offset;
      const size_t end = fragment.offset + fragment.length;
      while (begin < end) {
        const size_t match = text.substr(0, end).find(needle, begin);
        if (match == std::string_view::npos) break;
        size_t left_end = match;
        if (attr & kAttrLstrip) {
          while (left_end > begin && is_ascii_space(text[left_end - 1])) --left_end;
        }
        if (left_end > begin) next.push_back({-1, begin, left_end - begin});
        next.push_back({special_id, match, needle.size()});
        begin = match + needle.size();
        if (attr & kAttrRstrip) {
          while (begin < end && is_ascii_space(text[begin])) ++begin;
        }
      }
      if (begin < end) next.push_back({-1, begin, end - begin});
    }
    fragments.swap(next);
  }
  return fragments;
}

std::string Tokenizer::token_to_piece(TokenId id, bool special) const {
  if (id < 0 || id >= vocab_size()) return {};
  const size_t index = static_cast<size_t>(id);
  if (!special && (token_attrs_[index] & (kAttrUnknown | kAttrControl))) return {};
  return piece_cache_[index];
}

std::string Tokenizer::decode(const std::vector<TokenId>& ids) const {
  std::string text;
  for (const TokenId id : ids) text += token_to_piece(id);
  return text;
}

std::string StreamingDetokenizer::push(TokenId id) {
  pending_ += tokenizer_.token_to_piece(id, render_control_tokens_ && !tokenizer_.is_eog(id));
  const size_t complete = unicode::complete_utf8_prefix(pending_);
  std::string ready = pending_.substr(0, complete);
  pending_.erase(0, complete);
  return ready;
}

std::string StreamingDetokenizer::flush() {
  std::string rest;
  rest.swap(pending_);
  return rest;
}

}  // namespace tessera
