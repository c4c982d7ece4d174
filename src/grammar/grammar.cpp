// GrammarBuilder::finish (pruning, left-recursion check, flattening, caller continuations) and
// Grammar::to_string.
#include "grammar/grammar.h"

#include <algorithm>
#include <deque>
#include <map>

namespace tessera::grammar {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

int32_t GrammarBuilder::rule_id(const std::string& name) {
  auto it = index_.find(name);
  if (it != index_.end()) return it->second;
  index_.emplace(name, static_cast<int32_t>(names_.size()));
  names_.push_back(name);
  defined_.push_back(false);
  rules_.emplace_back();
  return static_cast<int32_t>(names_.size() - 1);
}

bool GrammarBuilder::has_rule(const std::string& name) const {
  return index_.count(name) != 0;
}

int32_t GrammarBuilder::new_helper_rule(const std::string& base) {
  std::string name = base + "_" + std::to_string(names_.size());
  while (index_.count(name)) name += "_";
  index_.emplace(name, static_cast<int32_t>(names_.size()));
  names_.push_back(std::move(name));
  defined_.push_back(true);
  rules_.emplace_back();
  return static_cast<int32_t>(names_.size() - 1);
}

Status GrammarBuilder::add_alternative(int32_t rule, Sequence sequence) {
  num_symbols_ += sequence.size() + 1;
  if (num_symbols_ > limits_.max_symbols) {
    return invalid_argument("grammar too large: over " + std::to_string(limits_.max_symbols) +
                            " symbols after expanding repetitions");
  }
  defined_[static_cast<size_t>(rule)] = true;
  rules_[static_cast<size_t>(rule)].push_back(std::move(sequence));
  return Status::ok_status();
}

namespace {

// Least fixpoint of "some alternative has only symbols satisfying `good`".
std::vector<bool> rule_fixpoint(const std::vector<std::vector<GrammarBuilder::Sequence>>& rules,
                                bool (*terminal_ok)(const GrammarBuilder::Item&)) {
  std::vector<bool> ok(rules.size(), false);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < rules.size(); ++r) {
      if (ok[r]) continue;
      for (const auto& seq : rules[r]) {
        bool all = true;
        for (const auto& item : seq) {
          if (item.is_rule ? !ok[static_cast<size_t>(item.rule)] : !terminal_ok(item)) {
            all = false;
            break;
          }
        }
        if (all) {
          ok[r] = true;
          changed = true;
          break;
        }
      }
    }
  }
  return ok;
}

// Tarjan's algorithm, iterative (grammars may have 100k rules): component id per node.
template <typename EdgeList>
std::vector<int32_t> strongly_connected_components(const std::vector<EdgeList>& edges) {
  const size_t n = edges.size();
  std::vector<int32_t> index(n, -1), low(n, 0), component(n, -1), stack;
  std::vector<bool> on_stack(n, false);
  int32_t next_index = 0, next_component = 0;
  std::vector<std::pair<int32_t, size_t>> dfs;
  for (size_t start = 0; start < n; ++start) {
    if (index[start] >= 0) continue;
    dfs.emplace_back(static_cast<int32_t>(start), 0);
    while (!dfs.empty()) {
      auto& [v, next] = dfs.back();
      const auto vi = static_cast<size_t>(v);
      if (next == 0 && index[vi] < 0) {
        index[vi] = low[vi] = next_index++;
        stack.push_back(v);
        on_stack[vi] = true;
      }
      if (next < edges[vi].size()) {
        const auto w = static_cast<size_t>(edges[vi][next++].callee);
        if (index[w] < 0) {
          dfs.emplace_back(static_cast<int32_t>(w), 0);
        } else if (on_stack[w]) {
          low[vi] = std::min(low[vi], index[w]);
        }
        continue;
      }
      if (low[vi] == index[vi]) {
        while (true) {
          const int32_t w = stack.back();
          stack.pop_back();
          on_stack[static_cast<size_t>(w)] = false;
          component[static_cast<size_t>(w)] = next_component;
          if (w == v) break;
        }
        ++next_component;
      }
      const int32_t done = v;
      dfs.pop_back();
      if (!dfs.empty()) {
        const auto parent = static_cast<size_t>(dfs.back().first);
        low[parent] = std::min(low[parent], low[static_cast<size_t>(done)]);
      }
    }
  }
  return component;
}

}  // namespace

Expected<std::shared_ptr<const Grammar>> GrammarBuilder::finish(const std::string& root_name) {
  if (!has_rule(root_name)) return invalid_argument("grammar has no root rule '" + root_name + "'");
  const int32_t root = rule_id(root_name);
  for (size_t r = 0; r < names_.size(); ++r) {
    if (!defined_[r]) return invalid_argument("undefined rule '" + names_[r] + "'");
  }
  // Prune alternatives that can derive no finite string (empty byte sets, unproductive rules).
  const std::vector<bool> productive = rule_fixpoint(rules_, [](const Item& item) { return !item.bytes.empty(); });
  if (!productive[static_cast<size_t>(root)]) {
    return invalid_argument("grammar matches no string: rule '" + root_name + "' can never complete");
  }
  for (auto& alts : rules_) {
    std::erase_if(alts, [&](const Sequence& seq) {
      return std::any_of(seq.begin(), seq.end(), [&](const Item& item) {
        return item.is_rule ? !productive[static_cast<size_t>(item.rule)] : item.bytes.empty();
      });
    });
  }
  // Keep the rules reachable from the root, renumbered in discovery order (root first).
  std::vector<int32_t> new_id(rules_.size(), -1);
  std::vector<int32_t> order{root};
  new_id[static_cast<size_t>(root)] = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    for (const auto& seq : rules_[static_cast<size_t>(order[i])]) {
      for (const auto& item : seq) {
        if (item.is_rule && new_id[static_cast<size_t>(item.rule)] < 0) {
          new_id[static_cast<size_t>(item.rule)] = static_cast<int32_t>(order.size());
          order.push_back(item.rule);
        }
      }
    }
  }
  const size_t n = order.size();
  std::vector<std::vector<Sequence>> rules(n);
  for (size_t i = 0; i < n; ++i) {
    rules[i] = std::move(rules_[static_cast<size_t>(order[i])]);
    for (auto& seq : rules[i]) {
      for (auto& item : seq) {
        if (item.is_rule) item.rule = new_id[static_cast<size_t>(item.rule)];
      }
    }
  }
  std::vector<std::string> rule_names(n);
  for (size_t i = 0; i < n; ++i) rule_names[i] = names_[static_cast<size_t>(order[i])];
  // Left recursion: an edge A -> B when A can call B before any byte is consumed. A cycle of
  // such calls that pushes a frame (a call that is not the last symbol) would grow the stack
  // forever; a cycle of tail calls only revisits the same stacks, which the closure skips.
  const std::vector<bool> nullable = rule_fixpoint(rules, [](const Item&) { return false; });
  struct Edge {
    int32_t callee;
    bool pushes;
  };
  std::vector<std::vector<Edge>> first_calls(n);
  for (size_t r = 0; r < n; ++r) {
    for (const auto& seq : rules[r]) {
      for (size_t i = 0; i < seq.size(); ++i) {
        if (!seq[i].is_rule) break;
        first_calls[r].push_back({seq[i].rule, i + 1 < seq.size()});
        if (!nullable[static_cast<size_t>(seq[i].rule)]) break;
      }
    }
  }
  const std::vector<int32_t> scc = strongly_connected_components(first_calls);
  for (size_t r = 0; r < n; ++r) {
    for (const Edge& e : first_calls[r]) {
      if (e.pushes && scc[r] == scc[static_cast<size_t>(e.callee)]) {
        return unsupported("left recursion through rule '" + rule_names[r] +
                           "': it can call itself before matching a byte (write the repetition right-recursively, "
                           "e.g. x ::= y x | y, or with * / +)");
      }
    }
  }
  // Flatten.
  auto grammar = std::make_shared<Grammar>();
  Grammar& g = *grammar;
  std::map<std::array<uint64_t, 4>, int32_t> set_ids;
  g.alternatives_.resize(n);
  g.rule_names_.resize(n);
  for (size_t r = 0; r < n; ++r) {
    g.rule_names_[r] = rule_names[r];
    for (const auto& seq : rules[r]) {
      g.alternatives_[r].push_back(static_cast<int32_t>(g.symbols_.size()));
      for (const auto& item : seq) {
        if (item.is_rule) {
          g.symbols_.push_back({SymbolKind::kRule, item.rule});
        } else {
          auto [it, added] = set_ids.emplace(item.bytes.bits, static_cast<int32_t>(g.byte_sets_.size()));
          if (added) g.byte_sets_.push_back(item.bytes);
          g.symbols_.push_back({SymbolKind::kBytes, it->second});
        }
      }
      g.symbols_.push_back({SymbolKind::kEnd, static_cast<int32_t>(r)});
    }
  }
  // Caller continuations: a worklist fixpoint over the lattice unset < one position < many.
  constexpr int32_t kUnset = -3;
  std::vector<int32_t> cont(n, kUnset);
  std::vector<std::vector<std::pair<int32_t, int32_t>>> sites(n);  // callee -> (caller rule, position after the call)
  std::vector<std::vector<int32_t>> tail_callees(n);               // caller -> rules it calls last
  for (size_t r = 0; r < n; ++r) {
    for (int32_t start : g.alternatives_[r]) {
      for (int32_t p = start; g.symbols_[static_cast<size_t>(p)].kind != SymbolKind::kEnd; ++p) {
        const Symbol& s = g.symbols_[static_cast<size_t>(p)];
        if (s.kind != SymbolKind::kRule) continue;
        sites[static_cast<size_t>(s.arg)].emplace_back(static_cast<int32_t>(r), p + 1);
        if (g.symbols_[static_cast<size_t>(p + 1)].kind == SymbolKind::kEnd) tail_callees[r].push_back(s.arg);
      }
    }
  }
  auto join = [](int32_t a, int32_t b) { return a == kUnset ? b : b == kUnset ? a : a == b ? a : kContinueMany; };
  std::deque<int32_t> work;
  std::vector<bool> queued(n, true);
  for (size_t r = 0; r < n; ++r) work.push_back(static_cast<int32_t>(r));
  while (!work.empty()) {
    const int32_t r = work.front();
    work.pop_front();
    queued[static_cast<size_t>(r)] = false;
    int32_t value = r == 0 ? kContinueAccept : kUnset;
    for (auto [caller, after] : sites[static_cast<size_t>(r)]) {
      const bool tail = g.symbols_[static_cast<size_t>(after)].kind == SymbolKind::kEnd;
      if (tail && caller == r) continue;  // a loop back into itself adds no new continuation
      value = join(value, tail ? cont[static_cast<size_t>(caller)] : after);
    }
    if (value == cont[static_cast<size_t>(r)]) continue;
    cont[static_cast<size_t>(r)] = value;
    for (int32_t callee : tail_callees[static_cast<size_t>(r)]) {
      if (!queued[static_cast<size_t>(callee)]) {
        queued[static_cast<size_t>(callee)] = true;
        work.push_back(callee);
      }
    }
  }
  for (auto& c : cont) {
    if (c == kUnset) c = kContinueMany;
  }
  g.continuation_ = std::move(cont);
  // The full sets, for the approximate walk: a worklist fixpoint over growing sets, capped.
  g.all_continuations_.assign(n, {});
  g.overflow_.assign(n, false);
  g.all_continuations_[0].push_back(kContinueAccept);
  for (size_t r = 0; r < n; ++r) {
    work.push_back(static_cast<int32_t>(r));
    queued[r] = true;
  }
  while (!work.empty()) {
    const int32_t r = work.front();
    work.pop_front();
    queued[static_cast<size_t>(r)] = false;
    auto& set = g.all_continuations_[static_cast<size_t>(r)];
    const size_t before = set.size();
    bool overflow = g.overflow_[static_cast<size_t>(r)];
    for (auto [caller, after] : sites[static_cast<size_t>(r)]) {
      if (overflow) break;
      if (g.symbols_[static_cast<size_t>(after)].kind == SymbolKind::kEnd) {
        if (caller == r) continue;
        if (g.overflow_[static_cast<size_t>(caller)]) overflow = true;
        for (int32_t c : g.all_continuations_[static_cast<size_t>(caller)]) {
          if (std::find(set.begin(), set.end(), c) == set.end()) set.push_back(c);
        }
      } else if (std::find(set.begin(), set.end(), after) == set.end()) {
        set.push_back(after);
      }
      if (set.size() > Grammar::kMaxContinuations) overflow = true;
    }
    if (overflow) set.clear();
    if (set.size() == before && overflow == g.overflow_[static_cast<size_t>(r)]) continue;
    g.overflow_[static_cast<size_t>(r)] = overflow;
    for (int32_t callee : tail_callees[static_cast<size_t>(r)]) {
      if (!queued[static_cast<size_t>(callee)]) {
        queued[static_cast<size_t>(callee)] = true;
        work.push_back(callee);
      }
    }
  }
  g.root_ = 0;
  return std::shared_ptr<const Grammar>(std::move(grammar));
}

namespace {

std::string describe_set(const ByteSet& set) {
  std::string out = "[";
  auto put = [&](int b) {
    char buf[8];
    if (b >= 0x21 && b < 0x7F && b != '\\' && b != ']' && b != '-' && b != '^') {
      out += static_cast<char>(b);
    } else {
      std::snprintf(buf, sizeof buf, "\\x%02X", b);
      out += buf;
    }
  };
  for (int b = 0; b < 256; ++b) {
    if (!set.test(static_cast<uint8_t>(b))) continue;
    int e = b;
    while (e + 1 < 256 && set.test(static_cast<uint8_t>(e + 1))) ++e;
    put(b);
    if (e > b) {
      out += '-';
      put(e);
    }
    b = e;
  }
  return out + "]";
}

}  // namespace

std::string Grammar::to_string() const {
  std::string out;
  for (int32_t r = 0; r < num_rules(); ++r) {
    out += rule_name(r) + " ::=";
    bool first = true;
    for (int32_t p : alternatives(r)) {
      out += first ? " " : " | ";
      first = false;
      for (; symbols_[static_cast<size_t>(p)].kind != SymbolKind::kEnd; ++p) {
        const Symbol& s = symbols_[static_cast<size_t>(p)];
        out += s.kind == SymbolKind::kRule ? rule_name(s.arg) : describe_set(byte_sets_[static_cast<size_t>(s.arg)]);
        out += ' ';
      }
      if (out.back() == ' ') out.pop_back();
      if (out.back() == '=' || out.back() == '|') out += " \"\"";
    }
    out += '\n';
  }
  return out;
}

}  // namespace tessera::grammar
