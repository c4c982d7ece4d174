// JSON schema -> GBNF text. One rule per schema node (named after its path), shared primitives
// under the prefix, integer ranges as digit-range alternatives.
#include "grammar/json_schema.h"

#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "grammar/gbnf.h"
#include "grammar/regex.h"
#include "base/check.h"

namespace tessera::grammar {
namespace {

// ordered_json: objects keep the schema's key order, so properties come out in the order written
// (a field meant to come first, such as "reasoning" before "answer", does).
using json = nlohmann::ordered_json;

constexpr int kMaxSchemaDepth = 64;
constexpr int kOpenIntegerDigits = 16;

// The characters of a JSON string (inside the quotes), one per repetition: ASCII other than
// '"', '\\' and controls, any non-ASCII code point, or an escape (\u escapes of UTF-16
// surrogates excluded: a lone one is not valid JSON text for most parsers).
constexpr const char* kStringChar =
    R"([^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" ([0-9a-cA-CeEfF] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2})))";

// Digit strings of equal length, lo <= hi: a GBNF expression matching exactly [lo, hi].
std::string same_length_range(const std::string& lo, const std::string& hi) {
  const size_t n = lo.size();
  if (n == 0) return "\"\"";
  auto digits = [](char a, char b) {
    return a == b ? std::string("\"") + a + "\"" : std::string("[") + a + "-" + b + "]";
  };
  const std::string any_rest = n > 1 ? " [0-9]{" + std::to_string(n - 1) + "}" : "";
  if (lo[0] == hi[0]) {
    return n == 1 ? digits(lo[0], hi[0]) : digits(lo[0], lo[0]) + " (" + same_length_range(lo.substr(1), hi.substr(1)) + ")";
  }
  if (lo.find_first_not_of('0', 1) == std::string::npos && hi.find_first_not_of('9', 1) == std::string::npos) {
    return digits(lo[0], hi[0]) + any_rest;
  }
  std::vector<std::string> alts;
  alts.push_back(digits(lo[0], lo[0]) + " (" + same_length_range(lo.substr(1), std::string(n - 1, '9')) + ")");
  if (lo[0] + 1 <= hi[0] - 1) alts.push_back(digits(static_cast<char>(lo[0] + 1), static_cast<char>(hi[0] - 1)) + any_rest);
  alts.push_back(digits(hi[0], hi[0]) + " (" + same_length_range(std::string(n - 1, '0'), hi.substr(1)) + ")");
  std::string out;
  for (const auto& a : alts) out += (out.empty() ? "" : " | ") + a;
  return out;
}

// Non-negative integers in [lo, hi] without leading zeros.
std::string unsigned_range(uint64_t lo, uint64_t hi) {
  std::vector<std::string> alts;
  const std::string lo_s = std::to_string(lo), hi_s = std::to_string(hi);
  for (size_t d = lo_s.size(); d <= hi_s.size(); ++d) {
    const std::string a = d == lo_s.size() ? lo_s : "1" + std::string(d - 1, '0');
    const std::string b = d == hi_s.size() ? hi_s : std::string(d, '9');
    alts.push_back("(" + same_length_range(a, b) + ")");
  }
  std::string out;
  for (const auto& a : alts) out += (out.empty() ? "" : " | ") + a;
  return out;
}

uint64_t open_limit(size_t digits) {
  uint64_t v = 1;
  for (size_t i = 0; i < digits; ++i) v *= 10;
  return v - 1;
}

}  // namespace

std::string integer_range_gbnf(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  std::vector<std::string> alts;
  // Negative part: -(magnitudes in [max(1, -hi), -lo]).
  if (!lo || *lo < 0) {
    const uint64_t mag_lo = hi && *hi < 0 ? static_cast<uint64_t>(-(*hi + 1)) + 1 : 1;
    const uint64_t mag_hi = lo ? static_cast<uint64_t>(-(*lo + 1)) + 1
                               : std::max(open_limit(kOpenIntegerDigits), mag_lo);
    if (mag_lo <= mag_hi) alts.push_back("\"-\" (" + unsigned_range(mag_lo, mag_hi) + ")");
  }
  if (!hi || *hi >= 0) {
    const uint64_t a = lo && *lo > 0 ? static_cast<uint64_t>(*lo) : 0;
    const uint64_t b = hi ? static_cast<uint64_t>(*hi) : std::max(open_limit(kOpenIntegerDigits), a);
    if (a <= b) alts.push_back(unsigned_range(a, b));
  }
  if (alts.empty()) return "[^\\x00-\\xFF]";  // an empty range: matches nothing
  std::string out;
  for (const auto& a : alts) out += (out.empty() ? "" : " | ") + a;
  return out;
}

// NOTE: the exponent has at most 2 digits, so every number parses as a finite double (a noise
// model otherwise writes 8e5555..., valid JSON that JSON libraries refuse as an overflow).
std::string json_shared_rules(const std::string& p) {
  return p + "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n" +
         p + "value ::= " + p + "object | " + p + "array | " + p + "string | " + p + "number | " + p + "boolean | " + p + "null\n" +
         p + "object ::= \"{\" " + p + "ws ( " + p + "string \":\" " + p + "ws " + p + "value ( \",\" " + p + "ws " + p + "string \":\" " + p + "ws " + p + "value )* )? \"}\" " + p + "ws\n" +
         p + "array ::= \"[\" " + p + "ws ( " + p + "value ( \",\" " + p + "ws " + p + "value )* )? \"]\" " + p + "ws\n" +
         p + "string ::= \"\\\"\" ( " + kStringChar + " )* \"\\\"\" " + p + "ws\n" +
         p + "integral ::= \"-\"? ([0-9] | [1-9] [0-9]{0,15})\n" +
         p + "number ::= " + p + "integral (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})? " + p + "ws\n" +
         p + "integer ::= " + p + "integral " + p + "ws\n" +
         p + "boolean ::= (\"true\" | \"false\") " + p + "ws\n" +
         p + "null ::= \"null\" " + p + "ws\n";
}

namespace {

class SchemaConverter {
 public:
  SchemaConverter(const json& root, std::string prefix) : root_(root), p_(std::move(prefix)) {}

  Expected<std::string> convert() {
    TS_ASSIGN_OR_RETURN(std::string body, expression(root_, "root", 0));
    std::string out = p_ + "root ::= " + body + "\n";
    for (const auto& [name, rule] : rules_) out += name + " ::= " + rule + "\n";
    return out + json_shared_rules(p_);
  }

 private:
  const json& root_;
  std::string p_;
  std::map<std::string, std::string> rules_;     // name -> body
  std::map<std::string, std::string> ref_rules_;  // "$ref" -> rule name

  std::string ws() const { return p_ + "ws"; }

  // Adds a rule for `body` named after `hint`; returns its name.
  std::string add_rule(const std::string& hint, const std::string& body) {
    std::string name;
    for (char c : hint) name += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '-';
    name = p_ + name;
    std::string unique = name;
    for (int i = 2; rules_.count(unique) || unique == p_ + "root"; ++i) unique = name + "-" + std::to_string(i);
    rules_[unique] = body;
    return unique;
  }

  Status error(const std::string& where, const std::string& message) const {
    return invalid_argument("JSON schema at " + where + ": " + message);
  }

  Expected<const json*> resolve(const std::string& ref, const std::string& where) const {
    std::string path;
    if (ref.rfind("#/$defs/", 0) == 0 || ref.rfind("#/definitions/", 0) == 0) {
      path = ref.substr(1);
    } else if (ref == "#") {
      return &root_;
    } else {
      return error(where, "unsupported $ref '" + ref + "' (only #/$defs/... and #/definitions/...)");
    }
    try {
      const json& target = root_.at(json::json_pointer(path));
      return &target;
    } catch (const std::exception&) {
      return error(where, "$ref '" + ref + "' does not exist");
    }
  }

  // A GBNF expression matching the schema's values (each followed by bounded whitespace).
  Expected<std::string> expression(const json& s, const std::string& where, int depth) {
    if (depth > kMaxSchemaDepth) return error(where, "nested too deeply");
    if (s.is_boolean()) {
      if (s.get<bool>()) return p_ + "value";
      return error(where, "schema 'false' matches nothing");
    }
    if (!s.is_object()) return error(where, "a schema must be an object or a boolean");
    for (const char* key : {"not", "if", "then", "else", "patternProperties", "contains", "multipleOf", "dependentRequired",
                            "dependentSchemas", "propertyNames", "unevaluatedProperties", "unevaluatedItems"}) {
      if (s.contains(key)) return error(where, std::string("'") + key + "' is not supported");
    }
    if (s.contains("$ref")) {
      if (!s["$ref"].is_string()) return error(where, "$ref must be a string");
      const std::string ref = s["$ref"].get<std::string>();
      auto it = ref_rules_.find(ref);
      if (it != ref_rules_.end()) return it->second;
      TS_ASSIGN_OR_RETURN(const json* target, resolve(ref, where));
      const std::string name = add_rule("ref-" + ref.substr(ref.rfind('/') + 1), "");
      ref_rules_[ref] = name;
      TS_ASSIGN_OR_RETURN(std::string body, expression(*target, ref, depth + 1));
      rules_[name] = body;
      return name;
    }
    if (s.contains("const")) return gbnf_literal(s["const"].dump()) + " " + ws();
    if (s.contains("enum")) {
      if (!s["enum"].is_array() || s["enum"].empty()) return error(where, "enum must be a non-empty array");
      std::string out;
      for (const auto& v : s["enum"]) out += (out.empty() ? "" : " | ") + gbnf_literal(v.dump());
      return "(" + out + ") " + ws();
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!s.contains(key)) continue;
      if (!s[key].is_array() || s[key].empty()) return error(where, std::string(key) + " must be a non-empty array");
      std::string out;
      for (size_t i = 0; i < s[key].size(); ++i) {
        json sub = s[key][i];
        // Sibling keywords (e.g. a shared "type" or "properties") apply to every branch.
        if (sub.is_object()) {
          for (const auto& [k, v] : s.items()) {
            if (k != key && !sub.contains(k)) sub[k] = v;
          }
        }
        TS_ASSIGN_OR_RETURN(std::string e, expression(sub, where + "/" + key + "/" + std::to_string(i), depth + 1));
        out += (out.empty() ? "" : " | ") + rule_for(where + "-" + key + std::to_string(i), e);
      }
      return "(" + out + ")";
    }
    if (s.contains("allOf")) {
      if (!s["allOf"].is_array()) return error(where, "allOf must be an array");
      json merged = s;
      merged.erase("allOf");
      for (const auto& part_in : s["allOf"]) {
        const json* part = &part_in;
        if (part->is_object() && part->contains("$ref") && (*part)["$ref"].is_string()) {
          TS_ASSIGN_OR_RETURN(part, resolve((*part)["$ref"].get<std::string>(), where));
        }
        if (!part->is_object()) return error(where, "allOf parts must be objects");
        for (const auto& [k, v] : part->items()) {
          if (k == "properties" && v.is_object()) {
            for (const auto& [pk, pv] : v.items()) merged["properties"][pk] = pv;
          } else if (k == "required" && v.is_array()) {
            for (const auto& r : v) merged["required"].push_back(r);
          } else {
            merged[k] = v;
          }
        }
      }
      return expression(merged, where, depth + 1);
    }
    json type = s.value("type", json());
    if (type.is_null()) {
      if (s.contains("properties") || s.contains("additionalProperties")) type = "object";
      else if (s.contains("items") || s.contains("prefixItems")) type = "array";
      else if (s.contains("pattern") || s.contains("minLength") || s.contains("maxLength") || s.contains("format")) type = "string";
      else return p_ + "value";
    }
    if (s.value("nullable", false) == true) {
      if (type.is_string()) type = json::array({type, "null"});
      else if (type.is_array()) type.push_back("null");
    }
    if (type.is_array()) {
      if (type.empty()) return error(where, "empty type array");
      std::string out;
      for (const auto& t : type) {
        json sub = s;
        sub["type"] = t;
        sub.erase("nullable");
        TS_ASSIGN_OR_RETURN(std::string e, expression(sub, where, depth + 1));
        out += (out.empty() ? "" : " | ") + rule_for(where + "-" + t.get<std::string>(), e);
      }
      return "(" + out + ")";
    }
    if (!type.is_string()) return error(where, "type must be a string or an array of strings");
    const std::string t = type.get<std::string>();
    if (t == "object") return object(s, where, depth);
    if (t == "array") return array(s, where, depth);
    if (t == "string") return string(s, where);
    if (t == "integer") return integer(s, where);
    if (t == "number") return number(s, where);
    if (t == "boolean") return p_ + "boolean";
    if (t == "null") return p_ + "null";
    return error(where, "unknown type '" + t + "'");
  }

  // A rule name for the expression (short ones stay inline).
  std::string rule_for(const std::string& hint, const std::string& e) {
    if (e.find(' ') == std::string::npos) return e;
    return add_rule(hint, e);
  }

  Expected<std::string> object(const json& s, const std::string& where, int depth) {
    const json props = s.value("properties", json::object());
    if (!props.is_object()) return error(where, "properties must be an object");
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) return error(where, "required must be an array");
      for (const auto& r : s["required"]) {
        if (!r.is_string()) return error(where, "required entries must be strings");
        required.insert(r.get<std::string>());
      }
    }
    json additional = s.value("additionalProperties", json(props.empty() && !s.contains("properties")));
    std::string extra;  // one additional "key": value, or "" when none are allowed
    if (!(additional.is_boolean() && !additional.get<bool>())) {
      std::string value = p_ + "value";
      if (!additional.is_boolean()) {
        TS_ASSIGN_OR_RETURN(value, expression(additional, where + "/additionalProperties", depth + 1));
      }
      extra = add_rule(where + "-additional-kv", p_ + "string \":\" " + ws() + " " + value);
    }
    std::vector<std::pair<std::string, std::string>> kvs;  // (key, rule of "key": value)
    for (const auto& [key, sub] : props.items()) {
      TS_ASSIGN_OR_RETURN(std::string value, expression(sub, where + "/properties/" + key, depth + 1));
      kvs.emplace_back(key, add_rule(where + "-" + key + "-kv", gbnf_literal(json(key).dump()) + " " + ws() + " \":\" " + ws() + " " + value));
    }
    for (const auto& r : required) {
      if (!props.contains(r)) return error(where, "required property '" + r + "' is not in properties");
    }
    // rest(i, first): the members from property i on; `first` when nothing was written before.
    const std::string sep = "\",\" " + ws() + " ";
    std::string extras_first = extra.empty() ? "\"\"" : "(" + extra + " (" + sep + extra + ")*)?";
    std::string extras_after = extra.empty() ? "\"\"" : "(" + sep + extra + ")*";
    std::string next_first = extras_first, next_after = extras_after;
    for (size_t i = kvs.size(); i-- > 0;) {
      const auto& [key, kv] = kvs[i];
      std::string after = sep + kv + " " + next_after;
      std::string first = kv + " " + next_after;
      if (!required.count(key)) {
        after = "(" + after + ") | " + next_after;
        first = "(" + first + ") | " + next_first;
      }
      next_after = add_rule(where + "-rest" + std::to_string(i), after);
      next_first = add_rule(where + "-first" + std::to_string(i), first);
    }
    return "\"{\" " + ws() + " " + next_first + " \"}\" " + ws();
  }

  Expected<std::string> array(const json& s, const std::string& where, int depth) {
    const int64_t min_items = s.value("minItems", int64_t{0});
    const int64_t max_items = s.contains("maxItems") && s["maxItems"].is_number() ? s["maxItems"].get<int64_t>() : -1;
    if (min_items < 0 || (max_items >= 0 && max_items < min_items)) return error(where, "minItems/maxItems out of order");
    if (min_items > 10000 || max_items > 10000) return error(where, "minItems/maxItems over 10000");
    std::vector<std::string> prefix;
    if (s.contains("prefixItems")) {
      if (!s["prefixItems"].is_array()) return error(where, "prefixItems must be an array");
      for (size_t i = 0; i < s["prefixItems"].size(); ++i) {
        TS_ASSIGN_OR_RETURN(std::string e, expression(s["prefixItems"][i], where + "/prefixItems/" + std::to_string(i), depth + 1));
        prefix.push_back(rule_for(where + "-item" + std::to_string(i), e));
      }
    }
    std::string item;
    const json items = s.value("items", json(prefix.empty()));
    if (!(items.is_boolean() && !items.get<bool>())) {
      TS_ASSIGN_OR_RETURN(std::string e, expression(items, where + "/items", depth + 1));
      item = rule_for(where + "-item", e);
    }
    const std::string sep = "\",\" " + ws() + " ";
    const auto k = static_cast<int64_t>(prefix.size());
    if (max_items >= 0 && max_items < k) return error(where, "maxItems is below the number of prefixItems");
    std::string body;
    for (size_t i = 0; i < prefix.size(); ++i) body += (i ? " " + sep : "") + prefix[i];
    if (!item.empty()) {
      const int64_t lo = std::max<int64_t>(0, min_items - k);
      const int64_t hi = max_items < 0 ? -1 : max_items - k;
      if (hi != 0) {
        if (k > 0) {  // each extra item follows a comma
          body += " (" + sep + item + "){" + std::to_string(lo) + "," + (hi < 0 ? "" : std::to_string(hi)) + "}";
        } else {  // item ("," item){lo-1, hi-1}, optional when lo == 0
          const std::string tail = "(" + sep + item + "){" + std::to_string(std::max<int64_t>(lo - 1, 0)) + "," +
                                   (hi < 0 ? "" : std::to_string(hi - 1)) + "}";
          body = lo == 0 ? "(" + item + " " + tail + ")?" : item + " " + tail;
        }
      }
    } else if (min_items > k) {
      return error(where, "minItems needs more items than prefixItems allows");
    }
    if (body.empty()) body = "\"\"";
    return "\"[\" " + ws() + " " + body + " \"]\" " + ws();
  }

  Expected<std::string> string(const json& s, const std::string& where) {
    if (s.contains("pattern")) {
      if (!s["pattern"].is_string()) return error(where, "pattern must be a string");
      std::string pattern = s["pattern"].get<std::string>();
      auto e = regex_to_gbnf(pattern);
      if (!e.ok()) return error(where, e.status().message());
      return "\"\\\"\" " + rule_for(where + "-pattern", *e) + " \"\\\"\" " + ws();
    }
    if (s.contains("format") && s["format"].is_string()) {
      const std::string f = s["format"].get<std::string>();
      const std::string date = R"([0-9]{4} "-" ("0" [1-9] | "1" [0-2]) "-" ("0" [1-9] | [12] [0-9] | "3" [01]))";
      const std::string time =
          R"(([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,9})? ("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9]))";
      std::string body;
      if (f == "date") body = date;
      else if (f == "time") body = time;
      else if (f == "date-time") body = date + " \"T\" " + time;
      else if (f == "uuid") body = R"([0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12})";
      if (!body.empty()) return "\"\\\"\" " + add_rule(where + "-" + f, body) + " \"\\\"\" " + ws();
    }
    const int64_t min_len = s.value("minLength", int64_t{0});
    const int64_t max_len = s.contains("maxLength") && s["maxLength"].is_number() ? s["maxLength"].get<int64_t>() : -1;
    if (min_len < 0 || (max_len >= 0 && max_len < min_len)) return error(where, "minLength/maxLength out of order");
    if (min_len > 10000 || max_len > 10000) return error(where, "minLength/maxLength over 10000");
    if (min_len == 0 && max_len < 0) return p_ + "string";
    return "\"\\\"\" (" + std::string(kStringChar) + "){" + std::to_string(min_len) + "," +
           (max_len < 0 ? "" : std::to_string(max_len)) + "} \"\\\"\" " + ws();
  }

  // Inclusive integer bounds from minimum/maximum/exclusive* (fractional bounds rounded inward).
  Status integer_bounds(const json& s, const std::string& where, std::optional<int64_t>& lo, std::optional<int64_t>& hi) {
    auto get = [&](const char* key, std::optional<double>& out) -> Status {
      if (!s.contains(key)) return Status::ok_status();
      if (s[key].is_boolean()) return Status::ok_status();  // draft-4 style flags, read below
      if (!s[key].is_number()) return error(where, std::string(key) + " must be a number");
      out = s[key].get<double>();
      return Status::ok_status();
    };
    std::optional<double> min, max, xmin, xmax;
    TS_RETURN_IF_ERROR(get("minimum", min));
    TS_RETURN_IF_ERROR(get("maximum", max));
    TS_RETURN_IF_ERROR(get("exclusiveMinimum", xmin));
    TS_RETURN_IF_ERROR(get("exclusiveMaximum", xmax));
    if (s.value("exclusiveMinimum", json()).is_boolean() && s["exclusiveMinimum"].get<bool>() && min) xmin = min, min.reset();
    if (s.value("exclusiveMaximum", json()).is_boolean() && s["exclusiveMaximum"].get<bool>() && max) xmax = max, max.reset();
    constexpr double kLimit = 9e18;
    auto clamp = [&](double v) { return static_cast<int64_t>(std::max(-kLimit, std::min(kLimit, v))); };
    if (min) lo = clamp(std::ceil(*min));
    if (xmin) lo = std::max(lo.value_or(INT64_MIN), clamp(std::floor(*xmin) + 1));
    if (max) hi = clamp(std::floor(*max));
    if (xmax) hi = std::min(hi.value_or(INT64_MAX), clamp(std::ceil(*xmax) - 1));
    if (lo && hi && *lo > *hi) return error(where, "no integer satisfies the bounds");
    return Status::ok_status();
  }

  Expected<std::string> integer(const json& s, const std::string& where) {
    std::optional<int64_t> lo, hi;
    TS_RETURN_IF_ERROR(integer_bounds(s, where, lo, hi));
    if (!lo && !hi) return p_ + "integer";
    return "(" + add_rule(where + "-int", integer_range_gbnf(lo, hi)) + ") " + ws();
  }

  Expected<std::string> number(const json& s, const std::string& where) {
    std::optional<int64_t> lo, hi;
    TS_RETURN_IF_ERROR(integer_bounds(s, where, lo, hi));
    if (!lo && !hi) return p_ + "number";
    // Integer part k with any fraction keeps the value in range when k >= 0 and k + 1 <= hi, or
    // when k < 0 and k - 1 >= lo; otherwise only a zero fraction does.
    const std::string fraction = "\".\" [0-9]{1,16}";
    const std::string zeros = "(\".\" \"0\"{1,16})?";
    std::vector<std::string> alts;
    auto add = [&](std::optional<int64_t> a, std::optional<int64_t> b, const std::string& tail) {
      if (a && b && *a > *b) return;
      alts.push_back("(" + add_rule(where + "-num", integer_range_gbnf(a, b)) + ") " + tail);
    };
    // Non-negative integer parts with any fraction: [max(lo, 0), hi - 1].
    std::optional<int64_t> nn_lo = std::max<int64_t>(lo.value_or(0), 0);
    std::optional<int64_t> nn_hi = hi ? std::optional<int64_t>(*hi - 1) : std::nullopt;
    if (!nn_hi || *nn_hi >= *nn_lo) add(nn_lo, nn_hi, fraction);
    // Negative integer parts with any fraction: [lo + 1, min(hi, -1)].
    std::optional<int64_t> ng_lo = lo ? std::optional<int64_t>(*lo + 1) : std::nullopt;
    std::optional<int64_t> ng_hi = std::min<int64_t>(hi.value_or(-1), -1);
    if (!ng_lo || *ng_lo <= *ng_hi) add(ng_lo, ng_hi, fraction);
    add(lo, hi, zeros);
    std::string out;
    for (const auto& a : alts) out += (out.empty() ? "" : " | ") + a;
    return "(" + out + ") " + ws();
  }
};

}  // namespace

Expected<std::string> json_schema_to_gbnf_rules(const nlohmann::ordered_json& schema, const std::string& prefix) {
  for (char c : prefix) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) {
      return invalid_argument("rule name prefix may only hold letters, digits, '-' and '_'");
    }
  }
  return SchemaConverter(schema, prefix).convert();
}

Expected<std::string> json_schema_to_gbnf(const nlohmann::ordered_json& schema) {
  TS_ASSIGN_OR_RETURN(std::string rules, json_schema_to_gbnf_rules(schema, "j-"));
  return "root ::= j-root\n" + rules;
}

Expected<std::shared_ptr<const Grammar>> compile_json_schema(const nlohmann::ordered_json& schema) {
  TS_ASSIGN_OR_RETURN(std::string gbnf, json_schema_to_gbnf(schema));
  return parse_gbnf(gbnf);
}

std::shared_ptr<const Grammar> json_object_grammar() {
  static const std::shared_ptr<const Grammar> grammar = [] {
    auto g = parse_gbnf("root ::= j-object\n" + json_shared_rules("j-"));
    TS_CHECK(g.ok(), "json_object grammar: %s", g.status().message().c_str());
    return *g;
  }();
  return grammar;
}

}  // namespace tessera::grammar
