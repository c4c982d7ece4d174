// Python methods that templates call on values: str.strip/split/startswith/format/..., dict.get/
// items/keys/values, list.index/count. List and dict mutators raise, as in the immutable sandbox.
#include <algorithm>
#include <cctype>

#include "chat/jinja/builtins.h"
#include "chat/jinja/string_util.h"

namespace tessera::jinja {
namespace {

using Method = Value (*)(Interpreter&, const Value& self, CallArgs& args);

std::string string_arg(const CallArgs& args, size_t index, std::string_view name, std::string_view method) {
  const Value* v = args.find(index, name);
  if (v == nullptr || !v->is_string()) fail(std::string(method) + "() needs a string argument");
  return v->as_string();
}

// strip/lstrip/rstrip: chars=None strips whitespace.
Value strip_method(const Value& self, CallArgs& args, bool left, bool right) {
  const Value chars = args.get(0, "chars", Value::none());
  if (!chars.is_none() && !chars.is_string()) fail("strip arg must be None or str");
  return Value(python_strip(self.as_string(), chars.is_none() ? nullptr : &chars.as_string(), left, right));
}

Value split_method(Interpreter& interp, const Value& self, CallArgs& args, bool from_right) {
  const Value sep = args.get(0, "sep", Value::none());
  const Value maxsplit = args.get(1, "maxsplit", Value(-1));
  if (!sep.is_none() && !sep.is_string()) fail("split: separator must be a string or None");
  if (!maxsplit.is_int()) fail("split: maxsplit must be an integer");
  std::vector<std::string> parts =
      python_split(self.as_string(), sep.is_none() ? nullptr : &sep.as_string(), maxsplit.as_int(), from_right);
  interp.charge(static_cast<int64_t>(parts.size()));
  std::vector<Value> items;
  items.reserve(parts.size());
  for (std::string& p : parts) items.emplace_back(std::move(p));
  return Value::list(std::move(items));
}

// startswith/endswith(prefix or tuple of prefixes)
Value affix_method(const Value& self, CallArgs& args, bool prefix) {
  const Value* arg = args.find(0, "prefix");
  if (arg == nullptr) fail("startswith/endswith need an argument");
  std::vector<Value> options = arg->is_list() ? arg->as_list().items : std::vector<Value>{*arg};
  const std::string& s = self.as_string();
  for (const Value& o : options) {
    if (!o.is_string()) fail("startswith/endswith arguments must be strings");
    if (prefix ? s.starts_with(o.as_string()) : s.ends_with(o.as_string())) return Value(true);
  }
  return Value(false);
}

Value format_method(Interpreter& interp, const Value& self, CallArgs& args) {
  const std::string& f = self.as_string();
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    const char c = f[i];
    if (c == '}') {
      if (i + 1 < f.size() && f[i + 1] == '}') ++i;
      else fail("Single '}' encountered in format string");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t close = f.find('}', i);
    if (close == std::string::npos) fail("Single '{' encountered in format string");
    const std::string field = f.substr(i + 1, close - i - 1);
    if (field.find_first_of(":!.[") != std::string::npos) fail("format(): only plain {} fields are supported");
    const Value* v = nullptr;
    if (field.empty()) {
      v = auto_index < args.positional.size() ? &args.positional[auto_index] : nullptr;
      ++auto_index;
    } else if (std::all_of(field.begin(), field.end(), [](char d) { return std::isdigit(static_cast<unsigned char>(d)); })) {
      const size_t index = std::stoul(field.substr(0, 9));
      v = index < args.positional.size() ? &args.positional[index] : nullptr;
    } else {
      v = args.find(SIZE_MAX, field);
    }
    if (v == nullptr) fail("format(): no argument for field {" + field + "}");
    out += v->str();
    interp.checked(out);
    i = close;
  }
  return Value(std::move(out));
}

Value find_method(const Value& self, CallArgs& args, bool reverse) {
  const std::string sub = string_arg(args, 0, "sub", "find");
  const size_t pos = reverse ? self.as_string().rfind(sub) : self.as_string().find(sub);
  if (pos == std::string::npos) return Value(-1);
  return Value(static_cast<int64_t>(utf8_length(std::string_view(self.as_string()).substr(0, pos))));
}

Value unsafe_method(const Value& self, std::string_view name) {
  fail("access to attribute '" + std::string(name) + "' of '" + std::string(self.type_name()) + "' object is unsafe.");
}

Value string_method(Interpreter& interp, const Value& self, std::string_view name, CallArgs& args) {
  const std::string& s = self.as_string();
  if (name == "strip") return strip_method(self, args, true, true);
  if (name == "lstrip") return strip_method(self, args, true, false);
  if (name == "rstrip") return strip_method(self, args, false, true);
  if (name == "split") return split_method(interp, self, args, false);
  if (name == "rsplit") return split_method(interp, self, args, true);
  if (name == "startswith") return affix_method(self, args, true);
  if (name == "endswith") return affix_method(self, args, false);
  if (name == "lower") return Value(ascii_lower(s));
  if (name == "upper") return Value(ascii_upper(s));
  if (name == "title") return Value(python_title(s));
  if (name == "capitalize") return Value(python_capitalize(s));
  if (name == "replace") {
    const Value count = args.get(2, "count", Value(-1));
    if (!count.is_int()) fail("replace(): count must be an integer");
    return Value(interp.checked(python_replace(s, string_arg(args, 0, "old", "replace"), string_arg(args, 1, "new", "replace"), count.as_int())));
  }
  if (name == "find") return find_method(self, args, false);
  if (name == "rfind") return find_method(self, args, true);
  if (name == "count") {
    const std::string sub = string_arg(args, 0, "sub", "count");
    if (sub.empty()) return Value(static_cast<int64_t>(utf8_length(s) + 1));
    int64_t n = 0;
    for (size_t pos = s.find(sub); pos != std::string::npos; pos = s.find(sub, pos + sub.size())) ++n;
    return Value(n);
  }
  if (name == "join") {
    std::string out;
    bool first = true;
    for (const Value& item : iterate(args.get(0, "iterable", Value::list({})))) {
      if (!item.is_string()) fail("sequence item: expected str instance, " + std::string(item.type_name()) + " found");
      if (!first) out += s;
      first = false;
      out += item.as_string();
      interp.checked(out);
    }
    return Value(std::move(out));
  }
  if (name == "format") return format_method(interp, self, args);
  if (name == "splitlines") {
    std::vector<Value> lines;
    for (std::string& line : python_splitlines(s)) lines.emplace_back(std::move(line));
    return Value::list(std::move(lines));
  }
  auto all_chars = [&](int (*pred)(int)) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [pred](char c) { return pred(static_cast<unsigned char>(c)) != 0; });
  };
  if (name == "isdigit") return Value(all_chars(std::isdigit));
  if (name == "isalpha") return Value(all_chars(std::isalpha));
  if (name == "isalnum") return Value(all_chars(std::isalnum));
  if (name == "isspace") return Value(all_chars(std::isspace));
  if (name == "islower") return Value(ascii_lower(s) == s && ascii_upper(s) != s);
  if (name == "isupper") return Value(ascii_upper(s) == s && ascii_lower(s) != s);
  fail("str has no method " + std::string(name));
}

Value dict_method(const Value& self, std::string_view name, CallArgs& args) {
  const DictData& dict = self.as_dict();
  if (name == "get") {
    const Value key = args.get(0, "key", Value::none());
    const Value* v = dict.find_key(key);
    return v != nullptr ? *v : args.get(1, "default", Value::none());
  }
  std::vector<Value> items;
  for (const auto& [k, v] : dict.entries) {
    if (name == "items") items.push_back(Value::list({k, v}, ListStyle::kTuple));
    else if (name == "keys") items.push_back(k);
    else if (name == "values") items.push_back(v);
  }
  if (name == "copy") {
    auto copy = std::make_shared<DictData>(dict);
    return Value(copy);
  }
  return Value::list(std::move(items));
}

Value list_method(const Value& self, std::string_view name, CallArgs& args) {
  const auto& items = self.as_list().items;
  const Value x = args.get(0, "value", Value());
  if (name == "index") {
    for (size_t i = 0; i < items.size(); ++i) {
      if (values_equal(items[i], x)) return Value(static_cast<int64_t>(i));
    }
    fail(x.repr() + " is not in list");
  }
  if (name == "count") {
    return Value(static_cast<int64_t>(std::count_if(items.begin(), items.end(), [&](const Value& v) { return values_equal(v, x); })));
  }
  return Value::list(items, self.as_list().style);  // copy
}

bool is_one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

Value bound_method(const Value& receiver, std::string_view name) {
  enum class Kind { kString, kDict, kList, kUnsafe } kind;
  if (receiver.is_string() &&
      is_one_of(name, {"strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith", "lower", "upper",
                       "title", "capitalize", "replace", "find", "rfind", "count", "join", "format", "splitlines",
                       "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper"})) {
    kind = Kind::kString;
  } else if (receiver.is_dict() && is_one_of(name, {"get", "items", "keys", "values", "copy"})) {
    kind = Kind::kDict;
  } else if (receiver.is_dict() && is_one_of(name, {"pop", "popitem", "update", "setdefault", "clear"})) {
    kind = Kind::kUnsafe;
  } else if (receiver.is_list() && !receiver.is_generator() && is_one_of(name, {"index", "count", "copy"})) {
    kind = Kind::kList;
  } else if (receiver.is_list() && !receiver.is_generator() &&
             is_one_of(name, {"append", "pop", "insert", "remove", "extend", "sort", "reverse", "clear"})) {
    kind = Kind::kUnsafe;
  } else {
    return Value::undefined("");
  }
  auto method = std::make_shared<Callable>();
  method->name = std::string(name);
  method->call = [receiver, kind, name = std::string(name)](Interpreter& interp, CallArgs& args) -> Value {
    switch (kind) {
      case Kind::kString: return string_method(interp, receiver, name, args);
      case Kind::kDict: return dict_method(receiver, name, args);
      case Kind::kList: return list_method(receiver, name, args);
      case Kind::kUnsafe: return unsafe_method(receiver, name);
    }
    return Value();
  };
  return Value(method);
}

}  // namespace tessera::jinja
