// GrammarMatcher: one request's position in a CompiledGrammar (cheap to create), the object the
// sampler asks for a next-token bitmask and tells which token was chosen.
//
// fill_next_token_bitmask: OR of the cached accepted sets of the distinct (top position, caller
// position) pairs of the current stacks, then each cached-uncertain token walked through the real stacks
// (tokens in trie order, so neighbours share their common prefix's work), then the EOG ids if
// the grammar may end here. Rollback keeps the last `max_rollback_tokens` states.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string_view>

#include "grammar/compiled_grammar.h"
#include "grammar/stack_set.h"

namespace tessera::grammar {

class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<const CompiledGrammar> compiled, int32_t max_rollback_tokens = 64);
  // A copy continues independently from the same state (e.g. for n > 1 completions).
  GrammarMatcher(const GrammarMatcher& other);
  GrammarMatcher& operator=(const GrammarMatcher&) = delete;

  // Bit i of the ceil(vocab/32) words is set iff token i may come next. EOG ids are allowed iff
  // the grammar can end here (and, if nothing else can follow, only they are). After an EOG
  // token was accepted nothing is allowed. `bitmask` must hold at least bitmask_words() words.
  void fill_next_token_bitmask(std::span<uint32_t> bitmask);
  size_t bitmask_words() const { return compiled_->bitmask_words(); }
  // False (state unchanged) if the token is not allowed here.
  bool accept_token(int32_t token_id);
  // Forced text (and tests): false (state unchanged) unless the bytes are a viable prefix.
  // Counts as one step for rollback.
  bool accept_bytes(std::string_view bytes);
  bool can_terminate() const { return !terminated_ && state_.can_end; }
  bool is_terminated() const { return terminated_; }
  // Undoes the last `num_tokens` accepted tokens (at most the retained history).
  void rollback(int32_t num_tokens);
  int32_t rollback_available() const { return static_cast<int32_t>(history_.size()); }
  void reset();

  const CompiledGrammar& compiled() const { return *compiled_; }

 private:
  std::shared_ptr<const CompiledGrammar> compiled_;
  int32_t max_rollback_;
  StackArena arena_;
  StackExpander expander_;
  StackSet state_;
  bool terminated_ = false;
  std::deque<std::pair<StackSet, bool>> history_;
  // Scratch for the uncertain-token walk and accept.
  std::vector<StackSet> walk_;
  std::vector<std::pair<int32_t, int32_t>> keys_;
  std::vector<int32_t> ranks_;
  bool advance_bytes(std::string_view bytes, StackSet& out);
  void push_history();
};

}  // namespace tessera::grammar
