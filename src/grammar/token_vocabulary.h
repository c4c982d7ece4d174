// TokenVocabulary: a model's tokens as bytes, built once per vocabulary and shared by every
// grammar and request: token id -> bytes, a byte trie over the tokens, the end-of-generation ids.
//
// The trie is stored in preorder: node i's subtree is nodes [i, subtree_end). Tokens are ranked
// by their bytes (lexicographic, ties by id), so the tokens ending at a node, and those in its
// subtree, are contiguous rank ranges. Tokens with empty bytes (control tokens) and the EOG ids
// are not in the trie: they never match bytes; EOG ids are allowed by the grammar's end instead.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tessera::grammar {

class TokenVocabulary {
 public:
  struct TrieNode {
    uint8_t byte;
    int32_t depth;              // bytes from the root (the root itself is not stored)
    int32_t subtree_end;        // one past the last node of this node's subtree
    int32_t rank_begin;         // tokens ending exactly here: ranks [rank_begin, rank_end)
    int32_t rank_end;
    int32_t subtree_rank_end;   // tokens in the subtree: ranks [rank_begin, subtree_rank_end)
  };

  static std::shared_ptr<const TokenVocabulary> create(std::vector<std::string> token_bytes,
                                                       std::vector<int32_t> eog_token_ids);

  int32_t size() const { return static_cast<int32_t>(bytes_.size()); }
  const std::string& token_bytes(int32_t id) const { return bytes_[static_cast<size_t>(id)]; }
  const std::vector<int32_t>& eog_ids() const { return eog_ids_; }
  bool is_eog(int32_t id) const { return is_eog_[static_cast<size_t>(id)]; }
  const std::vector<TrieNode>& trie() const { return trie_; }
  int32_t num_ranked() const { return static_cast<int32_t>(by_rank_.size()); }
  int32_t token_of_rank(int32_t rank) const { return by_rank_[static_cast<size_t>(rank)]; }
  size_t max_token_bytes() const { return max_bytes_; }

 private:
  std::vector<std::string> bytes_;
  std::vector<int32_t> eog_ids_;
  std::vector<bool> is_eog_;
  std::vector<int32_t> by_rank_;
  std::vector<TrieNode> trie_;
  size_t max_bytes_ = 0;
};

}  // namespace tessera::grammar
