// CompiledGrammar: a Grammar bound to a TokenVocabulary, with the per-position token mask cache
// that makes masking cheap (the idea of xgrammar's adaptive token mask cache).
//
// For every grammar position a stack can stop at (a byte-set symbol), the whole token trie is
// walked once from the stack (pos, unknown caller). When the walk returns from a rule whose
// caller is statically known (one call site, tail calls followed), it continues there; where the
// caller could be one of several, the path "escapes". Each token is then:
//   accepted   - matched without escaping, or escaping exactly at its last byte (every caller
//                can continue: unproductive rules are pruned), so allowed whatever the stack;
//   rejected   - dead before any escape, so forbidden whatever the stack;
//   uncertain  - bytes remain after an escape: the matcher checks it against the real stacks.
// Accepted sets are stored as a bitmask over token ids when large, else as a list; uncertain
// tokens as trie ranks (so the run-time check can share prefixes between neighbours).
//
// Entries are computed on first use (fill_next_token_bitmask) or all at once (precompute_all);
// filling is serialized by a mutex and published through atomics, so one CompiledGrammar is
// shared across requests and threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
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
  // The entry for byte-set position `pos`, computed now if it was not yet.
  const MaskEntry& entry(int32_t pos) const;
  // Computes every position's entry (what a server does once per grammar to avoid first-use
  // latency); returns the number of positions.
  size_t precompute_all() const;
  size_t positions_computed() const { return computed_.load(std::memory_order_relaxed); }

  CompiledGrammar(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenVocabulary> vocab, StackLimits limits);

 private:
  struct Precomputer;
  std::shared_ptr<const Grammar> grammar_;
  std::shared_ptr<const TokenVocabulary> vocab_;
  StackLimits limits_;
  std::unique_ptr<std::atomic<const MaskEntry*>[]> entries_;  // per symbol position; null until computed
  mutable std::mutex mutex_;
  mutable std::unique_ptr<Precomputer> precomputer_;  // guarded by mutex_
  mutable std::vector<std::unique_ptr<MaskEntry>> owned_;  // guarded by mutex_
  mutable std::atomic<size_t> computed_{0};
  MaskEntry compute(int32_t pos) const;
};

}  // namespace tessera::grammar
