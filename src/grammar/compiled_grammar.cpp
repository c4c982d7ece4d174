// The per-position trie walk behind CompiledGrammar's mask cache. The walk runs over states of
// stacks whose bottom caller is unknown; states are interned and their byte transitions cached,
// so the same state (e.g. "inside a string") reached under many trie nodes costs one lookup.
#include "grammar/compiled_grammar.h"

#include <array>
#include <map>

namespace tessera::grammar {

struct CompiledGrammar::Precomputer {
  StackArena arena;
  StackExpander expander;
  std::vector<StackSet> states;
  std::vector<uint8_t> kinds;  // per state: bit 0 an exact top, bit 1 an approximate top
  std::map<std::pair<std::vector<int32_t>, int>, int32_t> ids;
  std::vector<std::unique_ptr<std::array<int32_t, 256>>> transitions;
  StackSet scratch;

  Precomputer(const Grammar& g, StackLimits limits) : expander(g, arena, limits) {}

  int32_t intern(const StackSet& s) {
    auto [it, added] = ids.emplace(std::make_pair(s.tops, s.flags()), static_cast<int32_t>(states.size()));
    if (added) {
      states.push_back(s);
      uint8_t kind = 0;
      for (int32_t top : s.tops) kind |= arena.node(top).approximate ? 2 : 1;
      kinds.push_back(kind);
      transitions.emplace_back();
    }
    return it->second;
  }
  int32_t step(int32_t state, uint8_t byte) {
    auto& row = transitions[static_cast<size_t>(state)];
    if (!row) {
      row = std::make_unique<std::array<int32_t, 256>>();
      row->fill(-1);
    }
    int32_t& next = (*row)[byte];
    if (next < 0) {
      expander.advance(states[static_cast<size_t>(state)], byte, scratch);
      next = intern(scratch);  // `row` stays valid: the arrays are heap-allocated
    }
    return next;
  }
};

CompiledGrammar::CompiledGrammar(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenVocabulary> vocab,
                                 StackLimits limits)
    : grammar_(std::move(grammar)), vocab_(std::move(vocab)), limits_(limits) {}

CompiledGrammar::~CompiledGrammar() = default;

Expected<std::shared_ptr<const CompiledGrammar>> CompiledGrammar::create(std::shared_ptr<const Grammar> grammar,
                                                                         std::shared_ptr<const TokenVocabulary> vocab,
                                                                         StackLimits limits) {
  if (!grammar || !vocab) return invalid_argument("CompiledGrammar::create: null grammar or vocabulary");
  if (vocab->size() == 0) return invalid_argument("CompiledGrammar::create: empty vocabulary");
  return std::shared_ptr<const CompiledGrammar>(std::make_shared<CompiledGrammar>(std::move(grammar), std::move(vocab), limits));
}

const CompiledGrammar::MaskEntry& CompiledGrammar::entry(int32_t pos, int32_t parent_pos) const {
  const uint64_t key = (uint64_t(uint32_t(pos)) << 32) | uint32_t(parent_pos);
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    auto it = entries_.find(key);
    if (it != entries_.end()) return *it->second;
  }
  std::unique_lock<std::shared_mutex> lock(mutex_);
  auto& slot = entries_[key];
  if (!slot) {
    slot = std::make_unique<MaskEntry>(compute(pos, parent_pos));
    computed_.fetch_add(1, std::memory_order_relaxed);
  }
  return *slot;
}

size_t CompiledGrammar::precompute_all() const {
  size_t count = 0;
  const auto& symbols = grammar_->symbols();
  for (size_t pos = 0; pos < symbols.size(); ++pos) {
    if (symbols[pos].kind != SymbolKind::kBytes) continue;
    size_t end = pos;
    while (symbols[end].kind != SymbolKind::kEnd) ++end;
    const int32_t rule = symbols[end].arg;
    if (grammar_->continuations_overflow(rule)) continue;  // too many callers: filled on use
    for (int32_t c : grammar_->caller_continuations(rule)) {
      (void)entry(static_cast<int32_t>(pos), c == kContinueAccept ? kBottom : c);
      ++count;
    }
  }
  return count;
}

CompiledGrammar::MaskEntry CompiledGrammar::compute(int32_t pos, int32_t parent_pos) const {
  // The walk states and transitions only save time: start afresh once they grow large.
  constexpr size_t kMaxWalkStates = 1 << 16;
  if (!precomputer_ || precomputer_->states.size() > kMaxWalkStates) precomputer_ = std::make_unique<Precomputer>(*grammar_, limits_);
  Precomputer& pc = *precomputer_;
  const auto& trie = vocab_->trie();
  StackSet start;
  pc.expander.start_at(pos, parent_pos, start);
  std::vector<int32_t> state(vocab_->max_token_bytes() + 1);
  std::vector<uint8_t> unknown(vocab_->max_token_bytes() + 1);  // an overflow on the path so far
  state[0] = pc.intern(start);
  unknown[0] = 0;
  std::vector<int32_t> accepted;
  MaskEntry out;
  for (size_t i = 0; i < trie.size();) {
    const auto& node = trie[i];
    const auto d = static_cast<size_t>(node.depth);
    const int32_t s = pc.step(state[d - 1], node.byte);
    state[d] = s;
    const StackSet& set = pc.states[static_cast<size_t>(s)];
    unknown[d] = unknown[d - 1] | (set.overflow ? 1 : 0);
    const bool exact_top = pc.kinds[static_cast<size_t>(s)] & 1, approx_top = pc.kinds[static_cast<size_t>(s)] & 2;
    if (exact_top || set.can_end || set.escaped) {
      // Matched with the caller known, or the token ends just as its rule returns (any caller
      // continues from there: rules that cannot complete are pruned).
      for (int32_t r = node.rank_begin; r < node.rank_end; ++r) accepted.push_back(vocab_->token_of_rank(r));
    } else if (approx_top || set.approx_end || unknown[d]) {
      for (int32_t r = node.rank_begin; r < node.rank_end; ++r) out.uncertain_ranks.push_back(r);
    }
    if (set.tops.empty()) {  // nothing deeper can match; after an overflow anything might
      if (unknown[d]) {
        for (int32_t r = node.rank_end; r < node.subtree_rank_end; ++r) out.uncertain_ranks.push_back(r);
      }
      i = static_cast<size_t>(node.subtree_end);
    } else {
      ++i;
    }
  }
  if (accepted.size() * 32 > static_cast<size_t>(vocab_->size())) {
    out.accepted_bits.assign(bitmask_words(), 0);
    for (int32_t id : accepted) out.accepted_bits[static_cast<size_t>(id) >> 5] |= uint32_t(1) << (id & 31);
  } else {
    out.accepted_ids = std::move(accepted);
  }
  return out;
}

}  // namespace tessera::grammar
