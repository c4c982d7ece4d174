// Statement execution and expression evaluation with Jinja2's scoping: a for loop's body runs in a
// fresh scope per iteration (what it sets is gone at the next one), if-blocks share their
// enclosing scope, macros see the template's top-level scope and their own arguments.
#include "chat/jinja/interpreter.h"

#include <cmath>
#include <limits>
#include <optional>

#include "chat/jinja/builtins.h"
#include "chat/jinja/string_util.h"

namespace tessera::jinja {
namespace {

// Whether `name` is read anywhere inside a macro body (decides if varargs/kwargs exist).
bool expr_reads(const Expr* e, std::string_view name) {
  if (e == nullptr) return false;
  if (e->kind == ExprKind::kName && e->name == name) return true;
  for (const ExprPtr& a : e->args) {
    if (expr_reads(a.get(), name)) return true;
  }
  for (const auto& kw : e->kwargs) {
    if (expr_reads(kw.second.get(), name)) return true;
  }
  return false;
}

bool body_reads(const Body& body, std::string_view name) {
  for (const StmtPtr& s : body) {
    if (expr_reads(s->expr.get(), name) || expr_reads(s->condition.get(), name)) return true;
    for (const ExprPtr& c : s->conditions) {
      if (expr_reads(c.get(), name)) return true;
    }
    for (const ExprPtr& d : s->defaults) {
      if (expr_reads(d.get(), name)) return true;
    }
    for (const Body& b : s->bodies) {
      if (body_reads(b, name)) return true;
    }
  }
  return false;
}

// The scope pushed for one block and popped when it ends, exceptions included.
class ScopeGuard {
 public:
  ScopeGuard(std::vector<DictData*>* scopes, DictData* scope) : scopes_(scopes) { scopes_->push_back(scope); }
  ~ScopeGuard() { scopes_->pop_back(); }
  ScopeGuard(const ScopeGuard&) = delete;
  ScopeGuard& operator=(const ScopeGuard&) = delete;

 private:
  std::vector<DictData*>* scopes_;
};

int64_t checked_int(__int128 v) {
  if (v > std::numeric_limits<int64_t>::max() || v < std::numeric_limits<int64_t>::min()) {
    fail("integer result out of range");
  }
  return static_cast<int64_t>(v);
}

int64_t floor_div(int64_t a, int64_t b) {
  if (b == 0) fail("integer division or modulo by zero");
  if (a == std::numeric_limits<int64_t>::min() && b == -1) fail("integer result out of range");
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t python_mod(int64_t a, int64_t b) {
  if (b == 0) fail("integer division or modulo by zero");
  if (b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

}  // namespace

const Value* CallArgs::find(size_t index, std::string_view name) const {
  if (index < positional.size()) return &positional[index];
  for (const auto& [k, v] : keyword) {
    if (k == name) return &v;
  }
  return nullptr;
}

Value CallArgs::get(size_t index, std::string_view name, Value fallback) const {
  const Value* v = find(index, name);
  return v != nullptr ? *v : std::move(fallback);
}

void Interpreter::charge(int64_t units) {
  steps_ += units;
  if (steps_ > limits_.max_steps) fail("template exceeded its work limit (" + std::to_string(limits_.max_steps) + " steps)");
}

const std::string& Interpreter::checked(const std::string& s) {
  if (s.size() > limits_.max_output_bytes) fail("template built a string over " + std::to_string(limits_.max_output_bytes) + " bytes");
  charge(static_cast<int64_t>(s.size() / 64));
  return s;
}

void Interpreter::emit(std::string_view text) {
  out_->append(text);
  if (out_->size() > limits_.max_output_bytes) fail("template output over " + std::to_string(limits_.max_output_bytes) + " bytes");
  charge(static_cast<int64_t>(text.size() / 64));
}

std::string Interpreter::render(const Body& body, const DictData& variables) {
  DictData root;
  add_globals(&root);
  for (const auto& [k, v] : variables.entries) root.set(k, v);
  scopes_ = {&root};
  std::string result;
  out_ = &result;
  exec_body(body);
  return result;
}

Value Interpreter::lookup(const std::string& name) const {
  for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
    if (const Value* v = (*it)->find(name)) return *v;
  }
  return Value::undefined("'" + name + "' is undefined");
}

void Interpreter::assign(const std::string& name, Value v) { scopes_.back()->set(name, std::move(v)); }

void Interpreter::unpack(const std::vector<std::string>& targets, const Value& v) {
  if (targets.size() == 1) {
    assign(targets[0], v);
    return;
  }
  const std::vector<Value> items = iterate(v);
  if (items.size() != targets.size()) {
    fail("cannot unpack " + std::to_string(items.size()) + " values into " + std::to_string(targets.size()) + " names");
  }
  for (size_t i = 0; i < targets.size(); ++i) assign(targets[i], items[i]);
}

std::string Interpreter::capture(const Body& body) {
  std::string text;
  std::string* saved = out_;
  out_ = &text;
  try {
    exec_body(body);
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return text;
}

Interpreter::Flow Interpreter::exec_body(const Body& body) {
  for (const StmtPtr& s : body) {
    const Flow flow = exec(*s);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec(const Stmt& s) {
  charge(1);
  switch (s.kind) {
    case StmtKind::kText: emit(s.text); return Flow::kNormal;
    case StmtKind::kOutput: {
      const Value v = eval(*s.expr);
      emit(v.str());
      return Flow::kNormal;
    }
    case StmtKind::kIf:
      for (size_t i = 0; i < s.conditions.size(); ++i) {
        if (eval(*s.conditions[i]).truthy()) return exec_body(s.bodies[i]);
      }
      if (s.bodies.size() > s.conditions.size()) return exec_body(s.bodies.back());
      return Flow::kNormal;
    case StmtKind::kFor: return exec_for(s);
    case StmtKind::kSet: exec_set(s); return Flow::kNormal;
    case StmtKind::kSetBlock: {
      Value text(capture(s.bodies[0]));
      if (s.expr) text = eval_filter(*s.expr, &text);
      assign(s.targets[0], std::move(text));
      return Flow::kNormal;
    }
    case StmtKind::kMacro: define_macro(s); return Flow::kNormal;
    case StmtKind::kCallBlock: {
      // caller() renders the block's body in the scopes of the call site.
      const std::vector<DictData*> call_site = scopes_;
      auto caller = std::make_shared<Callable>();
      caller->name = "caller";
      caller->call = [this, &s, call_site](Interpreter&, CallArgs& args) -> Value {
        DictData frame;
        for (size_t i = 0; i < s.targets.size(); ++i) {
          const Value* arg = args.find(i, s.targets[i]);
          frame.set(s.targets[i], arg != nullptr ? *arg : s.defaults[i] ? eval(*s.defaults[i]) : Value::undefined(s.targets[i]));
        }
        std::vector<DictData*> saved = scopes_;
        scopes_ = call_site;
        scopes_.push_back(&frame);
        std::string text;
        try {
          text = capture(s.bodies[0]);
        } catch (...) {
          scopes_ = saved;
          throw;
        }
        scopes_ = saved;
        return Value(std::move(text));
      };
      const Expr& call = *s.expr;
      const Value callee = eval(*call.args[0]);
      CallArgs args;
      eval_args(call, 1, &args);
      args.keyword.emplace_back("caller", Value(caller));
      emit(this->call(callee, args).str());
      return Flow::kNormal;
    }
    case StmtKind::kFilterBlock: {
      const Value text(capture(s.bodies[0]));
      emit(eval_filter(*s.expr, &text).str());
      return Flow::kNormal;
    }
    case StmtKind::kBreak: return Flow::kBreak;
    case StmtKind::kContinue: return Flow::kContinue;
    case StmtKind::kScope: return exec_body(s.bodies[0]);
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec_for(const Stmt& s) {
  const Value iterable = eval(*s.expr);
  std::vector<Value> items = iterate(iterable);
  if (s.condition) {  // the loop filter runs first: loop.length counts what passes
    std::vector<Value> kept;
    for (const Value& item : items) {
      charge(1);
      DictData frame;
      ScopeGuard guard(&scopes_, &frame);
      unpack(s.targets, item);
      if (eval(*s.condition).truthy()) kept.push_back(item);
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    exec_body(s.bodies[1]);
    return Flow::kNormal;
  }
  const auto length = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < length; ++i) {
    charge(1);
    DictData frame;
    ScopeGuard guard(&scopes_, &frame);
    auto loop = std::make_shared<DictData>();
    loop->entries = {
        {"index", Value(i + 1)},
        {"index0", Value(i)},
        {"revindex", Value(length - i)},
        {"revindex0", Value(length - i - 1)},
        {"first", Value(i == 0)},
        {"last", Value(i == length - 1)},
        {"length", Value(length)},
        {"depth", Value(1)},
        {"depth0", Value(0)},
        {"previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item")},
        {"nextitem", i + 1 < length ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item")},
    };
    auto cycle = std::make_shared<Callable>();
    cycle->name = "loop.cycle";
    cycle->call = [i](Interpreter&, CallArgs& args) -> Value {
      if (args.positional.empty()) fail("no items for cycling given");
      return args.positional[static_cast<size_t>(i) % args.positional.size()];
    };
    loop->entries.emplace_back("cycle", Value(cycle));
    frame.set("loop", Value(loop));
    unpack(s.targets, items[static_cast<size_t>(i)]);
    if (exec_body(s.bodies[0]) == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

void Interpreter::exec_set(const Stmt& s) {
  Value v = eval(*s.expr);
  if (s.text.empty()) {
    unpack(s.targets, v);
    return;
  }
  const Value target = lookup(s.targets[0]);
  if (!target.is_namespace()) fail("cannot assign attribute on non-namespace object '" + s.targets[0] + "'");
  target.as_namespace().attrs.set(s.text, std::move(v));
}

void Interpreter::define_macro(const Stmt& s) {
  auto macro = std::make_shared<Callable>();
  macro->name = s.text;
  const Stmt* def = &s;
  macro->call = [def](Interpreter& interp, CallArgs& args) -> Value {
    const Value* caller = nullptr;
    for (const auto& [k, v] : args.keyword) {
      if (k == "caller") caller = &v;
    }
    return interp.call_macro(*def, args, caller);
  };
  assign(s.text, Value(macro));
}

Value Interpreter::call_macro(const Stmt& macro, CallArgs& args, const Value* caller) {
  if (call_depth_ >= limits_.max_call_depth) fail("macro calls nested deeper than " + std::to_string(limits_.max_call_depth));
  charge(1);
  const size_t num_params = macro.targets.size();
  const bool takes_varargs = body_reads(macro.bodies[0], "varargs");
  const bool takes_kwargs = body_reads(macro.bodies[0], "kwargs");
  if (args.positional.size() > num_params && !takes_varargs) {
    fail("macro '" + macro.text + "' takes not more than " + std::to_string(num_params) + " argument(s)");
  }
  DictData frame;
  std::vector<DictData*> saved = std::move(scopes_);
  scopes_ = {saved.front(), &frame};
  ++call_depth_;
  std::string text;
  try {
    std::vector<Value> varargs;
    for (size_t i = num_params; i < args.positional.size(); ++i) varargs.push_back(args.positional[i]);
    auto kwargs = std::make_shared<DictData>();
    for (const auto& [k, v] : args.keyword) {
      if (k == "caller") continue;
      bool is_param = false;
      for (size_t i = 0; i < num_params; ++i) is_param = is_param || macro.targets[i] == k;
      if (!is_param) {
        if (!takes_kwargs) fail("macro '" + macro.text + "' takes no keyword argument '" + k + "'");
        kwargs->set(k, v);
      }
    }
    for (size_t i = 0; i < num_params; ++i) {
      const Value* arg = args.find(i, macro.targets[i]);
      Value v = arg != nullptr        ? *arg
                : macro.defaults[i] ? eval(*macro.defaults[i])
                                    : Value::undefined("parameter '" + macro.targets[i] + "' was not provided");
      frame.set(macro.targets[i], std::move(v));
    }
    frame.set("varargs", Value::list(std::move(varargs), ListStyle::kTuple));
    frame.set("kwargs", Value(kwargs));
    if (caller != nullptr) frame.set("caller", *caller);
    text = capture(macro.bodies[0]);
  } catch (...) {
    --call_depth_;
    scopes_ = std::move(saved);
    throw;
  }
  --call_depth_;
  scopes_ = std::move(saved);
  return Value(std::move(text));
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) fail(callee.as_undefined().hint.empty() ? "call of an undefined value" : callee.as_undefined().hint);
  if (!callee.is_callable()) fail("'" + std::string(callee.type_name()) + "' object is not callable");
  return callee.as_callable().call(*this, args);
}

void Interpreter::eval_args(const Expr& e, size_t first, CallArgs* args) {
  for (size_t i = first; i < e.args.size(); ++i) args->positional.push_back(eval(*e.args[i]));
  for (const auto& [k, v] : e.kwargs) args->keyword.emplace_back(k, eval(*v));
}

Value Interpreter::get_attr(const Value& object, std::string_view name) {
  if (object.is_undefined()) {
    fail(object.as_undefined().hint.empty() ? "attribute '" + std::string(name) + "' of an undefined value" : object.as_undefined().hint);
  }
  if (!name.empty() && name[0] == '_') return Value::undefined("access to '" + std::string(name) + "' is unsafe");
  Value method = bound_method(object, name);
  if (!method.is_undefined()) return method;
  if (object.is_dict()) {
    if (const Value* v = object.as_dict().find(name)) return *v;
    return Value::undefined("'dict object' has no attribute '" + std::string(name) + "'");
  }
  if (object.is_namespace()) {
    if (const Value* v = object.as_namespace().attrs.find(name)) return *v;
  }
  return Value::undefined("'" + std::string(object.type_name()) + " object' has no attribute '" + std::string(name) + "'");
}

Value Interpreter::get_item(const Value& object, const Value& key) {
  if (object.is_undefined()) fail(object.as_undefined().hint.empty() ? "subscript of an undefined value" : object.as_undefined().hint);
  if (object.is_dict()) {
    if (const Value* v = object.as_dict().find_key(key)) return *v;
  }
  if ((object.is_list() && !object.is_generator()) || object.is_string()) {
    if (key.is_int() || key.is_bool()) {
      int64_t index = key.int_value();
      if (object.is_list()) {
        const auto& items = object.as_list().items;
        const auto size = static_cast<int64_t>(items.size());
        if (index < 0) index += size;
        if (index >= 0 && index < size) return items[static_cast<size_t>(index)];
      } else {
        const auto chars = utf8_chars(object.as_string());
        const auto size = static_cast<int64_t>(chars.size());
        if (index < 0) index += size;
        if (index >= 0 && index < size) return Value(chars[static_cast<size_t>(index)]);
      }
      return Value::undefined(std::string(object.type_name()) + " index out of range");
    }
  }
  if (key.is_string()) return get_attr(object, key.as_string());
  return Value::undefined("'" + std::string(object.type_name()) + " object' has no element " + key.repr());
}

Value Interpreter::eval_slice(const Expr& e) {
  const Value object = eval(*e.args[0]);
  if (object.is_undefined()) fail(object.as_undefined().hint);
  std::optional<int64_t> bounds[3];
  for (int i = 0; i < 3; ++i) {
    if (!e.args[1 + static_cast<size_t>(i)]) continue;
    const Value b = eval(*e.args[1 + static_cast<size_t>(i)]);
    if (b.is_none()) continue;
    if (!b.is_int() && !b.is_bool()) fail("slice indices must be integers or None");
    bounds[i] = b.int_value();
  }
  const bool is_list = object.is_list() && !object.is_generator();
  if (!is_list && !object.is_string()) return Value::undefined("object is not sliceable");
  std::vector<std::string_view> chars;
  if (!is_list) chars = utf8_chars(object.as_string());
  const int64_t size = is_list ? static_cast<int64_t>(object.as_list().items.size()) : static_cast<int64_t>(chars.size());
  const int64_t step = bounds[2].value_or(1);
  if (step == 0) fail("slice step cannot be zero");
  // Python's PySlice_AdjustIndices.
  auto adjust = [&](std::optional<int64_t> b, int64_t fallback) {
    if (!b) return fallback;
    int64_t v = *b;
    if (v < 0) {
      v += size;
      if (v < 0) v = step < 0 ? -1 : 0;
    } else if (v >= size) {
      v = step < 0 ? size - 1 : size;
    }
    return v;
  };
  const int64_t start = adjust(bounds[0], step < 0 ? size - 1 : 0);
  const int64_t stop = adjust(bounds[1], step < 0 ? -1 : size);
  std::vector<Value> items;
  std::string text;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (is_list) items.push_back(object.as_list().items[static_cast<size_t>(i)]);
    else text += chars[static_cast<size_t>(i)];
  }
  if (is_list) return Value::list(std::move(items), object.as_list().style);
  return Value(std::move(text));
}

Value Interpreter::eval_filter(const Expr& e, const Value* operand) {
  // A chain "x | f | g" nests as g(f(x)); the innermost operand may be given (filter blocks).
  Value input = e.args[0] ? (e.args[0]->kind == ExprKind::kFilter && operand != nullptr ? eval_filter(*e.args[0], operand) : eval(*e.args[0]))
                          : *operand;
  CallArgs args;
  eval_args(e, 1, &args);
  return apply_filter(*this, e.name, input, args);
}

Value Interpreter::eval_call(const Expr& e) {
  const Value callee = eval(*e.args[0]);
  CallArgs args;
  eval_args(e, 1, &args);
  return call(callee, args);
}

Value Interpreter::eval_compare(const Expr& e) {
  Value left = eval(*e.args[0]);
  for (size_t i = 0; i < e.ops.size(); ++i) {
    Value right = eval(*e.args[i + 1]);
    const std::string& op = e.ops[i];
    bool result = false;
    if (op == "==") result = values_equal(left, right);
    else if (op == "!=") result = !values_equal(left, right);
    else if (op == "<") result = value_less(left, right);
    else if (op == ">") result = value_less(right, left);
    else if (op == "<=") result = !value_less(right, left);
    else if (op == ">=") result = !value_less(left, right);
    else if (op == "in") result = contains(right, left);
    else result = !contains(right, left);
    if (!result) return Value(false);
    left = std::move(right);
  }
  return Value(true);
}

Value Interpreter::eval_binary(const Expr& e) {
  const std::string& op = e.name;
  if (op == "and" || op == "or") {
    Value left = eval(*e.args[0]);
    if (left.truthy() == (op == "or")) return left;
    return eval(*e.args[1]);
  }
  const Value a = eval(*e.args[0]);
  const Value b = eval(*e.args[1]);
  if (op == "~") return Value(checked(a.str() + b.str()));
  if (a.is_undefined() || b.is_undefined()) {
    fail((a.is_undefined() ? a : b).as_undefined().hint.empty() ? "operation on an undefined value" : (a.is_undefined() ? a : b).as_undefined().hint);
  }
  const auto type_error = [&]() -> Value {
    fail("unsupported operand type(s) for " + op + ": '" + std::string(a.type_name()) + "' and '" + std::string(b.type_name()) + "'");
  };
  if (a.is_number() && b.is_number()) {
    const bool ints = !a.is_float() && !b.is_float();
    const int64_t x = ints ? a.int_value() : 0;
    const int64_t y = ints ? b.int_value() : 0;
    const double fx = a.number_value();
    const double fy = b.number_value();
    if (op == "+") return ints ? Value(checked_int(static_cast<__int128>(x) + y)) : Value(fx + fy);
    if (op == "-") return ints ? Value(checked_int(static_cast<__int128>(x) - y)) : Value(fx - fy);
    if (op == "*") return ints ? Value(checked_int(static_cast<__int128>(x) * y)) : Value(fx * fy);
    if (op == "/") {
      if (fy == 0) fail("division by zero");
      return Value(fx / fy);
    }
    if (op == "//") {
      if (ints) return Value(floor_div(x, y));
      if (fy == 0) fail("float floor division by zero");
      return Value(std::floor(fx / fy));
    }
    if (op == "%") {
      if (ints) return Value(python_mod(x, y));
      if (fy == 0) fail("float modulo");
      double r = std::fmod(fx, fy);
      if (r != 0 && ((r < 0) != (fy < 0))) r += fy;
      return Value(r);
    }
    if (op == "**") {
      if (ints && y >= 0) {
        __int128 result = 1;
        for (int64_t i = 0; i < y; ++i) {
          result = checked_int(result * x);
          if (result == 0 || result == 1) break;
          charge(1);
        }
        return Value(checked_int(result));
      }
      return Value(std::pow(fx, fy));
    }
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      if (a.is_markup() || b.is_markup()) {  // Markup + str escapes the str, as markupsafe does
        const std::string left = a.is_markup() ? a.as_string() : html_escape(a.as_string());
        const std::string right = b.is_markup() ? b.as_string() : html_escape(b.as_string());
        return Value::markup(checked(left + right));
      }
      return Value(checked(a.as_string() + b.as_string()));
    }
    if (a.is_list() && b.is_list() && !a.is_generator() && !b.is_generator() && a.as_list().style == b.as_list().style) {
      std::vector<Value> items = a.as_list().items;
      charge(static_cast<int64_t>(items.size() + b.as_list().items.size()));
      items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
      return Value::list(std::move(items), a.as_list().style);
    }
    if (a.is_string() || b.is_string()) fail("can only concatenate str (not \"" + std::string((a.is_string() ? b : a).type_name()) + "\") to str");
    return type_error();
  }
  if (op == "*") {
    const Value& seq = a.is_number() ? b : a;
    const Value& count = a.is_number() ? a : b;
    if ((count.is_int() || count.is_bool()) && (seq.is_string() || (seq.is_list() && !seq.is_generator()))) {
      const int64_t n = std::max<int64_t>(0, count.int_value());
      if (seq.is_string()) {
        if (n > 0 && seq.as_string().size() * static_cast<uint64_t>(n) > limits_.max_output_bytes) checked(std::string(limits_.max_output_bytes + 1, ' '));
        std::string text;
        for (int64_t i = 0; i < n; ++i) text += seq.as_string();
        return Value(checked(text));
      }
      const auto& src = seq.as_list().items;
      charge(static_cast<int64_t>(src.size()) * n);
      std::vector<Value> items;
      for (int64_t i = 0; i < n; ++i) items.insert(items.end(), src.begin(), src.end());
      return Value::list(std::move(items), seq.as_list().style);
    }
  }
  return type_error();
}

Value Interpreter::eval(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kLiteral: return e.literal;
    case ExprKind::kName: return lookup(e.name);
    case ExprKind::kList:
    case ExprKind::kTuple: {
      std::vector<Value> items;
      for (const ExprPtr& a : e.args) items.push_back(eval(*a));
      return Value::list(std::move(items), e.kind == ExprKind::kTuple ? ListStyle::kTuple : ListStyle::kList);
    }
    case ExprKind::kDict: {
      Value dict = Value::dict();
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        const Value key = eval(*e.args[i]);
        if (!key.is_string() && !key.is_number() && !key.is_none() && !(key.is_list() && key.as_list().style == ListStyle::kTuple)) {
          fail("unhashable type: '" + std::string(key.type_name()) + "'");
        }
        dict.as_dict().set(key, eval(*e.args[i + 1]));
      }
      return dict;
    }
    case ExprKind::kGetAttr: return get_attr(eval(*e.args[0]), e.name);
    case ExprKind::kGetItem: {
      const Value object = eval(*e.args[0]);
      return get_item(object, eval(*e.args[1]));
    }
    case ExprKind::kSlice: return eval_slice(e);
    case ExprKind::kCall: return eval_call(e);
    case ExprKind::kFilter: return eval_filter(e, nullptr);
    case ExprKind::kTest: {
      const Value operand = eval(*e.args[0]);
      CallArgs args;
      eval_args(e, 1, &args);
      return Value(apply_test(*this, e.name, operand, args) != e.negated);
    }
    case ExprKind::kUnary: {
      const Value v = eval(*e.args[0]);
      if (e.name == "not") return Value(!v.truthy());
      if (v.is_float()) return Value(e.name == "-" ? -v.as_float() : v.as_float());
      if (v.is_int() || v.is_bool()) return Value(e.name == "-" ? checked_int(-static_cast<__int128>(v.int_value())) : v.int_value());
      if (v.is_undefined()) fail(v.as_undefined().hint);
      fail("bad operand type for unary " + e.name + ": '" + std::string(v.type_name()) + "'");
    }
    case ExprKind::kBinary: return eval_binary(e);
    case ExprKind::kCompare: return eval_compare(e);
    case ExprKind::kCondition:
      if (eval(*e.args[0]).truthy()) return eval(*e.args[1]);
      return e.args[2] ? eval(*e.args[2]) : Value::undefined("the condition was false and there is no else");
  }
  return Value();
}

}  // namespace tessera::jinja
