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
  std::map<std::pair<std::vector<int32_t>, int>, int32_t> ids;
  std::vector<std::unique_ptr<std::array<int32_t, 256>>> transitions;
  StackSet scratch;

  Precomputer(const Grammar& g, StackLimits limits) : expander(g, arena, limits) {}

  int32_t intern(const StackSet& s) {
    const int flags = (s.can_end ? 1 : 0) | (s.escaped ? 2 : 0);
    auto [it, added] = ids.emplace(std::make_pair(s.tops, flags), static_cast<int32_t>(states.size()));
    if (added) {
      states.push_back(s);
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
    : grammar_(std::move(grammar)), vocab_(std::move(vocab)), limits_(limits) {
  const size_t n = grammar_->symbols().size();
  entries_ = std::make_unique<std::atomic<const MaskEntry*>[]>(n);
  for (size_t i = 0; i < n; ++i) entries_[i].store(nullptr, std::memory_order_relaxed);
}

CompiledGrammar::~CompiledGrammar() = default;

Expected<std::shared_ptr<const CompiledGrammar>> CompiledGrammar::create(std::shared_ptr<const Grammar> grammar,
                                                                         std::shared_ptr<const TokenVocabulary> vocab,
                                                                         StackLimits limits) {
  if (!grammar || !vocab) return invalid_argument("CompiledGrammar::create: null grammar or vocabulary");
  if (vocab->size() == 0) return invalid_argument("CompiledGrammar::create: empty vocabulary");
  return std::shared_ptr<const CompiledGrammar>(std::make_shared<CompiledGrammar>(std::move(grammar), std::move(vocab), limits));
}

const CompiledGrammar::MaskEntry& CompiledGrammar::entry(int32_t pos) const {
  const MaskEntry* e = entries_[static_cast<size_t>(pos)].load(std::memory_order_acquire);
  if (e) return *e;
  std::lock_guard<std::mutex> lock(mutex_);
  e = entries_[static_cast<size_t>(pos)].load(std::memory_order_acquire);
  if (e) return *e;
  owned_.push_back(std::make_unique<MaskEntry>(compute(pos)));
  e = owned_.back().get();
  entries_[static_cast<size_t>(pos)].store(e, std::memory_order_release);
  computed_.fetch_add(1, std::memory_order_relaxed);
  return *e;
}

size_t CompiledGrammar::precompute_all() const {
  size_t count = 0;
  const auto& symbols = grammar_->symbols();
  for (size_t pos = 0; pos < symbols.size(); ++pos) {
    if (symbols[pos].kind != SymbolKind::kBytes) continue;
    (void)entry(static_cast<int32_t>(pos));
    ++count;
  }
  return count;
}

CompiledGrammar::MaskEntry CompiledGrammar::compute(int32_t pos) const {
  if (!precomputer_) precomputer_ = std::make_unique<Precomputer>(*grammar_, limits_);
  Precomputer& pc = *precomputer_;
  const auto& trie = vocab_->trie();
  StackSet start;
  pc.expander.start_at(pos, start);
  std::vector<int32_t> state(vocab_->max_token_bytes() + 1);
  std::vector<uint8_t> escaped(vocab_->max_token_bytes() + 1);
  state[0] = pc.intern(start);
  escaped[0] = 0;
  std::vector<int32_t> accepted;
  MaskEntry out;
  for (size_t i = 0; i < trie.size();) {
    const auto& node = trie[i];
    const auto d = static_cast<size_t>(node.depth);
    const int32_t s = pc.step(state[d - 1], node.byte);
    state[d] = s;
    const StackSet& set = pc.states[static_cast<size_t>(s)];
    escaped[d] = escaped[d - 1] | (set.escaped ? 1 : 0);
    if (set.live() || set.escaped) {
      for (int32_t r = node.rank_begin; r < node.rank_end; ++r) accepted.push_back(vocab_->token_of_rank(r));
    } else if (escaped[d - 1]) {
      for (int32_t r = node.rank_begin; r < node.rank_end; ++r) out.uncertain_ranks.push_back(r);
    }
    if (set.tops.empty()) {  // nothing deeper can match inside; escaped paths leave it open
      if (escaped[d]) {
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
