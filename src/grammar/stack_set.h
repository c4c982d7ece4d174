// The byte-level matcher core: grammar stacks as hash-consed parent-pointer nodes, and the
// closure/advance steps of a pushdown automaton over them.
//
// A stack is a chain of nodes (pos, parent): pos is where to resume in the flattened symbols
// (the top node's pos is a byte-set symbol), parent the caller's node. Equal stacks share one
// node id (hash-consing), so a set of stacks is a sorted vector of ids and duplicates vanish.
// Calling a rule as the last symbol of an alternative does not push (tail call), so repetitions
// (x ::= y x | "") run in constant depth.
//
// Limits: a stack deeper than StackLimits::max_depth is not created (a grammar such as
// root ::= "(" root ")" | "" then refuses the '(' that would pass it), and a set keeps at most
// max_stacks stacks (ambiguous grammars); both only ever remove paths, so the matcher never
// accepts text the grammar forbids.
#pragma once

#include <cstdint>
#include <vector>

#include "grammar/grammar.h"

namespace tessera::grammar {

constexpr int32_t kBottom = -1;         // the root frame's parent: ending here ends the sentence
constexpr int32_t kUnknownCaller = -2;  // a frame whose caller is not known (mask precomputation)
constexpr int32_t kApproxCaller = -3;   // one of several possible callers (precomputation's approximate frames)
constexpr int32_t kNoNode = -4;

struct StackLimits {
  int32_t max_depth = 2048;
  size_t max_stacks = 4096;
};

struct StackNode {
  int32_t pos;
  int32_t parent;
  int32_t depth;
  bool approximate;  // the stack bottoms out in kApproxCaller
};

// The stacks after some input. The precomputation's flags: returning into an unknown caller
// sets `escaped` and continues approximately at every place a caller may continue (tops whose
// nodes are `approximate`, approx_end), or sets `overflow` when those are too many to track.
struct StackSet {
  std::vector<int32_t> tops;  // sorted node ids; each node's pos is a kBytes symbol
  bool can_end = false;       // the input so far is a complete sentence
  bool escaped = false;       // a path returned into an unknown caller at the last byte
  bool approx_end = false;    // an approximate path may end the sentence here
  bool overflow = false;      // a path returned into callers too many to follow
  bool live() const { return !tops.empty() || can_end; }
  int flags() const { return (can_end ? 1 : 0) | (escaped ? 2 : 0) | (approx_end ? 4 : 0) | (overflow ? 8 : 0); }
  bool operator==(const StackSet&) const = default;
};

// Interned nodes. truncate() drops the nodes made after a mark (scratch work).
class StackArena {
 public:
  StackArena();
  // The node (pos, parent), made if new; kNoNode if it would be deeper than max_depth.
  int32_t intern(int32_t pos, int32_t parent, int32_t max_depth);
  const StackNode& node(int32_t id) const { return nodes_[static_cast<size_t>(id)]; }
  size_t size() const { return nodes_.size(); }
  void truncate(size_t size);
  void clear();

 private:
  std::vector<StackNode> nodes_;
  std::vector<int32_t> table_;  // open addressing, linear probing; -1 empty
  size_t slot_of(int32_t pos, int32_t parent) const;
  void grow();
};

// Open-addressing set of 64-bit keys, cleared in O(1) by a generation stamp.
class VisitedSet {
 public:
  void clear();
  bool insert(uint64_t key);  // false if already present

 private:
  std::vector<uint64_t> keys_;
  std::vector<uint32_t> stamps_;
  uint32_t generation_ = 1;
  size_t count_ = 0;
};

class StackExpander {
 public:
  StackExpander(const Grammar& grammar, StackArena& arena, StackLimits limits = {});
  // The stacks before any input.
  void initial(StackSet& out);
  // Precomputation's start: the stack whose top is at byte-set position `pos` and whose caller
  // continues at `parent_pos` with an unknown caller below (kBottom: the top frame is the root's).
  void start_at(int32_t pos, int32_t parent_pos, StackSet& out);
  // The stacks after `byte`; out.escaped says whether a path returned to an unknown caller.
  void advance(const StackSet& in, uint8_t byte, StackSet& out);
  bool byte_allowed(int32_t top, uint8_t byte) const {
    return grammar_.byte_sets()[static_cast<size_t>(symbols_[static_cast<size_t>(arena_.node(top).pos)].arg)].test(byte);
  }
  const Grammar& grammar() const { return grammar_; }

 private:
  const Grammar& grammar_;
  const std::vector<Symbol>& symbols_;
  StackArena& arena_;
  StackLimits limits_;
  std::vector<std::pair<int32_t, int32_t>> work_;
  VisitedSet visited_;
  void closure(StackSet& out);
  void continue_approximately(int32_t rule, StackSet& out);
};

}  // namespace tessera::grammar
