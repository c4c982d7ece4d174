// The test-side JSON schema validator (see json_schema_validator.h).
#include "json_schema_validator.h"

#include <cmath>
#include <regex>
#include <set>

namespace tessera::testing {
namespace {

using nlohmann::json;

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool type_matches(const json& v, const std::string& t) {
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  if (t == "string") return v.is_string();
  if (t == "boolean") return v.is_boolean();
  if (t == "null") return v.is_null();
  if (t == "integer") return v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
  if (t == "number") return v.is_number();
  return false;
}

bool full_match(const std::string& text, const std::string& pattern) {
  return std::regex_match(text, std::regex(pattern, std::regex::ECMAScript));
}

std::string check_format(const std::string& s, const std::string& format) {
  const std::string date = R"(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]))";
  const std::string time = R"(([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d))";
  std::string pattern;
  if (format == "date") pattern = date;
  else if (format == "time") pattern = time;
  else if (format == "date-time") pattern = date + "T" + time;
  else if (format == "uuid") pattern = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
  else return "";
  return full_match(s, pattern) ? "" : "'" + s + "' is not a " + format;
}

}  // namespace

std::string validate_json(const json& v, const json& schema, const json& root, bool strict) {
  if (schema.is_boolean()) return schema.get<bool>() ? "" : "schema false";
  if (schema.contains("$ref")) {
    const std::string ref = schema["$ref"];
    const json& target = ref == "#" ? root : root.at(json::json_pointer(ref.substr(1)));
    return validate_json(v, target, root, strict);
  }
  if (schema.contains("const") && v != schema["const"]) return v.dump() + " != const " + schema["const"].dump();
  if (schema.contains("enum")) {
    bool found = false;
    for (const auto& e : schema["enum"]) found |= e == v;
    if (!found) return v.dump() + " not in enum";
  }
  for (const char* key : {"anyOf", "oneOf"}) {
    if (!schema.contains(key)) continue;
    json rest = schema;
    rest.erase(key);
    int matched = 0;
    std::string last;
    for (const auto& sub : schema[key]) {
      json merged = sub;
      for (const auto& [k, val] : rest.items()) {
        if (!merged.contains(k)) merged[k] = val;
      }
      last = validate_json(v, merged, root, strict);
      matched += last.empty();
    }
    if (matched == 0) return std::string("no ") + key + " branch matches: " + last;
    return "";
  }
  if (schema.contains("allOf")) {
    for (const auto& sub : schema["allOf"]) {
      // Objects in allOf are merged (the grammar's reading): check each part's own constraints
      // without its key restrictions, then the keys against the union.
      json relaxed = sub.contains("$ref") ? root.at(json::json_pointer(sub["$ref"].get<std::string>().substr(1))) : sub;
      relaxed["additionalProperties"] = true;
      if (auto e = validate_json(v, relaxed, root, strict); !e.empty()) return "allOf: " + e;
    }
    if (v.is_object() && strict) {
      std::set<std::string> keys;
      for (const auto& sub : schema["allOf"]) {
        const json& part = sub.contains("$ref") ? root.at(json::json_pointer(sub["$ref"].get<std::string>().substr(1))) : sub;
        if (part.contains("properties")) {
          for (const auto& [k, _] : part["properties"].items()) keys.insert(k);
        }
      }
      for (const auto& [k, _] : v.items()) {
        if (!keys.count(k)) return "allOf: unexpected key " + k;
      }
    }
  }
  json type = schema.value("type", json());
  if (schema.value("nullable", false) && v.is_null()) return "";
  if (type.is_string()) type = json::array({type});
  if (type.is_array()) {
    bool ok = false;
    for (const auto& t : type) ok |= type_matches(v, t.get<std::string>());
    if (!ok) return v.dump() + " is not of type " + schema["type"].dump();
  }
  if (v.is_object()) {
    const json props = schema.value("properties", json::object());
    for (const auto& r : schema.value("required", json::array())) {
      if (!v.contains(r.get<std::string>())) return "missing required key " + r.get<std::string>();
    }
    const json additional = schema.value("additionalProperties", json(!(strict && schema.contains("properties"))));
    for (const auto& [k, val] : v.items()) {
      if (props.contains(k)) {
        if (auto e = validate_json(val, props[k], root, strict); !e.empty()) return k + ": " + e;
      } else if (additional.is_boolean()) {
        if (!additional.get<bool>()) return "unexpected key " + k;
      } else if (auto e = validate_json(val, additional, root, strict); !e.empty()) {
        return k + ": " + e;
      }
    }
  }
  if (v.is_array()) {
    const size_t n = v.size();
    if (schema.contains("minItems") && n < schema["minItems"].get<size_t>()) return "too few items";
    if (schema.contains("maxItems") && n > schema["maxItems"].get<size_t>()) return "too many items";
    size_t k = 0;
    if (schema.contains("prefixItems")) {
      for (; k < schema["prefixItems"].size() && k < n; ++k) {
        if (auto e = validate_json(v[k], schema["prefixItems"][k], root, strict); !e.empty()) return "item " + std::to_string(k) + ": " + e;
      }
    }
    if (schema.contains("items")) {
      for (; k < n; ++k) {
        if (auto e = validate_json(v[k], schema["items"], root, strict); !e.empty()) return "item " + std::to_string(k) + ": " + e;
      }
    }
  }
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    const size_t len = code_points(s);
    if (schema.contains("minLength") && len < schema["minLength"].get<size_t>()) return "string too short";
    if (schema.contains("maxLength") && len > schema["maxLength"].get<size_t>()) return "string too long";
    if (schema.contains("pattern") && !full_match(s, schema["pattern"].get<std::string>())) return "'" + s + "' does not match the pattern";
    if (schema.contains("format")) {
      if (auto e = check_format(s, schema["format"]); !e.empty()) return e;
    }
  }
  if (v.is_number()) {
    const double x = v.get<double>();
    if (schema.contains("minimum") && x < schema["minimum"].get<double>()) return v.dump() + " < minimum";
    if (schema.contains("maximum") && x > schema["maximum"].get<double>()) return v.dump() + " > maximum";
    if (schema.contains("exclusiveMinimum") && x <= schema["exclusiveMinimum"].get<double>()) return v.dump() + " <= exclusiveMinimum";
    if (schema.contains("exclusiveMaximum") && x >= schema["exclusiveMaximum"].get<double>()) return v.dump() + " >= exclusiveMaximum";
  }
  return "";
}

}  // namespace tessera::testing
