// Walks a parsed template: scopes, statements, expressions, macros, and the bounds that make an
// untrusted template safe to run (work steps, call depth, output and string size). Filters, tests,
// methods and globals live in builtins.cpp; this file knows nothing about chat messages.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/value.h"

namespace tessera::jinja {

// Bounds on one render. Exceeding any is a TemplateError, never a crash or a hang.
struct RenderLimits {
  size_t max_output_bytes = 8u << 20;     // the rendered text, and any one string built on the way
  int64_t max_steps = 5'000'000;          // statements, loop iterations, macro calls, list items,
                                          // plus one step per 64 bytes of every string built
  int max_call_depth = 48;                // nested macro calls (recursive macros)
  int max_nesting = 128;                  // parser nesting of brackets/operators/blocks
};

// Arguments of a call, filter or test (after the operand).
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // Argument `index` by position, else by `name`, else nullptr.
  const Value* find(size_t index, std::string_view name) const;
  Value get(size_t index, std::string_view name, Value fallback) const;
};

class Interpreter {
 public:
  Interpreter(const RenderLimits& limits, std::tm now) : limits_(limits), now_(now) {}

  // Renders `body` with `variables` (messages, tools, ...) on top of the globals. Throws
  // TemplateError.
  std::string render(const Body& body, const DictData& variables);

  // --- used by builtins.cpp ---
  Value call(const Value& callee, CallArgs& args);
  Value get_attr(const Value& object, std::string_view name);
  Value get_item(const Value& object, const Value& key);
  // Counts `units` work steps; fails once the budget is spent.
  void charge(int64_t units);
  // Charges for a freshly built string and fails when it is over the size bound.
  const std::string& checked(const std::string& s);
  const std::tm& now() const { return now_; }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  Flow exec_body(const Body& body);
  Flow exec(const Stmt& s);
  Flow exec_for(const Stmt& s);
  void exec_set(const Stmt& s);
  void define_macro(const Stmt& s);
  Value call_macro(const Stmt& macro, CallArgs& args, const Value* caller);
  std::string capture(const Body& body);
  void emit(std::string_view text);

  Value eval(const Expr& e);
  Value eval_call(const Expr& e);
  Value eval_filter(const Expr& e, const Value* operand);
  Value eval_binary(const Expr& e);
  Value eval_compare(const Expr& e);
  Value eval_slice(const Expr& e);
  void eval_args(const Expr& e, size_t first, CallArgs* args);

  Value lookup(const std::string& name) const;
  void assign(const std::string& name, Value v);
  void unpack(const std::vector<std::string>& targets, const Value& v);

  RenderLimits limits_;
  std::tm now_;
  int64_t steps_ = 0;
  int call_depth_ = 0;
  std::vector<DictData*> scopes_;  // innermost last; [0] holds globals and the variables
  std::string* out_ = nullptr;     // where output goes now (the result, a macro, a block set)
};

}  // namespace tessera::jinja
