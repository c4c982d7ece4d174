// The Jinja syntax tree the parser builds and the interpreter walks. Plain data; one node struct
// for expressions and one for statements, their fields used as each kind's comment says.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja/value.h"

namespace tessera::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind {
  kLiteral,    // literal
  kName,       // name
  kList,       // args: items
  kTuple,      // args: items
  kDict,       // args: key0, value0, key1, value1, ...
  kGetAttr,    // object.name            args[0] = object
  kGetItem,    // object[args[1]]        args[0] = object
  kSlice,      // object[a:b:c]          args[0] = object; args[1..3] = start, stop, step (may be null)
  kCall,       // args[0](args[1..], kwargs)
  kFilter,     // args[0] | name(args[1..], kwargs); args[0] is null in a filter block / set block
  kTest,       // args[0] is [not] name(args[1..]); negated
  kUnary,      // name in {"not", "-", "+"}; args[0]
  kBinary,     // args[0] name args[1]; name in {+ - * / // % ** ~ and or}
  kCompare,    // args[0] ops[0] args[1] ops[1] args[2] ... (chained as in Python)
  kCondition,  // args[1] if args[0] else args[2] (args[2] null: Undefined)
};

struct Expr {
  ExprKind kind;
  int line = 0;
  std::string name;                                    // see ExprKind
  Value literal;                                       // kLiteral
  std::vector<ExprPtr> args;                           // see ExprKind
  std::vector<std::pair<std::string, ExprPtr>> kwargs; // kCall, kFilter: name=value arguments
  std::vector<std::string> ops;                        // kCompare: "==", "in", "not in", ...
  bool negated = false;                                // kTest: "is not"
};

enum class StmtKind {
  kText,        // text
  kOutput,      // {{ expr }}
  kIf,          // conditions[i] -> bodies[i]; a trailing extra body is the else
  kFor,         // for targets in expr [if condition]: bodies[0]; else: bodies[1]
  kSet,         // set targets = expr; or set targets[0].attr = expr (namespace attribute)
  kSetBlock,    // set targets[0] [| filter chain in expr]: bodies[0] rendered
  kMacro,       // macro name(targets with defaults in args): bodies[0]
  kCallBlock,   // call(targets) expr: bodies[0] is caller()
  kFilterBlock, // filter expr (a filter chain over null): bodies[0]
  kBreak,
  kContinue,
  kScope,       // {% generation %}: bodies[0] rendered in place
};

struct Stmt {
  StmtKind kind;
  int line = 0;
  std::string text;                   // kText; kMacro: name; kSet: attribute name ("" = plain set)
  ExprPtr expr;                       // see StmtKind
  ExprPtr condition;                  // kFor: the loop filter (may be null)
  std::vector<ExprPtr> conditions;    // kIf
  std::vector<Body> bodies;           // see StmtKind
  std::vector<std::string> targets;   // names assigned: for/set targets, macro/caller parameters
  std::vector<ExprPtr> defaults;      // kMacro, kCallBlock: default of each parameter (null = none)
};

}  // namespace tessera::jinja
