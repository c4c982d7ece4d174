// GrammarMatcher: masks from the CompiledGrammar cache plus run-time checks of uncertain tokens.
#include "grammar/grammar_matcher.h"

#include <algorithm>

#include "base/check.h"

namespace tessera::grammar {

GrammarMatcher::GrammarMatcher(std::shared_ptr<const CompiledGrammar> compiled, int32_t max_rollback_tokens)
    : compiled_(std::move(compiled)),
      max_rollback_(std::max(0, max_rollback_tokens)),
      expander_(compiled_->grammar(), arena_, compiled_->limits()) {
  reset();
}

GrammarMatcher::GrammarMatcher(const GrammarMatcher& other)
    : compiled_(other.compiled_),
      max_rollback_(other.max_rollback_),
      arena_(other.arena_),
      expander_(compiled_->grammar(), arena_, compiled_->limits()),
      state_(other.state_),
      terminated_(other.terminated_),
      history_(other.history_) {}

void GrammarMatcher::reset() {
  arena_.clear();
  history_.clear();
  terminated_ = false;
  expander_.initial(state_);
}

void GrammarMatcher::push_history() {
  if (max_rollback_ == 0) return;
  if (static_cast<int32_t>(history_.size()) == max_rollback_) history_.pop_front();
  history_.emplace_back(state_, terminated_);
}

bool GrammarMatcher::advance_bytes(std::string_view bytes, StackSet& out) {
  StackSet a = state_, b;
  for (char c : bytes) {
    expander_.advance(a, static_cast<uint8_t>(c), b);
    if (!b.live()) return false;
    std::swap(a, b);
  }
  out = std::move(a);
  return true;
}

bool GrammarMatcher::accept_bytes(std::string_view bytes) {
  if (terminated_) return false;
  StackSet next;
  if (!advance_bytes(bytes, next)) return false;
  push_history();
  state_ = std::move(next);
  return true;
}

bool GrammarMatcher::accept_token(int32_t token_id) {
  const TokenVocabulary& vocab = compiled_->vocab();
  if (terminated_ || token_id < 0 || token_id >= vocab.size()) return false;
  if (vocab.is_eog(token_id)) {
    if (!state_.can_end) return false;
    push_history();
    terminated_ = true;
    return true;
  }
  const std::string& bytes = vocab.token_bytes(token_id);
  if (bytes.empty()) return false;  // control tokens never match the grammar
  return accept_bytes(bytes);
}

void GrammarMatcher::rollback(int32_t num_tokens) {
  if (num_tokens <= 0 || history_.empty()) return;
  const auto n = std::min<size_t>(static_cast<size_t>(num_tokens), history_.size());
  for (size_t i = 1; i < n; ++i) history_.pop_back();
  state_ = std::move(history_.back().first);
  terminated_ = history_.back().second;
  history_.pop_back();
}

void GrammarMatcher::fill_next_token_bitmask(std::span<uint32_t> bitmask) {
  const size_t words = bitmask_words();
  TS_CHECK(bitmask.size() >= words, "bitmask of %zu words for a vocabulary needing %zu", bitmask.size(), words);
  std::fill(bitmask.begin(), bitmask.begin() + static_cast<ptrdiff_t>(words), 0u);
  if (terminated_) return;
  const TokenVocabulary& vocab = compiled_->vocab();
  const auto set = [&](int32_t id) { bitmask[static_cast<size_t>(id) >> 5] |= uint32_t(1) << (id & 31); };
  const auto test = [&](int32_t id) { return (bitmask[static_cast<size_t>(id) >> 5] >> (id & 31)) & 1; };

  // The cache key of each stack: its top position and where its caller continues.
  keys_.clear();
  for (int32_t top : state_.tops) {
    const StackNode& n = arena_.node(top);
    keys_.emplace_back(n.pos, n.parent >= 0 ? arena_.node(n.parent).pos : kBottom);
  }
  std::sort(keys_.begin(), keys_.end());
  keys_.erase(std::unique(keys_.begin(), keys_.end()), keys_.end());

  ranks_.clear();
  for (auto [pos, parent_pos] : keys_) {
    const CompiledGrammar::MaskEntry& e = compiled_->entry(pos, parent_pos);
    if (!e.accepted_bits.empty()) {
      for (size_t w = 0; w < words; ++w) bitmask[w] |= e.accepted_bits[w];
    } else {
      for (int32_t id : e.accepted_ids) set(id);
    }
    ranks_.insert(ranks_.end(), e.uncertain_ranks.begin(), e.uncertain_ranks.end());
  }
  if (keys_.size() > 1) {
    std::sort(ranks_.begin(), ranks_.end());
    ranks_.erase(std::unique(ranks_.begin(), ranks_.end()), ranks_.end());
  }

  // Uncertain tokens, in trie order: walk_[k] is the state after the first k bytes of the
  // previous token; `valid` is how many of those are computed and live. When a token dies at
  // byte k, every later token with the same k + 1 byte prefix dies too: they are contiguous in
  // trie order, so a binary search skips them all.
  if (!ranks_.empty()) {
    const size_t mark = arena_.size();
    if (walk_.size() < vocab.max_token_bytes() + 1) walk_.resize(vocab.max_token_bytes() + 1);
    walk_[0] = state_;
    size_t valid = 0;
    const std::string* prev = nullptr;
    for (size_t i = 0; i < ranks_.size(); ++i) {
      const int32_t id = vocab.token_of_rank(ranks_[i]);
      if (test(id)) continue;
      const std::string& s = vocab.token_bytes(id);
      size_t k = 0;
      if (prev) {
        const size_t limit = std::min({s.size(), prev->size(), valid});
        while (k < limit && s[k] == (*prev)[k]) ++k;
      }
      prev = &s;
      // walk_[k] is live (k <= valid); continue from there.
      bool alive = true;
      for (; k < s.size(); ++k) {
        expander_.advance(walk_[k], static_cast<uint8_t>(s[k]), walk_[k + 1]);
        if (!walk_[k + 1].live()) {
          alive = false;
          break;
        }
      }
      valid = k;  // walk_[0..k] live
      if (alive) {
        set(id);
        continue;
      }
      const std::string_view dead(s.data(), k + 1);
      const auto next = std::partition_point(ranks_.begin() + static_cast<ptrdiff_t>(i) + 1, ranks_.end(), [&](int32_t r) {
        return std::string_view(vocab.token_bytes(vocab.token_of_rank(r))).substr(0, dead.size()) == dead;
      });
      i = static_cast<size_t>(next - ranks_.begin()) - 1;
    }
    arena_.truncate(mark);
  }
  if (state_.can_end) {
    for (int32_t id : vocab.eog_ids()) set(id);
  }
}

}  // namespace tessera::grammar
