// TokenVocabulary::create: ranks the tokens by bytes and builds the preorder trie from them.
#include "grammar/token_vocabulary.h"

#include <algorithm>
#include <numeric>

namespace tessera::grammar {

std::shared_ptr<const TokenVocabulary> TokenVocabulary::create(std::vector<std::string> token_bytes,
                                                               std::vector<int32_t> eog_token_ids) {
  auto vocab = std::make_shared<TokenVocabulary>();
  TokenVocabulary& v = *vocab;
  v.bytes_ = std::move(token_bytes);
  v.is_eog_.assign(v.bytes_.size(), false);
  for (int32_t id : eog_token_ids) {
    if (id < 0 || static_cast<size_t>(id) >= v.bytes_.size() || v.is_eog_[static_cast<size_t>(id)]) continue;
    v.is_eog_[static_cast<size_t>(id)] = true;
    v.eog_ids_.push_back(id);
  }
  for (size_t id = 0; id < v.bytes_.size(); ++id) {
    if (!v.bytes_[id].empty() && !v.is_eog_[id]) v.by_rank_.push_back(static_cast<int32_t>(id));
    v.max_bytes_ = std::max(v.max_bytes_, v.bytes_[id].size());
  }
  std::stable_sort(v.by_rank_.begin(), v.by_rank_.end(),
                   [&](int32_t a, int32_t b) { return v.bytes_[static_cast<size_t>(a)] < v.bytes_[static_cast<size_t>(b)]; });
  // Preorder trie: walk the ranked tokens keeping the path of open nodes.
  std::vector<int32_t> path;  // node indices, path[d] at depth d + 1
  const auto close_to = [&](size_t depth) {
    while (path.size() > depth) {
      TrieNode& n = v.trie_[static_cast<size_t>(path.back())];
      n.subtree_end = static_cast<int32_t>(v.trie_.size());
      path.pop_back();
    }
  };
  const std::string* prev = nullptr;
  for (int32_t rank = 0; rank < v.num_ranked(); ++rank) {
    const std::string& s = v.bytes_[static_cast<size_t>(v.by_rank_[static_cast<size_t>(rank)])];
    size_t common = 0;
    if (prev) {
      while (common < s.size() && common < prev->size() && s[common] == (*prev)[common]) ++common;
    }
    close_to(std::min(common, path.size()));
    for (size_t d = path.size(); d < s.size(); ++d) {
      path.push_back(static_cast<int32_t>(v.trie_.size()));
      v.trie_.push_back({static_cast<uint8_t>(s[d]), static_cast<int32_t>(d + 1), 0, rank, rank, 0});
    }
    v.trie_[static_cast<size_t>(path.back())].rank_end = rank + 1;
    for (int32_t node : path) v.trie_[static_cast<size_t>(node)].subtree_rank_end = rank + 1;
    prev = &s;
  }
  close_to(0);
  return vocab;
}

}  // namespace tessera::grammar
