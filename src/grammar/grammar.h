// Grammar: an immutable context-free grammar over bytes, the form every front end (GBNF, JSON
// schema, regex) is lowered to and the matcher runs on.
//
// Design: each rule is a list of alternatives; each alternative is a sequence of symbols, either
// a set of bytes (one byte of input) or a reference to a rule. Literals become one byte set per
// byte; character classes over Unicode code points become alternatives of UTF-8 byte-range
// sequences; *, +, ?, {m,n} become helper rules (right-recursive, so that the matcher's tail calls
// keep the stack flat). All alternatives are flattened into one symbol array: an alternative is a
// run of symbols closed by an End symbol, so a grammar position is one int32 index.
//
// Checked when built (GrammarBuilder::finish): every referenced rule exists, rules that can derive
// no finite string are pruned (the root must survive), and left recursion (a rule that can reach
// itself before consuming a byte) is refused: the matcher is a pushdown automaton, not Earley.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace tessera::grammar {

// 256 bits: which byte values a terminal accepts.
struct ByteSet {
  std::array<uint64_t, 4> bits{};
  bool test(uint8_t b) const { return (bits[b >> 6] >> (b & 63)) & 1; }
  void set(uint8_t b) { bits[b >> 6] |= uint64_t(1) << (b & 63); }
  void set_range(uint8_t lo, uint8_t hi) {
    for (int b = lo; b <= hi; ++b) set(static_cast<uint8_t>(b));
  }
  bool empty() const { return (bits[0] | bits[1] | bits[2] | bits[3]) == 0; }
  bool operator==(const ByteSet&) const = default;
};

enum class SymbolKind : uint8_t { kBytes, kRule, kEnd };

struct Symbol {
  SymbolKind kind;
  int32_t arg;  // kBytes: index into byte_sets(); kRule: referenced rule; kEnd: the rule this alternative belongs to
};

// Limits on untrusted grammars (GBNF text, schemas, patterns).
struct GrammarLimits {
  size_t max_source_bytes = 1 << 20;     // GBNF text / pattern length
  size_t max_symbols = 1 << 21;          // flattened symbols after lowering
  int max_nesting = 128;                 // parentheses / schema depth
  int max_repetition = 10000;            // m and n in {m,n}
};

// What happens when a rule's alternative ends and its caller is not known (see
// CompiledGrammar): the one position the caller continues at, or one of these.
constexpr int32_t kContinueAccept = -1;  // the rule is only the root: the sentence may end
constexpr int32_t kContinueMany = -2;    // several callers: the continuation depends on the stack

class Grammar {
 public:
  const std::vector<Symbol>& symbols() const { return symbols_; }
  const std::vector<ByteSet>& byte_sets() const { return byte_sets_; }
  int32_t num_rules() const { return static_cast<int32_t>(rule_names_.size()); }
  const std::string& rule_name(int32_t rule) const { return rule_names_[static_cast<size_t>(rule)]; }
  // Start positions (into symbols()) of the rule's alternatives.
  const std::vector<int32_t>& alternatives(int32_t rule) const { return alternatives_[static_cast<size_t>(rule)]; }
  int32_t root_rule() const { return root_; }
  // Where a caller continues after `rule` completes, when the caller is unknown: a position,
  // kContinueAccept or kContinueMany. Tail calls are followed through (a rule called only as the
  // last symbol of another continues where that one does).
  int32_t return_continuation(int32_t rule) const { return continuation_[static_cast<size_t>(rule)]; }
  // Every position a caller of `rule` may continue at (kContinueAccept for the end of the
  // sentence), through tail calls; empty with continuations_overflow() when there are too many
  // to track (over kMaxContinuations).
  const std::vector<int32_t>& caller_continuations(int32_t rule) const { return all_continuations_[static_cast<size_t>(rule)]; }
  bool continuations_overflow(int32_t rule) const { return overflow_[static_cast<size_t>(rule)]; }
  static constexpr size_t kMaxContinuations = 64;
  // The grammar as GBNF-like text (debugging, tests).
  std::string to_string() const;

 private:
  friend class GrammarBuilder;
  std::vector<Symbol> symbols_;
  std::vector<ByteSet> byte_sets_;
  std::vector<std::string> rule_names_;
  std::vector<std::vector<int32_t>> alternatives_;
  std::vector<int32_t> continuation_;
  std::vector<std::vector<int32_t>> all_continuations_;
  std::vector<bool> overflow_;
  int32_t root_ = 0;
};

// Builds a Grammar rule by rule. Front ends declare rules by name (forward references allowed),
// then add alternatives made of byte sets and rule references.
class GrammarBuilder {
 public:
  struct Item {
    bool is_rule = false;
    int32_t rule = -1;
    ByteSet bytes;
    static Item byte_set(const ByteSet& set) { return Item{false, -1, set}; }
    static Item ref(int32_t rule) { return Item{true, rule, {}}; }
  };
  using Sequence = std::vector<Item>;

  explicit GrammarBuilder(GrammarLimits limits = {}) : limits_(limits) {}

  // The id of the rule called `name`, declaring it if new.
  int32_t rule_id(const std::string& name);
  // A fresh helper rule named after `base` (base_1, base_2, ...).
  int32_t new_helper_rule(const std::string& base);
  bool has_rule(const std::string& name) const;
  const std::string& name(int32_t rule) const { return names_[static_cast<size_t>(rule)]; }
  // Adds an alternative; fails once the grammar grows over limits.max_symbols.
  Status add_alternative(int32_t rule, Sequence sequence);
  bool is_defined(int32_t rule) const { return defined_[static_cast<size_t>(rule)]; }
  void mark_defined(int32_t rule) { defined_[static_cast<size_t>(rule)] = true; }
  size_t num_symbols() const { return num_symbols_; }
  const GrammarLimits& limits() const { return limits_; }

  // Validates (undefined rules are refused by the front ends before this), prunes, checks left
  // recursion, flattens.
  Expected<std::shared_ptr<const Grammar>> finish(const std::string& root_name);

 private:
  GrammarLimits limits_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, int32_t> index_;
  std::vector<bool> defined_;
  std::vector<std::vector<Sequence>> rules_;
  size_t num_symbols_ = 0;
};

// Appends the UTF-8 encoding of `code_point` (must be <= 0x10FFFF).
void append_utf8(std::string& out, uint32_t code_point);

}  // namespace tessera::grammar
