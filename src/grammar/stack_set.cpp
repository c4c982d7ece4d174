// StackArena (hash-consed stack nodes), VisitedSet and the closure/advance of StackExpander.
#include "grammar/stack_set.h"

#include <algorithm>

namespace tessera::grammar {
namespace {

inline uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}
inline uint64_t key_of(int32_t pos, int32_t parent) {
  return (uint64_t(uint32_t(pos)) << 32) | uint32_t(parent);
}

}  // namespace

StackArena::StackArena() { table_.assign(1024, -1); }

size_t StackArena::slot_of(int32_t pos, int32_t parent) const {
  const size_t mask = table_.size() - 1;
  size_t slot = mix(key_of(pos, parent)) & mask;
  while (true) {
    const int32_t id = table_[slot];
    if (id < 0) return slot;
    const StackNode& n = nodes_[static_cast<size_t>(id)];
    if (n.pos == pos && n.parent == parent) return slot;
    slot = (slot + 1) & mask;
  }
}

void StackArena::grow() {
  table_.assign(table_.size() * 2, -1);
  for (size_t id = 0; id < nodes_.size(); ++id) {
    table_[slot_of(nodes_[id].pos, nodes_[id].parent)] = static_cast<int32_t>(id);
  }
}

int32_t StackArena::intern(int32_t pos, int32_t parent, int32_t max_depth) {
  size_t slot = slot_of(pos, parent);
  if (table_[slot] >= 0) return table_[slot];
  const int32_t depth = parent >= 0 ? nodes_[static_cast<size_t>(parent)].depth + 1 : 1;
  if (depth > max_depth) return kNoNode;
  const bool approximate = parent >= 0 ? nodes_[static_cast<size_t>(parent)].approximate : parent == kApproxCaller;
  if ((nodes_.size() + 1) * 2 > table_.size()) {
    grow();
    slot = slot_of(pos, parent);
  }
  const auto id = static_cast<int32_t>(nodes_.size());
  nodes_.push_back({pos, parent, depth, approximate});
  table_[slot] = id;
  return id;
}

void StackArena::truncate(size_t size) {
  const size_t mask = table_.size() - 1;
  while (nodes_.size() > size) {  // newest first; backward-shift deletion keeps probe chains whole
    const StackNode n = nodes_.back();
    size_t hole = slot_of(n.pos, n.parent);
    nodes_.pop_back();
    size_t next = (hole + 1) & mask;
    while (table_[next] >= 0) {
      const StackNode& m = nodes_[static_cast<size_t>(table_[next])];
      const size_t home = mix(key_of(m.pos, m.parent)) & mask;
      // Move the entry into the hole if its home is not in (hole, next].
      const bool in_range = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
      if (!in_range) {
        table_[hole] = table_[next];
        hole = next;
      }
      next = (next + 1) & mask;
    }
    table_[hole] = -1;
  }
}

void StackArena::clear() {
  nodes_.clear();
  table_.assign(1024, -1);
}

void VisitedSet::clear() {
  ++generation_;
  count_ = 0;
  if (generation_ == 0) {  // wrapped: stamps are stale
    std::fill(stamps_.begin(), stamps_.end(), 0);
    generation_ = 1;
  }
}

bool VisitedSet::insert(uint64_t key) {
  if ((count_ + 1) * 2 > keys_.size()) {
    std::vector<uint64_t> old_keys;
    std::vector<uint32_t> old_stamps;
    old_keys.swap(keys_);
    old_stamps.swap(stamps_);
    const size_t size = std::max<size_t>(64, old_keys.size() * 2);
    keys_.assign(size, 0);
    stamps_.assign(size, 0);
    count_ = 0;
    for (size_t i = 0; i < old_keys.size(); ++i) {
      if (old_stamps[i] == generation_) insert(old_keys[i]);
    }
  }
  const size_t mask = keys_.size() - 1;
  size_t slot = mix(key) & mask;
  while (stamps_[slot] == generation_) {
    if (keys_[slot] == key) return false;
    slot = (slot + 1) & mask;
  }
  stamps_[slot] = generation_;
  keys_[slot] = key;
  ++count_;
  return true;
}

StackExpander::StackExpander(const Grammar& grammar, StackArena& arena, StackLimits limits)
    : grammar_(grammar), symbols_(grammar.symbols()), arena_(arena), limits_(limits) {}

void StackExpander::initial(StackSet& out) {
  out = StackSet{};
  for (int32_t alt : grammar_.alternatives(grammar_.root_rule())) work_.emplace_back(alt, kBottom);
  closure(out);
}

void StackExpander::start_at(int32_t pos, int32_t parent_pos, StackSet& out) {
  out = StackSet{};
  const int32_t parent = parent_pos == kBottom ? kBottom : arena_.intern(parent_pos, kUnknownCaller, limits_.max_depth);
  const int32_t id = arena_.intern(pos, parent, limits_.max_depth);
  if (id != kNoNode) out.tops.push_back(id);
}

void StackExpander::advance(const StackSet& in, uint8_t byte, StackSet& out) {
  out.tops.clear();
  out.can_end = out.escaped = out.approx_end = out.overflow = false;
  for (int32_t top : in.tops) {
    const StackNode& n = arena_.node(top);
    if (grammar_.byte_sets()[static_cast<size_t>(symbols_[static_cast<size_t>(n.pos)].arg)].test(byte)) {
      work_.emplace_back(n.pos + 1, n.parent);
    }
  }
  closure(out);
}

void StackExpander::continue_approximately(int32_t rule, StackSet& out) {
  if (grammar_.continuations_overflow(rule)) {
    out.overflow = true;
    return;
  }
  for (int32_t c : grammar_.caller_continuations(rule)) {
    if (c == kContinueAccept) {
      out.approx_end = true;
    } else {
      work_.emplace_back(c, kApproxCaller);
    }
  }
}

void StackExpander::closure(StackSet& out) {
  visited_.clear();
  while (!work_.empty()) {
    const auto [pos, parent] = work_.back();
    work_.pop_back();
    if (!visited_.insert(key_of(pos, parent))) continue;
    const Symbol& sym = symbols_[static_cast<size_t>(pos)];
    switch (sym.kind) {
      case SymbolKind::kBytes: {
        if (out.tops.size() >= limits_.max_stacks) break;
        const int32_t id = arena_.intern(pos, parent, limits_.max_depth);
        if (id != kNoNode) out.tops.push_back(id);
        break;
      }
      case SymbolKind::kRule: {
        const int32_t next = pos + 1;
        const int32_t cont =
            symbols_[static_cast<size_t>(next)].kind == SymbolKind::kEnd ? parent : arena_.intern(next, parent, limits_.max_depth);
        if (cont == kNoNode) break;
        for (int32_t alt : grammar_.alternatives(sym.arg)) work_.emplace_back(alt, cont);
        break;
      }
      case SymbolKind::kEnd: {
        if (parent == kBottom) {
          out.can_end = true;
        } else if (parent == kUnknownCaller) {
          const int32_t c = grammar_.return_continuation(sym.arg);
          if (c == kContinueAccept) {
            out.can_end = true;
          } else if (c == kContinueMany) {
            out.escaped = true;
            continue_approximately(sym.arg, out);
          } else {
            work_.emplace_back(c, kUnknownCaller);
          }
        } else if (parent == kApproxCaller) {
          continue_approximately(sym.arg, out);
        } else {
          const StackNode& n = arena_.node(parent);
          work_.emplace_back(n.pos, n.parent);
        }
        break;
      }
    }
  }
  std::sort(out.tops.begin(), out.tops.end());
  out.tops.erase(std::unique(out.tops.begin(), out.tops.end()), out.tops.end());
}

}  // namespace tessera::grammar
