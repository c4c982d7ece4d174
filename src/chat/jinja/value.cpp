// Python semantics of Jinja values: truthiness, str/repr, equality, ordering, iteration.
#include "chat/jinja/value.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace tessera::jinja {

void fail(const std::string& message) { throw TemplateError(message); }

const Value* DictData::find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k.is_string() && k.as_string() == key) return &v;
  }
  return nullptr;
}

const Value* DictData::find_key(const Value& key) const {
  for (const auto& [k, v] : entries) {
    if (values_equal(k, key)) return &v;
  }
  return nullptr;
}

void DictData::set(Value key, Value value) {
  for (auto& [k, v] : entries) {
    if (values_equal(k, key)) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

Value Value::list(std::vector<Value> items, ListStyle style) {
  auto data = std::make_shared<ListData>();
  data->items = std::move(items);
  data->style = style;
  return Value(std::move(data));
}

bool Value::truthy() const {
  if (is_undefined() || is_none()) return false;
  if (is_bool()) return as_bool();
  if (is_int()) return as_int() != 0;
  if (is_float()) return as_float() != 0.0;
  if (is_string()) return !as_string().empty();
  if (is_list()) return as_list().style == ListStyle::kGenerator || !as_list().items.empty();
  if (is_dict()) return !as_dict().entries.empty();
  return true;  // namespaces and callables
}

std::string_view Value::type_name() const {
  if (is_undefined()) return "Undefined";
  if (is_none()) return "NoneType";
  if (is_bool()) return "bool";
  if (is_int()) return "int";
  if (is_float()) return "float";
  if (is_string()) return "str";
  if (is_list()) {
    switch (as_list().style) {
      case ListStyle::kList: return "list";
      case ListStyle::kTuple: return "tuple";
      case ListStyle::kGenerator: return "generator";
    }
  }
  if (is_dict()) return "dict";
  if (is_namespace()) return "Namespace";
  return "function";
}

namespace {

std::string items_repr(const std::vector<Value>& items, ListStyle style) {
  if (style == ListStyle::kGenerator) return "<generator object>";
  const bool tuple = style == ListStyle::kTuple;
  std::string out = tuple ? "(" : "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += items[i].repr();
  }
  if (tuple && items.size() == 1) out += ",";
  out += tuple ? ")" : "]";
  return out;
}

std::string dict_repr(const DictData& dict) {
  std::string out = "{";
  for (size_t i = 0; i < dict.entries.size(); ++i) {
    if (i > 0) out += ", ";
    out += dict.entries[i].first.repr() + ": " + dict.entries[i].second.repr();
  }
  return out + "}";
}

}  // namespace

std::string Value::str() const {
  if (is_undefined()) return "";
  if (is_none()) return "None";
  if (is_bool()) return as_bool() ? "True" : "False";
  if (is_int()) return std::to_string(as_int());
  if (is_float()) return python_float_repr(as_float());
  if (is_string()) return as_string();
  if (is_list()) return items_repr(as_list().items, as_list().style);
  if (is_dict()) return dict_repr(as_dict());
  if (is_namespace()) return "<Namespace " + dict_repr(as_namespace().attrs) + ">";
  return "<function " + as_callable().name + ">";
}

std::string Value::repr() const { return is_string() ? python_string_repr(as_string()) : str(); }

std::string python_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, end);  // "-d.ddde+XX": the shortest digits that round-trip
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const size_t e = sci.find('e');
  const int exponent = std::atoi(sci.c_str() + e + 1);
  std::string digits = sci.substr(0, e);
  if (digits.size() > 1) digits.erase(1, 1);  // drop the '.'
  const int decimal_point = exponent + 1;     // digits before the point
  std::string out;
  if (decimal_point > 16 || decimal_point <= -4) {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    const int magnitude = std::abs(exponent);
    out += exponent < 0 ? "e-" : "e+";
    if (magnitude < 10) out += "0";
    out += std::to_string(magnitude);
  } else if (decimal_point <= 0) {
    out = "0." + std::string(static_cast<size_t>(-decimal_point), '0') + digits;
  } else if (static_cast<size_t>(decimal_point) >= digits.size()) {
    out = digits + std::string(static_cast<size_t>(decimal_point) - digits.size(), '0') + ".0";
  } else {
    out = digits.substr(0, static_cast<size_t>(decimal_point)) + "." + digits.substr(static_cast<size_t>(decimal_point));
  }
  return sign + out;
}

std::string python_string_repr(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  static const char* kHex = "0123456789abcdef";
  for (std::string_view ch : utf8_chars(s)) {
    const auto c = static_cast<unsigned char>(ch[0]);
    if (ch.size() == 1) {
      if (c == '\\') out += "\\\\";
      else if (c == static_cast<unsigned char>(quote)) out += std::string("\\") + quote;
      else if (c == '\n') out += "\\n";
      else if (c == '\r') out += "\\r";
      else if (c == '\t') out += "\\t";
      else if (c < 0x20 || c == 0x7f) out += std::string("\\x") + kHex[c >> 4] + kHex[c & 15];
      else out += ch;
    } else if (ch.size() == 2 && c == 0xc2 && static_cast<unsigned char>(ch[1]) <= 0xa0) {
      const auto low = static_cast<unsigned char>(ch[1]);  // C1 controls and NBSP are not printable
      out += std::string("\\x") + kHex[low >> 4] + kHex[low & 15];
    } else {
      out += ch;
    }
  }
  return out + quote;
}

bool values_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.number_value() == b.number_value();
    return a.int_value() == b.int_value();
  }
  if (a.is_string() && b.is_string()) return a.as_string() == b.as_string();
  if (a.is_undefined() || b.is_undefined()) return a.is_undefined() && b.is_undefined();
  if (a.is_none() || b.is_none()) return a.is_none() && b.is_none();
  if (a.is_list() && b.is_list()) {
    const ListData& x = a.as_list();
    const ListData& y = b.as_list();
    if (&x == &y) return true;
    if ((x.style == ListStyle::kTuple) != (y.style == ListStyle::kTuple) || x.items.size() != y.items.size()) return false;
    for (size_t i = 0; i < x.items.size(); ++i) {
      if (!values_equal(x.items[i], y.items[i])) return false;
    }
    return true;
  }
  if (a.is_dict() && b.is_dict()) {
    const DictData& x = a.as_dict();
    const DictData& y = b.as_dict();
    if (x.entries.size() != y.entries.size()) return false;
    for (const auto& [k, v] : x.entries) {
      const Value* other = y.find_key(k);
      if (other == nullptr || !values_equal(v, *other)) return false;
    }
    return true;
  }
  if (a.is_namespace() && b.is_namespace()) return &a.as_namespace() == &b.as_namespace();
  if (a.is_callable() && b.is_callable()) return &a.as_callable() == &b.as_callable();
  return false;
}

bool value_less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.number_value() < b.number_value();
    return a.int_value() < b.int_value();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.is_list() && b.is_list() && !a.is_generator() && !b.is_generator()) {
    const auto& x = a.as_list().items;
    const auto& y = b.as_list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!values_equal(x[i], y[i])) return value_less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  fail("'<' not supported between instances of '" + std::string(a.type_name()) + "' and '" +
       std::string(b.type_name()) + "'");
}

std::vector<Value> iterate(const Value& v) {
  if (v.is_undefined()) return {};
  if (v.is_list()) return v.as_list().items;
  if (v.is_dict()) {
    std::vector<Value> keys;
    keys.reserve(v.as_dict().entries.size());
    for (const auto& entry : v.as_dict().entries) keys.push_back(entry.first);
    return keys;
  }
  if (v.is_string()) {
    std::vector<Value> chars;
    for (std::string_view ch : utf8_chars(v.as_string())) chars.emplace_back(ch);
    return chars;
  }
  fail("'" + std::string(v.type_name()) + "' object is not iterable");
}

std::vector<std::string_view> utf8_chars(std::string_view s) {
  std::vector<std::string_view> chars;
  chars.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (c >= 0x80 && c < 0xc0) n = 1;  // a stray continuation byte stands alone
    // Invalid sequences never swallow the bytes after them.
    size_t j = 1;
    while (j < n && i + j < s.size() && (static_cast<unsigned char>(s[i + j]) & 0xc0) == 0x80) ++j;
    chars.push_back(s.substr(i, j));
    i += j;
  }
  return chars;
}

size_t utf8_length(std::string_view s) { return utf8_chars(s).size(); }

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

}  // namespace tessera::jinja
