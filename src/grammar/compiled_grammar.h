// CompiledGrammar: a Grammar bound to a TokenVocabulary, with the per-position token mask cache
// that makes masking cheap (the idea of xgrammar's adaptive token mask cache).
//
// For every grammar position a stack can stop at (a byte-set symbol) and every position its
// caller may continue at (the key is the top two frames), the whole token trie is walked once
// from the stack (pos, caller position, unknown). When the walk returns from a rule whose
// caller is statically known (one call site, tail calls followed), it continues there exactly;
// where the caller could be one of several, it continues approximately at all of them (up to
// Grammar::kMaxContinuations; beyond, anything may follow). Each token is then:
//   accepted   - matched on an exact path, or ending just as its rule returns (every caller
//                can continue: rules that cannot complete are pruned): allowed whatever the stack;
//   rejected   - dead on every exact and approximate path: forbidden whatever the stack;
//   uncertain  - alive only on approximate paths: the matcher checks it against the real stacks.
// Accepted sets are stored as a bitmask over token ids when large, else as a list; uncertain
// tokens as trie ranks (so the run-time check can share prefixes between neighbours).
//
// Entries are computed on first use (fill_next_token_bitmask) or all at once (precompute_all);
// the table is guarded by a shared mutex (lookups share it, a fill takes it alone), so one
// CompiledGrammar is shared across requests and threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <span>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/stack_set.h"
#include "grammar/token_vocabulary.h"

namespace tessera::grammar {

class CompiledGrammar {
 public:
  struct MaskEntry {
    std::vector<uint32_t> accepted_bits;  // bitmask over token ids, or empty when the list is used
    std::vector<int32_t> accepted_ids;    // accepted token ids (when the bitmask is not used)
    std::vector<int32_t> uncertain_ranks; // sorted trie ranks to check at run time
  };

  static Expected<std::shared_ptr<const CompiledGrammar>> create(std::shared_ptr<const Grammar> grammar,
                                                                 std::shared_ptr<const TokenVocabulary> vocab,
                                                                 StackLimits limits = {});
  ~CompiledGrammar();

  const Grammar& grammar() const { return *grammar_; }
  const TokenVocabulary& vocab() const { return *vocab_; }
  const StackLimits& limits() const { return limits_; }
  size_t bitmask_words() const { return (static_cast<size_t>(vocab_->size()) + 31) / 32; }
  // The entry for a stack whose top is at byte-set position `pos` and whose caller continues at
  // `parent_pos` (kBottom when the top frame is the root's), computed now if it was not yet.
  const MaskEntry& entry(int32_t pos, int32_t parent_pos) const;
  // Computes the entry of every (position, caller position) pair the grammar's call sites allow
  // (what a server does once per grammar to avoid first-use latency); returns their number.
  size_t precompute_all() const;
  size_t positions_computed() const { return computed_.load(std::memory_order_relaxed); }

  CompiledGrammar(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenVocabulary> vocab, StackLimits limits);

 private:
  struct Precomputer;
  std::shared_ptr<const Grammar> grammar_;
  std::shared_ptr<const TokenVocabulary> vocab_;
  StackLimits limits_;
  mutable std::shared_mutex mutex_;
  mutable std::unique_ptr<Precomputer> precomputer_;  // guarded by mutex_ (exclusive)
  mutable std::unordered_map<uint64_t, std::unique_ptr<MaskEntry>> entries_;  // (pos, parent pos) -> entry
  mutable std::atomic<size_t> computed_{0};
  MaskEntry compute(int32_t pos, int32_t parent_pos) const;
};

}  // namespace tessera::grammar
