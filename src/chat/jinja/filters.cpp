// Jinja2 3.1's built-in filters (jinja2/filters.py) that chat templates use, plus Hugging Face's
// tojson (json.dumps with ensure_ascii=False). map/select/reject/selectattr/rejectattr/unique/
// items return generators in Jinja2, and so do they here: no length, not JSON, always true.
#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstdlib>

#include "chat/jinja/builtins.h"
#include "chat/jinja/json.h"
#include "chat/jinja/string_util.h"

namespace tessera::jinja {
namespace {

// Jinja's attribute getter: "a.b.0" looks up each part with getitem (digits as integers).
Value get_path(Interpreter& interp, const Value& item, const Value& attribute) {
  if (attribute.is_int()) return interp.get_item(item, attribute);
  if (!attribute.is_string()) fail("attribute must be a string");
  Value v = item;
  std::string_view path = attribute.as_string();
  while (true) {
    const size_t dot = path.find('.');
    const std::string part(path.substr(0, dot));
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    v = interp.get_item(v, digits ? Value(static_cast<int64_t>(std::atoll(part.c_str()))) : Value(part));
    if (dot == std::string_view::npos) return v;
    path.remove_prefix(dot + 1);
  }
}

int64_t length_of(const Value& v) {
  if (v.is_undefined()) return 0;
  if (v.is_string()) return static_cast<int64_t>(utf8_length(v.as_string()));
  if (v.is_list() && !v.is_generator()) return static_cast<int64_t>(v.as_list().items.size());
  if (v.is_dict()) return static_cast<int64_t>(v.as_dict().entries.size());
  if (v.is_namespace()) return static_cast<int64_t>(v.as_namespace().attrs.entries.size());
  fail("object of type '" + std::string(v.type_name()) + "' has no len()");
}

// select/reject/selectattr/rejectattr: args are [attribute,] test name, test arguments.
Value select(Interpreter& interp, const Value& operand, CallArgs& args, bool with_attribute, bool keep) {
  size_t next = 0;
  Value attribute;
  if (with_attribute) {
    if (args.positional.empty()) fail("selectattr/rejectattr need an attribute");
    attribute = args.positional[next++];
  }
  std::string test;
  if (next < args.positional.size()) {
    if (!args.positional[next].is_string()) fail("the test name must be a string");
    test = args.positional[next++].as_string();
  }
  CallArgs test_args;
  test_args.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(next), args.positional.end());
  std::vector<Value> kept;
  if (!operand.truthy()) return Value::list({}, ListStyle::kGenerator);  // Jinja: "if value:"
  for (const Value& item : iterate(operand)) {
    interp.charge(1);
    const Value subject = with_attribute ? get_path(interp, item, attribute) : item;
    const bool passes = test.empty() ? subject.truthy() : apply_test(interp, test, subject, test_args);
    if (passes == keep) kept.push_back(item);
  }
  return Value::list(std::move(kept), ListStyle::kGenerator);
}

Value map_filter(Interpreter& interp, const Value& operand, CallArgs& args) {
  std::vector<Value> out;
  if (!operand.truthy()) return Value::list({}, ListStyle::kGenerator);  // Jinja: "if value:"
  const Value* attribute = args.find(SIZE_MAX, "attribute");
  if (attribute != nullptr) {
    const Value* fallback = args.find(SIZE_MAX, "default");
    for (const Value& item : iterate(operand)) {
      interp.charge(1);
      Value v = get_path(interp, item, *attribute);
      if (v.is_undefined() && fallback != nullptr) v = *fallback;
      out.push_back(std::move(v));
    }
  } else {
    if (args.positional.empty() || !args.positional[0].is_string()) fail("map needs a filter name or attribute=");
    const std::string filter = args.positional[0].as_string();
    CallArgs filter_args;
    filter_args.positional.assign(args.positional.begin() + 1, args.positional.end());
    filter_args.keyword = args.keyword;
    for (const Value& item : iterate(operand)) {
      interp.charge(1);
      out.push_back(apply_filter(interp, filter, item, filter_args));
    }
  }
  return Value::list(std::move(out), ListStyle::kGenerator);
}

// The key sort/unique/min/max/dictsort compare by: lower-cased strings unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  return !case_sensitive && v.is_string() ? Value(ascii_lower(v.as_string())) : v;
}

Value sort_filter(Interpreter& interp, const Value& operand, CallArgs& args) {
  const bool reverse = args.get(0, "reverse", Value(false)).truthy();
  const bool case_sensitive = args.get(1, "case_sensitive", Value(false)).truthy();
  const Value attribute = args.get(2, "attribute", Value::none());
  std::vector<Value> items = iterate(operand);
  std::vector<std::pair<Value, Value>> keyed;
  for (Value& item : items) {
    Value key = attribute.is_none() ? item : get_path(interp, item, attribute);
    keyed.emplace_back(sort_key(key, case_sensitive), std::move(item));
  }
  std::stable_sort(keyed.begin(), keyed.end(), [reverse](const auto& a, const auto& b) {
    return reverse ? value_less(b.first, a.first) : value_less(a.first, b.first);
  });
  std::vector<Value> out;
  for (auto& [k, v] : keyed) out.push_back(std::move(v));
  return Value::list(std::move(out));
}

Value dictsort_filter(const Value& operand, CallArgs& args) {
  if (!operand.is_dict()) fail("dictsort: value is not a dict");
  const bool case_sensitive = args.get(0, "case_sensitive", Value(false)).truthy();
  const Value by = args.get(1, "by", Value("key"));
  const bool reverse = args.get(2, "reverse", Value(false)).truthy();
  const bool by_value = by.is_string() && by.as_string() == "value";
  std::vector<Value> items;
  for (const auto& [k, v] : operand.as_dict().entries) items.push_back(Value::list({k, v}, ListStyle::kTuple));
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    const Value& x = a.as_list().items[by_value ? 1 : 0];
    const Value& y = b.as_list().items[by_value ? 1 : 0];
    return reverse ? value_less(sort_key(y, case_sensitive), sort_key(x, case_sensitive))
                   : value_less(sort_key(x, case_sensitive), sort_key(y, case_sensitive));
  });
  return Value::list(std::move(items));
}

Value unique_filter(Interpreter& interp, const Value& operand, CallArgs& args) {
  const bool case_sensitive = args.get(0, "case_sensitive", Value(false)).truthy();
  const Value attribute = args.get(1, "attribute", Value::none());
  std::vector<Value> seen;
  std::vector<Value> out;
  for (const Value& item : iterate(operand)) {
    const Value key = sort_key(attribute.is_none() ? item : get_path(interp, item, attribute), case_sensitive);
    bool duplicate = false;
    for (const Value& s : seen) duplicate = duplicate || values_equal(s, key);
    interp.charge(static_cast<int64_t>(seen.size()) + 1);
    if (!duplicate) {
      seen.push_back(key);
      out.push_back(item);
    }
  }
  return Value::list(std::move(out), ListStyle::kGenerator);
}

Value min_max_filter(Interpreter& interp, const Value& operand, CallArgs& args, bool want_max) {
  const bool case_sensitive = args.get(0, "case_sensitive", Value(false)).truthy();
  const Value attribute = args.get(1, "attribute", Value::none());
  std::vector<Value> items = iterate(operand);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  auto key = [&](size_t i) { return sort_key(attribute.is_none() ? items[i] : get_path(interp, items[i], attribute), case_sensitive); };
  for (size_t i = 1; i < items.size(); ++i) {
    if (want_max ? value_less(key(best), key(i)) : value_less(key(i), key(best))) best = i;
  }
  return items[best];
}

Value tojson_filter(Interpreter& interp, const Value& operand, CallArgs& args) {
  JsonDumpOptions options;
  const Value indent = args.get(0, "indent", Value::none());
  if (indent.is_int()) options.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(indent.as_int(), 0, 1000)), ' ');
  else if (indent.is_string()) options.indent = indent.as_string();
  else if (!indent.is_none()) fail("tojson: indent must be an integer or a string");
  const Value separators = args.get(SIZE_MAX, "separators", Value::none());
  if (separators.is_list() && separators.as_list().items.size() == 2) {
    options.item_separator = separators.as_list().items[0].str();
    options.key_separator = separators.as_list().items[1].str();
  }
  options.sort_keys = args.get(SIZE_MAX, "sort_keys", Value(false)).truthy();
  options.ensure_ascii = args.get(SIZE_MAX, "ensure_ascii", Value(false)).truthy();
  return Value(interp.checked(to_json(operand, options)));
}

// Jinja's indent: the first line is not indented unless first=True; blank lines only with blank=True.
Value indent_filter(const Value& operand, CallArgs& args) {
  const Value width = args.get(0, "width", Value(4));
  const bool first = args.get(1, "first", Value(false)).truthy();
  const bool blank = args.get(2, "blank", Value(false)).truthy();
  const std::string indention = width.is_string() ? width.as_string() : std::string(static_cast<size_t>(std::clamp<int64_t>(width.is_int() ? width.as_int() : 4, 0, 1000)), ' ');
  std::vector<std::string> lines = python_splitlines(operand.str() + "\n");
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += "\n";
    if (i > 0 && (blank || !lines[i].empty())) out += indention;
    out += lines[i];
  }
  if (first) out = indention + out;
  return Value(std::move(out));
}

Value int_filter(const Value& operand, CallArgs& args) {
  const Value fallback = args.get(0, "default", Value(0));
  if (operand.is_int() || operand.is_bool()) return Value(operand.int_value());
  if (operand.is_float()) {
    const double d = operand.as_float();
    if (!std::isfinite(d) || std::fabs(d) > 9.2e18) return fallback;
    return Value(static_cast<int64_t>(d));
  }
  if (operand.is_string()) {
    const std::string s = python_strip(operand.as_string(), nullptr, true, true);
    char* end = nullptr;
    errno = 0;
    const long long i = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end != nullptr && *end == '\0' && errno == 0) return Value(static_cast<int64_t>(i));
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end != nullptr && *end == '\0' && std::isfinite(d) && std::fabs(d) < 9.2e18) return Value(static_cast<int64_t>(d));
  }
  return fallback;
}

}  // namespace

Value apply_filter(Interpreter& interp, std::string_view name, const Value& operand, CallArgs& args) {
  if (name == "length" || name == "count") return Value(length_of(operand));
  if (name == "default" || name == "d") {
    const bool boolean = args.get(1, "boolean", Value(false)).truthy();
    if (operand.is_undefined() || (boolean && !operand.truthy())) return args.get(0, "default_value", Value(""));
    return operand;
  }
  if (name == "tojson") return tojson_filter(interp, operand, args);
  if (name == "string") return operand.is_string() ? operand : Value(interp.checked(operand.str()));
  if (name == "safe") return Value::markup(interp.checked(operand.str()));
  if (name == "trim") {
    const Value chars = args.get(0, "chars", Value::none());
    return Value(python_strip(operand.str(), chars.is_string() ? &chars.as_string() : nullptr, true, true));
  }
  if (name == "upper") return Value(ascii_upper(operand.str()));
  if (name == "lower") return Value(ascii_lower(operand.str()));
  if (name == "capitalize") return Value(python_capitalize(operand.str()));
  if (name == "title") return Value(python_title(operand.str()));
  if (name == "escape" || name == "e") return operand.is_markup() ? operand : Value::markup(html_escape(operand.str()));
  if (name == "replace") {
    const Value count = args.get(2, "count", Value::none());
    return Value(interp.checked(python_replace(operand.str(), args.get(0, "old", Value("")).str(), args.get(1, "new", Value("")).str(),
                                               count.is_int() ? count.as_int() : -1)));
  }
  if (name == "join") {
    const std::string separator = args.get(0, "d", Value("")).str();
    const Value attribute = args.get(1, "attribute", Value::none());
    std::string out;
    bool first = true;
    for (const Value& item : iterate(operand)) {
      if (!first) out += separator;
      first = false;
      out += (attribute.is_none() ? item : get_path(interp, item, attribute)).str();
      interp.checked(out);
    }
    return Value(std::move(out));
  }
  if (name == "items") {
    if (operand.is_undefined()) return Value::list({}, ListStyle::kGenerator);
    if (!operand.is_dict()) fail("can only get item pairs from a mapping.");
    std::vector<Value> items;
    for (const auto& [k, v] : operand.as_dict().entries) items.push_back(Value::list({k, v}, ListStyle::kTuple));
    return Value::list(std::move(items), ListStyle::kGenerator);
  }
  if (name == "list") return Value::list(iterate(operand));
  if (name == "first") {
    if (operand.is_string()) return operand.as_string().empty() ? Value::undefined("No first item") : Value(utf8_chars(operand.as_string())[0]);
    std::vector<Value> items = iterate(operand);
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items[0];
  }
  if (name == "last") {
    if (operand.is_generator()) fail("'generator' object is not reversible");
    std::vector<Value> items = iterate(operand);
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
  }
  if (name == "reverse") {
    if (operand.is_string()) {
      std::vector<std::string_view> chars = utf8_chars(operand.as_string());
      std::string out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
      return Value(std::move(out));
    }
    std::vector<Value> items = iterate(operand);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items), ListStyle::kGenerator);
  }
  if (name == "select" || name == "reject") return select(interp, operand, args, false, name == "select");
  if (name == "selectattr" || name == "rejectattr") return select(interp, operand, args, true, name == "selectattr");
  if (name == "map") return map_filter(interp, operand, args);
  if (name == "sort") return sort_filter(interp, operand, args);
  if (name == "dictsort") return dictsort_filter(operand, args);
  if (name == "unique") return unique_filter(interp, operand, args);
  if (name == "min" || name == "max") return min_max_filter(interp, operand, args, name == "max");
  if (name == "indent") return Value(interp.checked(indent_filter(operand, args).as_string()));
  if (name == "int") return int_filter(operand, args);
  if (name == "float") {
    if (operand.is_number()) return Value(operand.number_value());
    if (operand.is_string()) {
      char* end = nullptr;
      const std::string s = python_strip(operand.as_string(), nullptr, true, true);
      const double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && *end == '\0') return Value(d);
    }
    return args.get(0, "default", Value(0.0));
  }
  if (name == "abs") {
    if (operand.is_float()) return Value(std::fabs(operand.as_float()));
    if (operand.is_int() || operand.is_bool()) {
      if (operand.int_value() == INT64_MIN) fail("integer result out of range");
      return Value(std::abs(operand.int_value()));
    }
    fail("bad operand type for abs()");
  }
  if (name == "round") {
    const Value precision = args.get(0, "precision", Value(0));
    const std::string method = args.get(1, "method", Value("common")).str();
    const double scale = std::pow(10.0, static_cast<double>(precision.is_int() ? std::clamp<int64_t>(precision.as_int(), -300, 300) : 0));
    const double x = operand.number_value() * scale;
    const double r = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::nearbyint(x);
    return Value(r / scale);
  }
  if (name == "sum") {
    const Value attribute = args.get(0, "attribute", Value::none());
    Value total = args.get(1, "start", Value(0));
    for (const Value& item : iterate(operand)) {
      const Value v = attribute.is_none() ? item : get_path(interp, item, attribute);
      if (!v.is_number() || !total.is_number()) fail("sum: unsupported operand types");
      total = total.is_float() || v.is_float() ? Value(total.number_value() + v.number_value()) : Value(total.int_value() + v.int_value());
    }
    return total;
  }
  if (name == "attr") return interp.get_attr(operand, args.get(0, "name", Value("")).str());
  if (name == "wordcount") return Value(static_cast<int64_t>(python_split(operand.str(), nullptr, -1, false).size()));
  if (name == "center") {
    const Value width = args.get(0, "width", Value(80));
    const std::string s = operand.str();
    const int64_t total = width.is_int() ? std::min<int64_t>(width.as_int(), 100000) : 80;
    const auto length = static_cast<int64_t>(utf8_length(s));
    if (total <= length) return Value(s);
    const int64_t pad = total - length;
    const int64_t left = pad / 2 + (pad & total & 1);
    return Value(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(pad - left), ' '));
  }
  fail("No filter named '" + std::string(name) + "'.");
}

}  // namespace tessera::jinja
