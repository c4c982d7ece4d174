// Jinja values with Python's semantics (what a chat template sees): none, bool, int, float,
// string, list/tuple, ordered dict, namespace, callable, and Jinja's Undefined. Owns truthiness,
// str()/repr(), equality and ordering; knows nothing about templates or rendering.
//
// NOTE: lists and dicts are shared, not copied, as in Python. That is safe because templates run
// in an immutable sandbox (Hugging Face's ImmutableSandboxedEnvironment): only namespaces mutate.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace tessera::jinja {

class Value;
class Interpreter;
struct CallArgs;

// Raised inside the interpreter for what Python raises (TypeError, UndefinedError,
// raise_exception(...)); Template::render turns it into a Status at the boundary.
class TemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
[[noreturn]] void fail(const std::string& message);

// Jinja's default Undefined: prints as "", iterates as empty, is false; most other uses raise.
struct Undefined {
  std::string hint;  // why it is undefined, e.g. "'x' is undefined", for the error message
};
struct NoneValue {};

enum class ListStyle {
  kList,       // [1, 2]
  kTuple,      // (1, 2): from items(), tuple literals
  kGenerator,  // what map/select/selectattr return in Python: no len(), not JSON, always true
};
struct ListData {
  std::vector<Value> items;
  ListStyle style = ListStyle::kList;
};

// Insertion-ordered dict (Python keeps insertion order too). Keys are strings except in dict
// literals such as {0: 0, 512: 128}; keys that Python considers equal (1, 1.0, True) are one key.
struct DictData {
  std::vector<std::pair<Value, Value>> entries;
  const Value* find(std::string_view key) const;
  const Value* find_key(const Value& key) const;  // by Python equality
  void set(Value key, Value value);
};

// namespace(...): the one mutable object templates have ({% set ns.x = ... %}).
struct NamespaceData {
  DictData attrs;
};

// A macro, a global function or a bound method.
struct Callable {
  std::string name;                                          // for error messages
  std::function<Value(Interpreter&, CallArgs&)> call;
};

class Value {
 public:
  using ListPtr = std::shared_ptr<ListData>;
  using DictPtr = std::shared_ptr<DictData>;
  using NamespacePtr = std::shared_ptr<NamespaceData>;
  using CallablePtr = std::shared_ptr<Callable>;

  Value() : data_(Undefined{}) {}
  Value(NoneValue) : data_(NoneValue{}) {}            // NOLINT: implicit by design
  Value(bool b) : data_(b) {}                         // NOLINT
  Value(int64_t i) : data_(i) {}                      // NOLINT
  Value(int i) : data_(static_cast<int64_t>(i)) {}    // NOLINT
  Value(double d) : data_(d) {}                       // NOLINT
  Value(std::string s) : data_(std::move(s)) {}       // NOLINT
  Value(const char* s) : data_(std::string(s)) {}     // NOLINT
  Value(std::string_view s) : data_(std::string(s)) {}  // NOLINT
  // A markupsafe.Markup string (from |safe or |escape): `+` with a plain str escapes the str.
  static Value markup(std::string s) {
    Value v(std::move(s));
    v.markup_ = true;
    return v;
  }
  bool is_markup() const { return markup_ && is_string(); }
  Value(Undefined u) : data_(std::move(u)) {}         // NOLINT
  Value(ListPtr l) : data_(std::move(l)) {}           // NOLINT
  Value(DictPtr d) : data_(std::move(d)) {}           // NOLINT
  Value(NamespacePtr n) : data_(std::move(n)) {}      // NOLINT
  Value(CallablePtr c) : data_(std::move(c)) {}       // NOLINT

  static Value none() { return Value(NoneValue{}); }
  static Value undefined(std::string hint) { return Value(Undefined{std::move(hint)}); }
  static Value list(std::vector<Value> items, ListStyle style = ListStyle::kList);
  static Value dict() { return Value(std::make_shared<DictData>()); }

  bool is_undefined() const { return std::holds_alternative<Undefined>(data_); }
  bool is_none() const { return std::holds_alternative<NoneValue>(data_); }
  bool is_bool() const { return std::holds_alternative<bool>(data_); }
  bool is_int() const { return std::holds_alternative<int64_t>(data_); }
  bool is_float() const { return std::holds_alternative<double>(data_); }
  bool is_number() const { return is_int() || is_float() || is_bool(); }  // Python: bool is an int
  bool is_string() const { return std::holds_alternative<std::string>(data_); }
  bool is_list() const { return std::holds_alternative<ListPtr>(data_); }
  bool is_dict() const { return std::holds_alternative<DictPtr>(data_); }
  bool is_namespace() const { return std::holds_alternative<NamespacePtr>(data_); }
  bool is_callable() const { return std::holds_alternative<CallablePtr>(data_); }
  bool is_generator() const { return is_list() && as_list().style == ListStyle::kGenerator; }

  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const { return std::get<int64_t>(data_); }
  double as_float() const { return std::get<double>(data_); }
  const std::string& as_string() const { return std::get<std::string>(data_); }
  ListData& as_list() const { return *std::get<ListPtr>(data_); }
  DictData& as_dict() const { return *std::get<DictPtr>(data_); }
  NamespaceData& as_namespace() const { return *std::get<NamespacePtr>(data_); }
  Callable& as_callable() const { return *std::get<CallablePtr>(data_); }
  const Undefined& as_undefined() const { return std::get<Undefined>(data_); }

  // Python int value of an int or bool; a float as a double.
  int64_t int_value() const { return is_bool() ? (as_bool() ? 1 : 0) : as_int(); }
  double number_value() const { return is_float() ? as_float() : static_cast<double>(int_value()); }

  bool truthy() const;
  std::string str() const;   // Python str(); Undefined is ""
  std::string repr() const;  // Python repr(), used inside containers
  // Python's type name, for error messages: 'str', 'NoneType', 'dict', ...
  std::string_view type_name() const;

 private:
  std::variant<Undefined, NoneValue, bool, int64_t, double, std::string, ListPtr, DictPtr, NamespacePtr,
               CallablePtr>
      data_;
  bool markup_ = false;
};

// Python ==: 1 == 1.0 == True; lists and dicts compare element-wise; two Undefineds are equal.
bool values_equal(const Value& a, const Value& b);
// Python <: numbers with numbers, strings by code point, lists lexicographically; else TypeError.
bool value_less(const Value& a, const Value& b);
// Python repr() of a float: shortest round-trip digits, "1.0", "1e+16", "inf", "nan".
std::string python_float_repr(double d);
// Python repr() of a string: quoted with ' (or " when it holds ' and no "), escapes as Python.
std::string python_string_repr(std::string_view s);

// The elements a for loop visits: list items, dict keys, string characters (UTF-8 code points);
// Undefined is empty. Anything else is a TypeError.
std::vector<Value> iterate(const Value& v);

// UTF-8 helpers: strings are indexed, sliced and measured in code points as in Python.
std::vector<std::string_view> utf8_chars(std::string_view s);
size_t utf8_length(std::string_view s);
void append_utf8(std::string& out, uint32_t code_point);

}  // namespace tessera::jinja
