// Jinja tests (`is defined`, `is string`, ...), global functions and Python's `in`.
#include "chat/jinja/builtins.h"

#include <ctime>

#include "chat/jinja/string_util.h"

namespace tessera::jinja {
namespace {

Value make_callable(std::string name, std::function<Value(Interpreter&, CallArgs&)> fn) {
  auto c = std::make_shared<Callable>();
  c->name = std::move(name);
  c->call = std::move(fn);
  return Value(c);
}

constexpr int64_t kMaxRange = 100000;  // the sandbox's MAX_RANGE

Value range_global(Interpreter& interp, CallArgs& args) {
  std::vector<int64_t> bounds;
  for (const Value& v : args.positional) {
    if (!v.is_int() && !v.is_bool()) fail("range() arguments must be integers");
    bounds.push_back(v.int_value());
  }
  if (bounds.empty() || bounds.size() > 3) fail("range expected 1 to 3 arguments");
  const int64_t start = bounds.size() == 1 ? 0 : bounds[0];
  const int64_t stop = bounds.size() == 1 ? bounds[0] : bounds[1];
  const int64_t step = bounds.size() == 3 ? bounds[2] : 1;
  if (step == 0) fail("range() arg 3 must not be zero");
  std::vector<Value> items;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (static_cast<int64_t>(items.size()) >= kMaxRange) fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    items.emplace_back(i);
  }
  interp.charge(static_cast<int64_t>(items.size()));
  return Value::list(std::move(items));
}

Value strftime_global(Interpreter& interp, CallArgs& args) {
  const Value format = args.get(0, "format", Value(""));
  if (!format.is_string()) fail("strftime_now() needs a format string");
  if (format.as_string().size() > 256) fail("strftime_now(): format too long");
  char buf[4096];
  const size_t n = std::strftime(buf, sizeof buf, format.as_string().c_str(), &interp.now());
  return Value(std::string(buf, n));
}

bool sequence_like(const Value& v) {
  return v.is_undefined() || v.is_string() || v.is_dict() || (v.is_list() && !v.is_generator());
}

const Value& test_arg(const CallArgs& args, std::string_view test) {
  if (args.positional.empty()) fail("test '" + std::string(test) + "' needs an argument");
  return args.positional[0];
}

}  // namespace

bool contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) fail("'in <string>' requires string as left operand, not " + std::string(item.type_name()));
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_dict()) return container.as_dict().find_key(item) != nullptr;
  if (container.is_undefined()) return false;
  if (container.is_list()) {
    for (const Value& v : container.as_list().items) {
      if (values_equal(v, item)) return true;
    }
    return false;
  }
  fail("argument of type '" + std::string(container.type_name()) + "' is not iterable");
}

bool apply_test(Interpreter& interp, std::string_view name, const Value& v, CallArgs& args) {
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return sequence_like(v) || v.is_generator();
  if (name == "sequence") return sequence_like(v);
  if (name == "callable") return v.is_callable();
  if (name == "escaped") return false;
  if (name == "lower") return v.is_string() && ascii_lower(v.as_string()) == v.as_string();
  if (name == "upper") return v.is_string() && ascii_upper(v.as_string()) == v.as_string();
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (!v.is_int() && !v.is_bool()) fail("test '" + std::string(name) + "' needs an integer");
    if (name == "divisibleby") {
      const Value& d = test_arg(args, name);
      if (!d.is_int() || d.as_int() == 0) fail("divisibleby needs a non-zero integer");
      return v.int_value() % d.as_int() == 0;
    }
    return (v.int_value() % 2 != 0) == (name == "odd");
  }
  if (name == "sameas") {
    const Value& other = test_arg(args, name);
    if (v.is_none() || v.is_bool() || other.is_none() || other.is_bool()) return v.type_name() == other.type_name() && values_equal(v, other);
    if ((v.is_list() && other.is_list()) || (v.is_dict() && other.is_dict()) || (v.is_namespace() && other.is_namespace())) {
      return values_equal(v, other) && v.str() == other.str();
    }
    return false;
  }
  if (name == "eq" || name == "equalto" || name == "==") return values_equal(v, test_arg(args, name));
  if (name == "ne" || name == "!=") return !values_equal(v, test_arg(args, name));
  if (name == "lt" || name == "lessthan" || name == "<") return value_less(v, test_arg(args, name));
  if (name == "gt" || name == "greaterthan" || name == ">") return value_less(test_arg(args, name), v);
  if (name == "le" || name == "<=") return !value_less(test_arg(args, name), v);
  if (name == "ge" || name == ">=") return !value_less(v, test_arg(args, name));
  if (name == "in") return contains(test_arg(args, name), v);
  (void)interp;
  fail("No test named '" + std::string(name) + "'.");
}

void add_globals(DictData* scope) {
  scope->set("range", make_callable("range", range_global));
  scope->set("strftime_now", make_callable("strftime_now", strftime_global));
  scope->set("raise_exception", make_callable("raise_exception", [](Interpreter&, CallArgs& args) -> Value {
               fail(args.get(0, "message", Value("")).str());
             }));
  scope->set("dict", make_callable("dict", [](Interpreter&, CallArgs& args) -> Value {
               Value d = Value::dict();
               if (!args.positional.empty()) {
                 if (!args.positional[0].is_dict()) fail("dict(): only a mapping or keyword arguments are supported");
                 d.as_dict() = args.positional[0].as_dict();
               }
               for (const auto& [k, v] : args.keyword) d.as_dict().set(Value(k), v);
               return d;
             }));
  scope->set("namespace", make_callable("namespace", [](Interpreter&, CallArgs& args) -> Value {
               auto ns = std::make_shared<NamespaceData>();
               if (!args.positional.empty() && args.positional[0].is_dict()) ns->attrs = args.positional[0].as_dict();
               for (const auto& [k, v] : args.keyword) ns->attrs.set(Value(k), v);
               return Value(ns);
             }));
}

}  // namespace tessera::jinja
