// Jinja's built-in filters, tests, global functions and the Python methods templates call on
// strings, dicts and lists (str.strip, dict.get, ...), with Jinja2 3.1 / Python semantics.
#pragma once

#include <string_view>

#include "chat/jinja/interpreter.h"
#include "chat/jinja/value.h"

namespace tessera::jinja {

// `operand | name(args)`. An unknown filter is a TemplateError when reached.
Value apply_filter(Interpreter& interp, std::string_view name, const Value& operand, CallArgs& args);
// `operand is name(args)`.
bool apply_test(Interpreter& interp, std::string_view name, const Value& operand, CallArgs& args);
// `receiver.name` for a Python method of a str, dict or list: a callable bound to the receiver,
// or Undefined when there is no such method. Methods that mutate lists and dicts raise when
// called, as in Hugging Face's immutable sandbox.
Value bound_method(const Value& receiver, std::string_view name);
// range, dict, namespace, raise_exception, strftime_now.
void add_globals(DictData* scope);
// Python's `item in container`.
bool contains(const Value& container, const Value& item);

}  // namespace tessera::jinja
